"""The report model: everything the page shows, as plain frozen data (no torch, no HTML).

Built from the per-text records the stages filled in (:class:`~reportgen.types.TextRecord`) and
the report-level results; charts and rendering read it and compute nothing of their own beyond
presentation. Imports no torch: it can be built from stored results.
"""

from __future__ import annotations

import math
import os
import platform
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Protocol, Sequence

import numpy as np

from . import words as W
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
TOP_MOVERS = 5
"""Units listed per direction in a text's top movers (raising / lowering)."""
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
    faithfulness: str = "full"
    """``--faithfulness``: ``full``, ``fast`` or ``off`` (not measured: the report has no verdict)."""


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
    """A run of the original text, the token that covers it (None between tokens) and the word
    it belongs to (None for whitespace, or when the text has no words)."""

    text: str
    position: int | None
    piece: str | None
    word: int | None = None


@dataclass(frozen=True)
class MethodColumn:
    """One explanation method as the whole report shows it."""

    name: str
    title: str
    signed: bool
    description: str
    scale: float
    """The end of this method's colour scale, the same for every text (see ``method_scale``)."""
    word_scale: float | None = None
    """The same for word scores (None when no text has words)."""


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
class WordScores:
    """One method's word scores for one text, and how faithful its word ranking was there."""

    method: str
    values: tuple[float, ...]
    """One per word (see ``words.ADDITIVE_RULE`` / ``ATTENTION_RULE``); NaN for a word no token reaches."""
    relative: tuple[float, ...]
    """``values`` divided by the method's report-wide word scale, in [-1, 1] (NaN kept)."""
    faithfulness: Faithfulness | None
    """Measured by masking whole words (``unit == "word"``)."""


@dataclass(frozen=True)
class TextWordsView:
    """One text's words as the page shows them."""

    mode: str
    """``"ja"`` (morphemes) or ``"space"`` (whitespace-delimited)."""
    words: tuple[W.Word, ...]
    scores: tuple[WordScores, ...]
    token_word: tuple[int, ...]
    """Per token, the word holding most of it (-1: none), the tokens CSV's ``word_id``."""
    random_reference: Faithfulness | None
    offsets_rebuilt: bool

    def scores_for(self, method: str) -> WordScores:
        return next(s for s in self.scores if s.method == method)


@dataclass(frozen=True)
class Mover:
    label: str
    """What the reader sees: the word's surface or the token's characters."""
    value: float
    index: int
    """Token position or word index."""


@dataclass(frozen=True)
class Movers:
    """The units of one text that push its output most up and most down, by one signed method."""

    unit: str
    """``"words"`` or ``"pieces"``."""
    method: str
    up: tuple[Mover, ...]
    down: tuple[Mover, ...]


