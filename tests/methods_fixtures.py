"""Helpers shared by the method and faithfulness tests: load a model, encode, extract, wrap.

Plain functions (not fixtures) so each test module decides its own fixture scope.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from reportgen.extraction import encode_texts, extract
from reportgen.inputs import InputText
from reportgen.loading import load_model
from reportgen.methods import MethodContext

TEXTS = (
    "本日はご来店いただき、誠にありがとうございます。",
    "今日は来てくれてありがとう。",
    "[無料]今すぐ申し込みで最大50,000ポイントもらえる[munaitaカード]",
    "ご",
    "これ一つで大丈夫!munaitaカードで贅沢三昧",
    "お手数ですが、こちらの書類にご記入いただけますでしょうか。悪いけど、この紙に書いてくれる？",
)


def make_context(
    model_dir: Path, texts: Sequence[str] = TEXTS, batch_size: int = 4, ig_steps: int = 16
) -> MethodContext:
    """Texts of different lengths in batches of 4, so every batch holds padding."""
    # One thread: these models are tiny, and two threads on a shared 2-core machine spin-wait.
    torch.set_num_threads(1)
    loaded = load_model(model_dir, device="cpu")
    items = [InputText(i, t, f"t:{i}") for i, t in enumerate(texts)]
    encoded = encode_texts(loaded, items, loaded.info.max_length)
    extractions = extract(loaded, encoded, batch_size=batch_size)
    return MethodContext(loaded, tuple(extractions), batch_size, ig_steps)


def with_batch_size(ctx: MethodContext, batch_size: int, ig_steps: int | None = None) -> MethodContext:
    return MethodContext(
        ctx.loaded, ctx.extractions, batch_size, ig_steps if ig_steps is not None else ctx.ig_steps
    )


def sample_texts(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
