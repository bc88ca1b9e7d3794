"""The report model: everything the page shows, as plain frozen data (no torch, no HTML).

Built from inputs, the model description and extraction results; charts and rendering read
it and compute nothing of their own beyond presentation.
"""

from __future__ import annotations

import base64
import os
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

import numpy as np

from .extraction import QUANT_SCALE, TextExtraction
from .inputs import InputSet, InputText
from .loading import ModelInfo

TOP_TOKENS = 3
SPACE_MARK = "\u2581"  # SentencePiece's word-start marker

DEFINITIONS = (
    ("[CLS] attention", "last layer, mean over heads of A[h, 0, j]: how much [CLS] attends to token j."),
    (
        "attention received",
        "last layer, mean over query positions i of (mean over heads of A[h, i, j]): "
        "how much attention token j receives on average.",
    ),
    (
        "without [CLS]/[SEP]",
        "[CLS] and [SEP] removed as attended-to tokens and each row renormalised to sum to 1, "
        "so the attention sink does not hide the content tokens. Query rows are kept.",
    ),
    (
        "heads",
        "the original article summed the heads; reportgen averages them, so each row sums to 1. "
        "Padding never enters any number: every matrix covers the text's real tokens only.",
    ),
)


@dataclass(frozen=True)
class RunInfo:
    title: str
    created: str
    """ISO time of the run (from SOURCE_DATE_EPOCH when set, for reproducible output)."""
    command: str
    versions: tuple[tuple[str, str], ...]
    inputs: tuple[str, ...]
    skipped_blank: int
    max_length: int
    batch_size: int
    device: str


@dataclass(frozen=True)
class Token:
    position: int
    piece: str
    """The tokenizer's own piece, e.g. ``▁ござい``."""
    label: str
    """What the reader sees: the piece without SentencePiece's ``▁``."""
    special: bool


@dataclass(frozen=True)
class Span:
    """A run of the original text, with the score of the token that covers it (if any)."""

    text: str
    score: float | None
    token: str | None
    shade: float = 0.0
    """``score`` relative to the text's highest score, in [0, 1]: how dark to colour it."""


@dataclass(frozen=True)
class TextReport:
    text_id: int
    text: str
    source: str
    gold: float | None
    output: tuple[float, ...]
    prediction: float
    predicted_label: str | None
    tokens: tuple[Token, ...]
    truncated: bool
    full_length: int
    cls_attention: tuple[float, ...]
    mean_received: tuple[float, ...]
    top_tokens: tuple[str, ...]
    spans: tuple[Span, ...]
    """The whole text up to the end of the last kept token (all of it unless truncated)."""
    dropped: str
    """The end of the text that truncation left out ("" when nothing was cut)."""
    num_layers: int
    num_heads: int
    attention_b64: str
    """Every layer and head, uint16 little-endian, ``(layers, heads, n, n)``, base64."""

    @property
    def error(self) -> float | None:
        return None if self.gold is None else self.prediction - self.gold


@dataclass(frozen=True)
class Report:
    run: RunInfo
    model: ModelInfo
    texts: tuple[TextReport, ...]
    definitions: tuple[tuple[str, str], ...] = DEFINITIONS

    @property
    def truncated_count(self) -> int:
        return sum(t.truncated for t in self.texts)

    @property
    def has_gold(self) -> bool:
        return any(t.gold is not None for t in self.texts)

    @property
    def quant_scale(self) -> int:
        return QUANT_SCALE