@dataclass(frozen=True)
class IntegratedGradientsCheck:
    explained: float
    """f(x): the output Integrated Gradients explains."""
    baseline_prediction: float
    delta: float
    """sum of attributions - (f(x) - f(baseline)): zero for an exact integral."""
    delta_relative: float
    warn: bool
    steps: int | None = None
    """Integration steps this text used (adaptive runs refine each text on its own)."""


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
    """The method the text view shows first (``report.default_highlight``)."""
    top_positions: tuple[int, ...]
    """Positions of the highest-|score| content tokens by ``highlight``, largest first."""
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
    words: TextWordsView | None = None
    default_unit: str = "pieces"
    """What the highlight, movers and method bars show first: ``"words"`` for Japanese texts."""
    movers: tuple[Movers, ...] = ()
    """Top movers by the report's signed default method: pieces, then words where there are words."""

    @property
    def error(self) -> float | None:
        return None if self.gold is None else self.prediction - self.gold

    def scores_for(self, method: str) -> MethodScores:
        return next(s for s in self.scores if s.method == method)

    @property
    def top_tokens(self) -> tuple[str, ...]:
        """Labels of the tokens at ``top_positions``."""
        return tuple(self.tokens[i].label for i in self.top_positions)

    def top_signs(self, signed: bool) -> tuple[int, ...]:
        """Per top token, whether ``highlight``'s score raises (1) or lowers (-1) the output;
        0 for a never-negative method (``signed`` False), whose scores have no direction."""
        values = self.highlighted.values
        return tuple(int(np.sign(values[i])) if signed else 0 for i in self.top_positions)

    @property
    def highlighted(self) -> MethodScores:
        return self.scores_for(self.highlight)

    def initial_relative(self, span: Span) -> float | None:
        """The relative score a span is first shaded with (default unit, highlighted method)."""
        if self.default_unit == "words" and self.words is not None:
            if span.word is None:
                return None
            value = self.words.scores_for(self.highlight).relative[span.word]
            return None if math.isnan(value) else value
        return None if span.position is None else self.highlighted.relative[span.position]

    def initial_title(self, span: Span) -> str | None:
        """Hover text of a span as first shown: ``piece: value`` or ``surface (lemma): value``."""
        if self.default_unit == "words" and self.words is not None:
            if span.word is None:
                return None
            word = self.words.words[span.word]
            value = self.words.scores_for(self.highlight).values[span.word]
            shown = "not seen by the model" if math.isnan(value) else f"{value:.4g}"
            return f"{word.surface} ({word.lemma}): {shown}"
        if span.position is None or span.piece is None:
            return None
        return f"{span.piece}: {self.highlighted.values[span.position]:.4g}"

    @property
    def beats_random(self) -> bool | None:
        """Does the highlighted method beat the random orders on this text (comprehensiveness
        minus sufficiency above the random reference's)? None when not measured."""
        mine = self.highlighted.faithfulness
        ref = self.random_reference
        if mine is None or ref is None or math.isnan(mine.comprehensiveness) or math.isnan(ref.comprehensiveness):
            return None
        return (mine.comprehensiveness - mine.sufficiency) > (ref.comprehensiveness - ref.sufficiency)

    def movers_for(self, unit: str) -> Movers | None:
        return next((m for m in self.movers if m.unit == unit), None)


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
    verdict: str = "clear"
    """See :attr:`reportgen.types.FaithfulnessReport.verdict`."""
    tied: tuple[str, ...] = ()
    mode: str = "full"


@dataclass(frozen=True)
class CorpusView:
    """Words across every text: per dictionary form, by the report's signed default method."""

    method: str
    words: tuple[W.CorpusWord, ...]
    """One per lemma, largest share of |attribution| first."""
    n_texts: int
    total_abs: float
    default_min_texts: int
    """The minimum number of texts a word needs to enter the raising/lowering lists, at first."""
    rules: tuple[tuple[str, str], ...]

    def raising(self, min_texts: int | None = None, k: int = 20) -> tuple[W.CorpusWord, ...]:
        return W.top_words(self.words, "raise", self.default_min_texts if min_texts is None else min_texts, k)

    def lowering(self, min_texts: int | None = None, k: int = 20) -> tuple[W.CorpusWord, ...]:
        return W.top_words(self.words, "lower", self.default_min_texts if min_texts is None else min_texts, k)

    def to_frame(self):  # noqa: ANN201 - a pandas DataFrame
        return W.Corpus(self.words, self.n_texts, self.total_abs).to_frame()


@dataclass(frozen=True)
class WordsSummary:
    """How words were made and scored, for the page's notes, and the report-level word results."""

    analyser: str
    modes: tuple[tuple[str, int], ...]
    """Texts per segmentation mode (``ja``, ``space``)."""
    rules: tuple[tuple[str, str], ...]
    faithfulness: "FaithfulnessView | None"
    corpus: CorpusView | None


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
    signed_default: str = ""
    """The report's signed default method (:func:`signed_default_method`): top movers, corpus view."""
    words: WordsSummary | None = None
    """None when no text has words (``--words pieces``)."""

    @property
    def corpus(self) -> CorpusView | None:
        return self.words.corpus if self.words is not None else None

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


