"""The report model: everything the page shows, as plain frozen data (no torch, no HTML).

Built from the per-text records the stages filled in (:class:`~reportgen.types.TextRecord`) and
the report-level results; charts and rendering read it and compute nothing of their own beyond
presentation. Imports no torch: it can be built from stored results.
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

import numpy as np

from .types import (
    RANDOM_METHOD,
    Agreement,
    Faithfulness,
    FaithfulnessReport,
    MethodInfo,
    MethodSummary,
    DisplayAttention,
    ModelInfo,
    TextRecord,
    TokenScores,
)

TOP_TOKENS = 3
SPACE_MARK = "\u2581"  # SentencePiece's word-start marker
BLANK_LABEL = "\u2423"  # "␣": what the reader sees for a piece that is only that marker

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
    """A run of the original text and the token that covers it (None between tokens)."""

    text: str
    position: int | None
    piece: str | None


@dataclass(frozen=True)
class MethodColumn:
    """One explanation method as the whole report shows it."""

    name: str
    title: str
    signed: bool
    description: str
    scale: float
    """The end of this method's colour scale, the same for every text (see ``method_scale``)."""


@dataclass(frozen=True)
class MethodScores:
    """One method's scores for one text, and how faithful its ranking was there."""

    method: str
    values: tuple[float, ...]
    """One per token position, special tokens included, in the method's own unit."""
    relative: tuple[float, ...]
    """``values`` divided by the method's report-wide ``scale``: in [-1, 1]."""
    faithfulness: Faithfulness | None


@dataclass(frozen=True)
class IntegratedGradientsCheck:
    explained: float
    """f(x): the output Integrated Gradients explains."""
    baseline_prediction: float
    delta: float
    """sum of attributions - (f(x) - f(baseline)): zero for an exact integral."""
    delta_relative: float
    warn: bool


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
    cls_renormalised: tuple[float, ...]
    """``cls_attention`` with [CLS]/[SEP] removed as keys and the row renormalised (0 for them)."""
    received_renormalised: tuple[float, ...]
    """``mean_received`` of the renormalised matrix (every row renormalised first)."""
    scores: tuple[MethodScores, ...]
    highlight: str
    """The method the text view shows first (the report's most faithful one)."""
    top_tokens: tuple[str, ...]
    """Labels of the highest-|score| content tokens by ``highlight``."""
    random_reference: Faithfulness | None
    integrated_gradients: IntegratedGradientsCheck | None
    agreement: tuple[tuple[float | None, ...], ...] | None
    """Spearman rho between methods on this text (order of ``Report.agreement.methods``)."""
    spans: tuple[Span, ...]
    """The whole text up to the end of the last kept token (all of it unless truncated)."""
    dropped: str
    """The end of the text that truncation left out ("" when nothing was cut)."""
    num_layers: int
    num_heads: int
    display: DisplayAttention | None
    """The attention the page may draw, per rung of the size ladder (see ``reportgen.budget``)."""

    @property
    def error(self) -> float | None:
        return None if self.gold is None else self.prediction - self.gold

    def scores_for(self, method: str) -> MethodScores:
        return next(s for s in self.scores if s.method == method)

    @property
    def highlighted(self) -> MethodScores:
        return self.scores_for(self.highlight)


@dataclass(frozen=True)
class AgreementView:
    methods: tuple[str, ...]
    mean: tuple[tuple[float | None, ...], ...]
    """Mean Spearman rho over texts; None where no text defines it."""
    counts: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class FaithfulnessView:
    summary: tuple[MethodSummary, ...]
    best: str | None
    fractions: tuple[float, ...]
    rules: tuple[str, ...]
    """How the measures were taken (perturbation, ranking, measures, best-method rule)."""


@dataclass(frozen=True)
class Report:
    run: RunInfo
    model: ModelInfo
    texts: tuple[TextReport, ...]
    methods: tuple[MethodColumn, ...]
    highlight: str
    faithfulness: FaithfulnessView | None
    agreement: AgreementView | None
    definitions: tuple[tuple[str, str], ...] = DEFINITIONS

    @property
    def truncated_count(self) -> int:
        return sum(t.truncated for t in self.texts)

    @property
    def has_gold(self) -> bool:
        return any(t.gold is not None for t in self.texts)

    @property
    def ig_warnings(self) -> int:
        return sum(1 for t in self.texts if t.integrated_gradients is not None and t.integrated_gradients.warn)

    def method(self, name: str) -> MethodColumn:
        return next(m for m in self.methods if m.name == name)


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


