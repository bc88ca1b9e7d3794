"""The original article's checkpoint format: a raw state_dict of a custom module, via --checkpoint."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import AlbertConfig, AlbertModel, AutoTokenizer
from typer.testing import CliRunner

from conftest import ONE_THREAD
from reportgen.cli import app
from reportgen.loading import ModelLoadError, load_model


class AlbertForRegression(nn.Module):
    """As in the article: ``self.albert`` plus a linear head on the pooled output."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__()
        self.albert = AlbertModel(config)
        self.score_head = nn.Linear(config.hidden_size, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.albert(input_ids=input_ids, attention_mask=attention_mask)
        return self.score_head(out.pooler_output)


@pytest.fixture(scope="module")
def article_checkpoint(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, nn.Module]:
    config = AlbertConfig.from_pretrained(tiny_model)
    config._attn_implementation = "eager"
    torch.manual_seed(123)  # different weights from the tiny model's own safetensors
    module = AlbertForRegression(config).eval()
    path = tmp_path_factory.mktemp("article") / "model.pt"
    torch.save(module.state_dict(), path)
    return path, module


TEXTS = ["本日はご来店いただき、誠にありがとうございます。", "今日は来てくれてありがとう。", "これ一つで大丈夫!munaitaカードで贅沢三昧"]


def test_state_dict_round_trip_gives_the_modules_predictions(
    tiny_model: Path, article_checkpoint: tuple[Path, nn.Module], tmp_path: Path
) -> None:
    path, module = article_checkpoint
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    with torch.no_grad():
        expected = [float(module(**tokenizer(t, return_tensors="pt"))[0, 0]) for t in TEXTS]

    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out, table = tmp_path / "r.html", tmp_path / "t.csv"
    result = CliRunner().invoke(
        app,
        ["run", str(source), "--model", str(tiny_model), "--checkpoint", str(path), "--out", str(out), "--csv", str(table),
         *ONE_THREAD],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    got = {int(r["text_id"]): float(r["prediction"]) for r in rows}
    assert got == pytest.approx(dict(enumerate(expected)), rel=1e-5, abs=1e-6)
    html = out.read_text(encoding="utf-8")
    # Named by its file name: the absolute path stays out of a report meant for sharing.
    assert f"<code>{path.name}</code> (article-style state_dict)" in html and str(path.parent) not in html


def test_unmatched_keys_are_listed(tiny_model: Path, article_checkpoint: tuple[Path, nn.Module], tmp_path: Path) -> None:
    path, module = article_checkpoint
    state = module.state_dict()
    state.pop("albert.embeddings.word_embeddings.weight")
    state["albert.extra.weight"] = torch.zeros(2)
    broken = tmp_path / "broken.pt"
    torch.save(state, broken)
    with pytest.raises(ModelLoadError) as err:
        load_model(tiny_model, broken)
    message = str(err.value)
    assert "albert.embeddings.word_embeddings.weight" in message and "albert.extra.weight" in message
    assert "\n" not in message


def test_head_found_under_any_name_and_prefix(tiny_model: Path, article_checkpoint: tuple[Path, nn.Module], tmp_path: Path) -> None:
    path, module = article_checkpoint
    renamed = {("module." + k).replace("score_head", "regressor.out"): v for k, v in module.state_dict().items()}
    alt = tmp_path / "dp.pt"
    torch.save(renamed, alt)
    loaded = load_model(tiny_model, alt)
    assert loaded.info.task == "regression"
    assert torch.equal(loaded.model.classifier.weight, module.score_head.weight)