def uninformative(piece: str, label: str) -> bool:
    """A piece that is only SentencePiece's marker, or whose characters are all punctuation or
    space: never listed among a text's top tokens."""
    if marker_only(piece):
        return True
    shown = label.replace(SPACE_MARK, "").strip()
    return not shown or all(unicodedata.category(c).startswith("P") or c.isspace() for c in shown)


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
    words: TextWordsView | None = None,
    movers: Sequence[Movers] = (),
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
    # Top tokens name words the reader can act on: a lone "▁" or a punctuation mark is skipped.
    order = [i for i in np.argsort(-magnitude, kind="stable") if not special[i] and not uninformative(enc.tokens[i], labels[i])]
    last = np.asarray(result.layer_mean[-1], dtype=np.float64)
    renormalised = renormalise(last, special)
    offsets = enc.offsets
    if offsets is None and record.words is not None:
        offsets = record.words.rebuilt_offsets
    spans, covered = split_spans(item.text, offsets, enc.special, enc.tokens)
    dropped = item.text[covered:] if enc.truncated else ""
    if not dropped and covered < len(item.text):
        spans += (Span(item.text[covered:], None, None),)
    if words is not None:
        spans = split_at_words(item.text, spans, words.words)
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
        top_positions=tuple(int(i) for i in order[:TOP_TOKENS]),
        random_reference=random_reference,
        integrated_gradients=integrated_gradients,
        agreement=agreement,
        spans=spans,
        dropped=dropped,
        # A run's records keep the last layer's head mean only (pipeline.ExplainOptions.keep_heads);
        # the page's coded attention knows the layer count.
        num_layers=record.display.layers if record.display is not None else int(result.layer_mean.shape[0]),
        num_heads=record.display.heads if record.display is not None else 0,
        display=record.display,
        words=words,
        default_unit="words" if words is not None and words.mode == "ja" else "pieces",
        movers=tuple(movers),
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


def _safe_cut(text: str, i: int) -> bool:
    """May the highlight cut between ``text[i-1]`` and ``text[i]``? Not inside an emoji
    sequence (zero-width joiner, variation selector, flag tags) or before a combining mark: the
    pieces would render (and be made visible) apart."""
    if i <= 0 or i >= len(text):
        return False
    before, after = text[i - 1], text[i]
    if "\u200d" in (before, after) or after in "\ufe0e\ufe0f" or unicodedata.combining(after):
        return False
    return not ("\U000e0020" <= after <= "\U000e007f")


def split_at_words(text: str, spans: Sequence[Span], words: Sequence[W.Word]) -> tuple[Span, ...]:
    """Cut each span further at word boundaries, and give every piece of it its word.

    ``spans`` cover ``text`` from its start, one after the other. A piece takes the word of its
    first character inside a word (None for whitespace only); the token stays that of the span.
    """
    char_word = np.full(len(text) + 1, -1, dtype=np.int64)
    bounds: set[int] = set()
    for w in words:
        char_word[w.start : w.end] = w.index
        bounds.update((w.start, w.end))
    out: list[Span] = []
    start = 0
    for span in spans:
        end = start + len(span.text)
        cuts = [start] + sorted(c for c in bounds if start < c < end and _safe_cut(text, c)) + [end]
        for a, b in zip(cuts, cuts[1:]):
            inside = char_word[a:b]
            hit = inside[inside >= 0]
            out.append(Span(text[a:b], span.position, span.piece, int(hit[0]) if hit.size else None))
        start = end
    return tuple(out)


class NamedMethod(Protocol):
    """Anything naming a method and saying whether its scores are signed (MethodInfo, MethodColumn)."""

    name: str
    signed: bool


SIGNED_PREFERENCE = ("integrated_gradients", "grad_input")