def marker_only(piece: str) -> bool:
    """A piece that is only SentencePiece's word-start marker: it covers no character."""
    return bool(piece) and not piece.replace(SPACE_MARK, "")


def display_label(piece: str) -> str:
    label = piece.replace(SPACE_MARK, "")
    return label if label else BLANK_LABEL


def token_labels(text: str, pieces: Sequence[str], offsets: Sequence[tuple[int, int]] | None, special: Sequence[bool]) -> list[str]:
    """What the reader sees per token: the characters of the text it covers.

    Taken from the text rather than the vocabulary so that ``<unk>`` pieces and normalised
    characters show as written; special tokens keep their piece, a lone ``▁`` shows as ``␣``.
    """
    labels = []
    for i, piece in enumerate(pieces):
        label = display_label(piece)
        if offsets is not None and not special[i] and not marker_only(piece):
            start, end = offsets[i]
            if end > start:
                label = text[start:end]
        labels.append(label)
    return labels


def build_text_report(
    record: TextRecord,
    scores: Sequence[MethodScores],
    highlight: str,
    integrated_gradients: IntegratedGradientsCheck | None = None,
    agreement: tuple[tuple[float | None, ...], ...] | None = None,
) -> TextReport:
    item, result = record.item, record.extraction
    random_reference = record.faithfulness.get(RANDOM_METHOD)
    enc = result.encoded
    special = np.array(enc.special, dtype=bool)
    labels = token_labels(item.text, enc.tokens, enc.offsets, enc.special)
    tokens = tuple(
        Token(position=i, piece=piece, label=labels[i], special=bool(special[i]))
        for i, piece in enumerate(enc.tokens)
    )
    chosen = next(s for s in scores if s.method == highlight)
    magnitude = np.where(special, -np.inf, np.abs(np.asarray(chosen.values)))
    order = [i for i in np.argsort(-magnitude, kind="stable") if not special[i]]
    last = np.asarray(result.layer_mean[-1], dtype=np.float64)
    renormalised = renormalise(last, special)
    spans, covered = split_spans(item.text, enc.offsets, enc.special, enc.tokens)
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
        cls_attention=tuple(float(v) for v in result.cls_attention),
        mean_received=tuple(float(v) for v in result.mean_received),
        cls_renormalised=tuple(float(v) for v in renormalised[0]),
        received_renormalised=tuple(float(v) for v in renormalised.mean(axis=0)),
        scores=tuple(scores),
        highlight=highlight,
        top_tokens=tuple(tokens[i].label for i in order[:TOP_TOKENS]),
        random_reference=random_reference,
        integrated_gradients=integrated_gradients,
        agreement=agreement,
        spans=spans,
        dropped=dropped,
        num_layers=int(result.layer_mean.shape[0]),
        num_heads=record.display.heads if record.display is not None else 0,
        display=record.display,
    )


def renormalise(matrix: np.ndarray, special: np.ndarray) -> np.ndarray:
    """[CLS]/[SEP] removed as attended-to tokens (columns set to 0), each row renormalised to 1.

    A row with nothing left stays all 0. The page applies the same rule to the matrix the
    reader picks.
    """
    out = np.where(np.asarray(special, dtype=bool)[None, :], 0.0, np.asarray(matrix, dtype=np.float64))
    totals = out.sum(axis=1, keepdims=True)
    return np.divide(out, totals, out=np.zeros_like(out), where=totals > 0)


def split_spans(
    text: str,
    offsets: Sequence[tuple[int, int]] | None,
    special: Sequence[bool],
    pieces: Sequence[str],
) -> tuple[tuple[Span, ...], int]:
    """Cut the text at token boundaries; returns the spans and where the last token ends.

    Characters no token covers get no score. Without offsets (slow tokenizers) the whole
    text is one unscored span.
    """
    if offsets is None:
        return (Span(text, None, None),), len(text)
    spans: list[Span] = []
    cursor = 0
    for i, (start, end) in enumerate(offsets):
        # A lone "▁" piece reports the span of the next character; it covers nothing itself.
        if special[i] or marker_only(pieces[i]):
            continue
        start = max(start, cursor)
        if end <= start:
            continue
        if start > cursor:
            spans.append(Span(text[cursor:start], None, None))
        spans.append(Span(text[start:end], i, pieces[i]))
        cursor = end
    return tuple(spans), cursor