def run_time() -> datetime:
    """Now, or SOURCE_DATE_EPOCH when it is set (reproducible builds convention)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return datetime.now(tz=timezone.utc).replace(microsecond=0)


def software_versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    names = ("reportgen", "torch", "transformers", "tokenizers", "altair", "vl-convert-python", "jinja2")
    found = [("python", platform.python_version())]
    for name in names:
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            found.append((name, "not installed"))
    return tuple(found)


def display_label(piece: str) -> str:
    label = piece.replace(SPACE_MARK, "")
    return label if label else SPACE_MARK


def token_labels(text: str, pieces: Sequence[str], offsets: Sequence[tuple[int, int]] | None, special: Sequence[bool]) -> list[str]:
    """What the reader sees per token: the characters of the text it covers.

    Taken from the text rather than the vocabulary so that ``<unk>`` pieces and normalised
    characters show as written; special tokens and SentencePiece's lone ``▁`` keep their piece.
    """
    labels = []
    for i, piece in enumerate(pieces):
        label = display_label(piece)
        if offsets is not None and not special[i] and label != SPACE_MARK:
            start, end = offsets[i]
            if end > start:
                label = text[start:end]
        labels.append(label)
    return labels


def build_text_report(item: InputText, result: TextExtraction) -> TextReport:
    enc = result.encoded
    special = np.array(enc.special, dtype=bool)
    cls = result.cls_attention.astype(np.float64)
    received = result.mean_received.astype(np.float64)
    labels = token_labels(item.text, enc.tokens, enc.offsets, enc.special)
    tokens = tuple(
        Token(position=i, piece=piece, label=labels[i], special=bool(special[i]))
        for i, piece in enumerate(enc.tokens)
    )
    content_cls = np.where(special, 0.0, cls)
    order = [i for i in np.argsort(-content_cls, kind="stable") if not special[i]]
    top = tuple(tokens[i].label for i in order[:TOP_TOKENS])
    total = content_cls.sum()
    scores = content_cls / total if total > 0 else content_cls
    heads = np.ascontiguousarray(result.heads_q, dtype="<u2")
    spans, covered = split_spans(item.text, enc.offsets, enc.special, enc.tokens, scores)
    dropped = item.text[covered:] if enc.truncated else ""
    if not dropped and covered < len(item.text):
        spans += (Span(item.text[covered:], None, None),)
    return TextReport(
        text_id=item.text_id,
        text=item.text,
        source=item.source,
        gold=item.gold,
        output=tuple(float(v) for v in result.output),
        prediction=result.prediction,
        predicted_label=result.predicted_label,
        tokens=tokens,
        truncated=enc.truncated,
        full_length=enc.full_length,
        cls_attention=tuple(float(v) for v in cls),
        mean_received=tuple(float(v) for v in received),
        top_tokens=top,
        spans=spans,
        dropped=dropped,
        num_layers=int(heads.shape[0]),
        num_heads=int(heads.shape[1]),
        attention_b64=base64.b64encode(heads.tobytes()).decode("ascii"),
    )


def split_spans(
    text: str,
    offsets: Sequence[tuple[int, int]] | None,
    special: Sequence[bool],
    pieces: Sequence[str],
    scores: np.ndarray,
) -> tuple[tuple[Span, ...], int]:
    """Cut the text at token boundaries; returns the spans and where the last token ends.

    Characters no token covers get no score. Without offsets (slow tokenizers) the whole
    text is one unscored span.
    """
    if offsets is None:
        return (Span(text, None, None),), len(text)
    spans: list[Span] = []
    cursor = 0
    top = max(float(np.max(np.abs(scores))), 1e-12)
    for i, (start, end) in enumerate(offsets):
        # A lone "▁" piece reports the span of the next character; it covers nothing itself.
        if special[i] or display_label(pieces[i]) == SPACE_MARK:
            continue
        start = max(start, cursor)
        if end <= start:
            continue
        if start > cursor:
            spans.append(Span(text[cursor:start], None, None))
        spans.append(Span(text[start:end], float(scores[i]), pieces[i], float(scores[i] / top)))
        cursor = end
    return tuple(spans), cursor


def build_report(
    run: RunInfo, model: ModelInfo, inputs: InputSet, results: Sequence[TextExtraction]
) -> Report:
    by_id = {r.text_id: r for r in results}
    texts = tuple(build_text_report(item, by_id[item.text_id]) for item in inputs.texts)
    return Report(run=run, model=model, texts=texts)