def signed_default_method(methods: "Report | Sequence[NamedMethod]", highlight: str | None = None) -> str:
    """The report's signed default method: ``integrated_gradients`` if it was run, else
    ``grad_input``, else the first signed method, else ``highlight``.

    ``methods`` is a :class:`Report` (its methods, and its highlight when ``highlight`` is None)
    or a sequence of :class:`~reportgen.types.MethodInfo` / :class:`MethodColumn` (anything with
    ``name`` and ``signed``) in display order; with a sequence and no ``highlight`` the last
    resort is the first method. Used for the top movers, the corpus view and the picture cards.
    """
    if isinstance(methods, Report):
        highlight = methods.highlight if highlight is None else highlight
        methods = methods.methods
    if not methods:
        raise ValueError("no methods")
    names = [m.name for m in methods]
    for name in SIGNED_PREFERENCE:
        if name in names:
            return name
    signed = [m.name for m in methods if m.signed]
    if signed:
        return signed[0]
    return highlight if highlight is not None else names[0]


def default_highlight(methods: Sequence[NamedMethod], faithfulness: FaithfulnessReport | None) -> str:
    """The method each text is shaded by at first.

    A clear verdict: the most faithful method. Tied leaders: the preferred signed method among
    them (:func:`signed_default_method`: Integrated Gradients, Gradient × Input, any signed one),
    else the first. No faithfulness measured (``--faithfulness off``): the preferred signed method
    of the whole report, since direction (what pushed the output up or down) is what a reader needs.
    """
    names = [m.name for m in methods]
    if faithfulness is None or faithfulness.best not in names:
        return signed_default_method(methods)
    if faithfulness.verdict == "tied" and faithfulness.tied:
        tied = [m for m in methods if m.name in faithfulness.tied]
        if tied:
            return signed_default_method(tied, faithfulness.best)
    return faithfulness.best


def top_movers(values: Sequence[float], labels: Sequence[str], skip: Sequence[bool], k: int = TOP_MOVERS) -> tuple[tuple[Mover, ...], tuple[Mover, ...]]:
    """The ``k`` largest positive and ``k`` most negative values (NaN and ``skip`` left out)."""
    array = np.asarray(values, dtype=np.float64)
    usable = [i for i in range(array.size) if not skip[i] and np.isfinite(array[i])]
    up = sorted((i for i in usable if array[i] > 0), key=lambda i: (-array[i], i))[:k]
    down = sorted((i for i in usable if array[i] < 0), key=lambda i: (array[i], i))[:k]
    return (
        tuple(Mover(labels[i], float(array[i]), i) for i in up),
        tuple(Mover(labels[i], float(array[i]), i) for i in down),
    )