SCALE_PERCENTILE = 98.0
"""Colour scales end at this percentile of |score|: one outlier token must not pale the rest."""


def method_scale(values: Sequence[np.ndarray], specials: Sequence[Sequence[bool]]) -> float:
    """The 98th percentile of |score| over every non-special token of every text.

    Scores beyond it get the full colour (their value is still shown on hover); 1.0 when all
    scores are zero.
    """
    content = [
        np.abs(np.asarray(v, dtype=np.float64))[~np.asarray(special, dtype=bool)]
        for v, special in zip(values, specials)
    ]
    pooled = np.concatenate(content) if content else np.zeros(0)
    pooled = pooled[np.isfinite(pooled)]
    top = float(np.percentile(pooled, SCALE_PERCENTILE)) if pooled.size else 0.0
    return top if top > 0.0 else 1.0


def build_report(
    run: RunInfo,
    model: ModelInfo,
    records: Sequence[TextRecord],
    methods: Sequence[MethodInfo],
    *,
    faithfulness: FaithfulnessReport | None = None,
    agreement: Agreement | None = None,
    ig_tolerance: float = 0.05,
) -> Report:
    """Assemble the report from one record per text (input order), each holding every method's scores."""
    if not methods:
        raise ValueError("at least one explanation method is needed")
    for record in records:
        missing = [m.name for m in methods if m.name not in record.scores]
        if missing:
            raise ValueError(f"text {record.text_id}: no scores for {', '.join(missing)}")
    specials = [r.encoded.special for r in records]
    columns = tuple(
        MethodColumn(m.name, m.title, m.signed, m.description, method_scale([r.scores[m.name].scores for r in records], specials))
        for m in methods
    )
    names = [m.name for m in methods]
    best = faithfulness.best if faithfulness is not None else None
    highlight = best if best in names else ("cls_attention" if "cls_attention" in names else names[0])

    texts = []
    for record in records:
        text_scores = []
        for column in columns:
            values = np.asarray(record.scores[column.name].scores, dtype=np.float64)
            text_scores.append(
                MethodScores(
                    method=column.name,
                    values=tuple(float(v) for v in values),
                    relative=tuple(float(v) for v in np.clip(values / column.scale, -1.0, 1.0)),
                    faithfulness=record.faithfulness.get(column.name),
                )
            )
        texts.append(
            build_text_report(
                record,
                text_scores,
                highlight,
                integrated_gradients=_ig_check(record.scores.get("integrated_gradients"), ig_tolerance) if "integrated_gradients" in names else None,
                agreement=_matrix(record.agreement.matrix) if agreement is not None and record.agreement is not None else None,
            )
        )
    view = None
    if faithfulness is not None:
        view = FaithfulnessView(
            summary=faithfulness.summary,
            best=faithfulness.best,
            fractions=faithfulness.fractions,
            rules=faithfulness.rules,
        )
    return Report(
        run=run,
        model=model,
        texts=tuple(texts),
        methods=columns,
        highlight=highlight,
        faithfulness=view,
        agreement=_agreement_view(agreement) if agreement is not None else None,
    )


def _ig_check(item: TokenScores | None, tolerance: float) -> IntegratedGradientsCheck | None:
    if item is None or item.baseline_prediction is None or item.delta is None or item.delta_relative is None:
        return None
    explained = float(np.sum(item.scores)) - item.delta + item.baseline_prediction
    return IntegratedGradientsCheck(
        explained=explained,
        baseline_prediction=item.baseline_prediction,
        delta=item.delta,
        delta_relative=item.delta_relative,
        warn=item.delta_relative > tolerance,
    )


def _matrix(values: np.ndarray) -> tuple[tuple[float | None, ...], ...]:
    """A correlation matrix with undefined cells (NaN) as None."""
    return tuple(tuple(None if math.isnan(v) else float(v) for v in row) for row in values)


def _agreement_view(agreement: Agreement) -> AgreementView:
    return AgreementView(
        methods=agreement.methods,
        mean=_matrix(agreement.mean),
        counts=tuple(tuple(int(c) for c in row) for row in agreement.counts),
    )