def default_min_texts(n_texts: int) -> int:
    """The corpus lists' first minimum count: 3 texts, less for a report of few texts."""
    return max(1, min(3, n_texts // 5))


WORD_RULES = (
    ("pieces to words", W.SPLIT_RULE),
    ("additive methods", W.ADDITIVE_RULE),
    ("attention-style methods", W.ATTENTION_RULE),
)
CORPUS_RULES = (
    ("dictionary form", W.LEMMA_RULE),
    ("mean and interval", W.INTERVAL_RULE),
    ("share", W.SHARE_RULE),
)


def build_corpus(texts: Sequence[TextReport], method: str) -> CorpusView | None:
    """The corpus view over every text with words, by ``method``'s word scores."""
    per_text, ids = [], []
    for text in texts:
        if text.words is None:
            continue
        values = text.words.scores_for(method).values
        per_text.append([(w.lemma, w.surface, v) for w, v in zip(text.words.words, values) if math.isfinite(v)])
        ids.append(text.text_id)
    if not ids:
        return None
    corpus = W.aggregate_corpus(per_text, ids)
    return CorpusView(
        method=method,
        words=corpus.words,
        n_texts=corpus.n_texts,
        total_abs=corpus.total_abs,
        default_min_texts=default_min_texts(corpus.n_texts),
        rules=CORPUS_RULES,
    )


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
    highlight = default_highlight(methods, faithfulness)
    signed = signed_default_method(methods, highlight)

    # Word scores of every method per text (None without words), and one scale per method.
    word_values: list[dict[str, np.ndarray] | None] = [
        {m.name: r.words.scores(r.scores[m.name].scores) for m in methods} if r.words is not None else None
        for r in records
    ]
    with_words = [v for v in word_values if v is not None]
    if with_words:
        columns = tuple(
            replace(c, word_scale=method_scale([v[c.name] for v in with_words], [np.zeros(v[c.name].size, bool) for v in with_words]))
            for c in columns
        )

    texts = []
    for record, values_by_method in zip(records, word_values):
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
        words_view = _words_view(record, values_by_method, columns) if values_by_method is not None else None
        texts.append(
            build_text_report(
                record,
                text_scores,
                highlight,
                integrated_gradients=_ig_check(record.scores.get("integrated_gradients"), ig_tolerance) if "integrated_gradients" in names else None,
                agreement=_matrix(record.agreement.matrix) if agreement is not None and record.agreement is not None else None,
                words=words_view,
                movers=_movers(record, signed, words_view),
            )
        )
    view = _faithfulness_view(faithfulness)
    summary = None
    if with_words:
        modes = [r.words.mode for r in records if r.words is not None]
        summary = WordsSummary(
            analyser=W.ANALYSER,
            modes=tuple((mode, modes.count(mode)) for mode in W.MODES if mode in modes),
            rules=WORD_RULES,
            faithfulness=_faithfulness_view(faithfulness.by_word if faithfulness is not None else None),
            corpus=build_corpus(texts, signed),
        )
    return Report(
        run=run,
        model=model,
        texts=tuple(texts),
        methods=columns,
        highlight=highlight,
        faithfulness=view,
        agreement=_agreement_view(agreement) if agreement is not None else None,
        signed_default=signed,
        words=summary,
    )


def _faithfulness_view(faithfulness: FaithfulnessReport | None) -> FaithfulnessView | None:
    if faithfulness is None:
        return None
    return FaithfulnessView(
        summary=faithfulness.summary,
        best=faithfulness.best,
        fractions=faithfulness.fractions,
        rules=faithfulness.rules,
        verdict=faithfulness.verdict,
        tied=faithfulness.tied,
        mode=faithfulness.mode,
    )


def _words_view(record: TextRecord, values: dict[str, np.ndarray], columns: Sequence[MethodColumn]) -> TextWordsView:
    words = record.words
    assert words is not None
    scores = []
    for column in columns:
        v = values[column.name]
        scale = column.word_scale or 1.0
        with np.errstate(invalid="ignore"):
            relative = np.clip(v / scale, -1.0, 1.0)
        scores.append(
            WordScores(
                method=column.name,
                values=tuple(float(x) for x in v),
                relative=tuple(float(x) for x in relative),
                faithfulness=record.word_faithfulness.get(column.name),
            )
        )
    return TextWordsView(
        mode=words.mode,
        words=words.words,
        scores=tuple(scores),
        token_word=words.token_word_ids,
        random_reference=record.word_faithfulness.get(RANDOM_METHOD),
        offsets_rebuilt=words.offsets_rebuilt,
    )


def _movers(record: TextRecord, method: str, words: TextWordsView | None) -> tuple[Movers, ...]:
    enc = record.encoded
    labels = token_labels(record.item.text, enc.tokens, enc.offsets, enc.special)
    # Like the top tokens, movers name what the reader can act on: no lone "▁" or punctuation.
    skip = [special or uninformative(piece, label) for piece, label, special in zip(enc.tokens, labels, enc.special)]
    up, down = top_movers(record.scores[method].scores, labels, skip)
    out = [Movers("pieces", method, up, down)]
    if words is not None:
        values = words.scores_for(method).values
        surfaces = [w.surface for w in words.words]
        up, down = top_movers(values, surfaces, [uninformative(s, s) for s in surfaces])
        out.append(Movers("words", method, up, down))
    return tuple(out)


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
        steps=item.steps,
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
