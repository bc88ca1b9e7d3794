"""The data that travels between the stages: frozen, torch-free dataclasses (and the defaults of
a run's options, which the CLI reads without torch).

Every boundary of the pipeline is one of these types (inputs -> model description ->
extraction -> method scores -> faithfulness -> agreement -> report model), so a stage that
only reads results (the report model, the charts, a renderer of stored results) needs numpy
and this module, never torch. The stages that compute them live in their own modules
(``extraction``, ``methods``, ``faithfulness``, ``agreement``); this module owns no behaviour
beyond small derived properties and two rules checked before torch is imported:
:func:`check_target_range` (the scale that both ``--target-range`` and a model's config must
meet) and :func:`check_device_name` (``--device``'s values).

:class:`TextRecord` is the one record per text that the stages fill in, in input order, so
per-text data never travels as parallel sequences kept aligned by index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .inputs import InputSet, InputText

if TYPE_CHECKING:  # words imports pandas; the boundary types stay light
    from .words import TextWords

QUANT_SCALE = 65535
"""Attention weights in [0, 1] are stored as ``round(w * QUANT_SCALE)`` in uint16 (error <= 8e-6)."""

# --- The model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    path: str
    checkpoint: str | None
    architecture: str
    model_type: str
    num_layers: int
    num_heads: int
    hidden_size: int
    num_parameters: int
    weights_file: str
    weights_sha256: str
    task: str
    """``"regression"`` (one output, shown as it is) or ``"classification"``."""
    labels: tuple[str, ...]
    max_length: int
    notes: tuple[str, ...] = ()
    target_name: str | None = None
    """What the output measures (``politeness``): ``--target-name``, else the ``reportgen`` block
    of ``config.json`` (``target_name``), else a regression model's one label unless it is the
    default ``LABEL_0``; None when unknown."""
    target_range: tuple[float, float] | None = None
    """The scale's ends (``--target-range LO,HI`` or ``reportgen.target_range``), None when unknown."""
    target_description: str | None = None
    """What the scale's values mean, for the reader (``reportgen.target_description``)."""


DEVICES = ("auto", "cpu", "cuda")
"""``--device``'s values; whether cuda is there is only known once torch is imported."""


def check_device_name(device: str) -> str:
    """``device`` when it is one of :data:`DEVICES` (ValueError with the one-line message otherwise)."""
    if device not in DEVICES:
        raise ValueError(f"--device {device!r}: expected auto, cpu or cuda")
    return device


def check_target_range(value: Any) -> tuple[float, float]:
    """``[lo, hi]`` as two finite numbers with ``lo < hi`` (ValueError otherwise)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError("expected two numbers, low and high")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise ValueError("expected two finite numbers")
    lo, hi = float(value[0]), float(value[1])
    if not lo < hi:
        raise ValueError(f"low ({lo:g}) must be below high ({hi:g})")
    return lo, hi


# --- Extraction ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodedText:
    text_id: int
    input_ids: tuple[int, ...]
    tokens: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...] | None
    """Character span of each token in the original text; ``(0, 0)`` for special tokens."""
    special: tuple[bool, ...]
    truncated: bool
    full_length: int
    """Token count (special tokens included) before truncation."""


@dataclass(frozen=True, eq=False)
class TextExtraction:
    encoded: EncodedText
    output: np.ndarray
    """The model's raw output for this text: shape ``(num_labels,)``, never squashed."""
    prediction: float
    """Regression: the output itself. Classification: probability of the predicted class."""
    predicted_label: str | None
    layer_mean: np.ndarray
    """float32 ``(layers, n, n)``: attention averaged over heads, real tokens only. ``(1, n, n)``,
    the last layer only, in the records a run builds its report from when it keeps no heads
    (``pipeline.ExplainOptions.keep_heads``)."""
    heads_q: np.ndarray
    """uint16 ``(layers, heads, n, n)``: every head, quantised (see ``QUANT_SCALE``); for the
    data file. ``(0, 0, n, n)`` when the run keeps no heads (no data file asked for): the page's
    heads then went only to its size-bounded store as they were extracted
    (:class:`DisplayAttention`), so no stage holds every head of every text at once."""

    @property
    def text_id(self) -> int:
        return self.encoded.text_id

    @property
    def quant_scale(self) -> int:
        return QUANT_SCALE

    @property
    def cls_attention(self) -> np.ndarray:
        """Last layer, mean over heads of ``A[h, 0, j]``."""
        return self.layer_mean[-1, 0, :]

    @property
    def mean_received(self) -> np.ndarray:
        """Last layer, mean over query positions ``i`` of the head-averaged ``A[i, j]``."""
        return self.layer_mean[-1].mean(axis=0)


@dataclass(frozen=True, eq=False)
class DisplayAttention:
    """One text's attention as the page draws it: 8-bit codes, zlib-compressed, per ladder rung.

    Codes are ``round(255 * sqrt(w))`` (see :mod:`reportgen.budget`). ``blocks`` maps a rung
    of the size ladder to its compressed codes: 0 every layer and head ``(layers, heads, n, n)``,
    1 every layer but the last with heads averaged ``(layers - 1, n, n)``, 2 the last layer's head
    mean ``(n, n)`` (the *view*, which the page carries with rungs 0 and 1 too). Rungs the size
    budget can never use for this text are not kept.
    """

    layers: int
    heads: int
    n: int
    blocks: Mapping[int, bytes]
    sizes: Mapping[int, int]
    """Base64 characters of every rung's block, kept or not (what the size budget weighs)."""


# --- Explanation methods -------------------------------------------------------------------


@dataclass(frozen=True)
class MethodInfo:
    name: str
    """Registry key, CSV column name and ``--methods`` value."""
    title: str
    signed: bool
    """True when scores can be negative (a diverging, zero-centred colour scale)."""
    needs_gradients: bool
    description: str
    """One or two sentences for the report reader: exactly what is computed."""


@dataclass(frozen=True, eq=False)
class TokenScores:
    method: str
    text_id: int
    scores: np.ndarray
    """float64 ``(n,)``: one value per token position, special tokens included.

    Attention methods keep what special tokens receive; gradient methods give them 0.
    """
    baseline_prediction: float | None = None
    """Integrated Gradients only: ``f(baseline)``."""
    delta: float | None = None
    """Integrated Gradients only: ``sum(scores) - (f(x) - f(baseline))``."""
    delta_relative: float | None = None
    """``|delta| / |f(x) - f(baseline)|`` (inf when that difference is 0 and delta is not)."""
    steps: int | None = None
    """Integrated Gradients only: the quadrature steps this text used (``--ig-steps N``, or
    the level adaptive refinement stopped at)."""


# --- Faithfulness --------------------------------------------------------------------------

RANDOM_METHOD = "random"
"""The name of the random-order reference among the faithfulness results."""
FAITHFULNESS_MODES = ("full", "fast", "off")
"""``--faithfulness``: every step and 5 random orders; the checkpoints' steps and 2; nothing."""
DEFAULT_FAITHFULNESS = "fast"
"""What a run measures unless told. ``full`` evaluates about 3x as many masked inputs as ``fast``
on short texts (828 against 308 on five KeiCO sentences, 6,450 against 1,858 on the demo) and more
on long ones; each is a forward pass of the model at the CPU's arithmetic peak, so ``full`` made a
base-size run about 2x slower than before token resolution existed (docs/benchmarks.md). ``fast``
keeps the measures, a random reference of the same kind (2 orders, not 5) and the verdict's
rule; ``full`` is one flag away."""


@dataclass(frozen=True)
class DeletionCurve:
    fractions: tuple[float, ...]
    """Per step, the share of the text's removable units it removes (``removed / content``)."""
    removed: tuple[int, ...]
    """Per step, the units removed (``without_top``) or kept (``only_top``): distinct counts,
    ``1, 2, 3, ...`` up to the cap (``--faithfulness full``), or the checkpoints' counts (``fast``)."""
    without_top: tuple[float, ...]
    """``f`` after removing the top-k tokens."""
    only_top: tuple[float, ...]
    """``f`` keeping only the top-k tokens (all other non-special tokens removed).

    ``f`` is the explained output: the regression prediction, or the predicted class's logit.
    """
    without_top_std: tuple[float, ...] | None = None
    """``random`` only: spread of ``without_top`` over the random orders (the report's band)."""
    content: int = 0
    """Units (tokens or words) the text has to remove; 0 on curves made before it was stored."""

    def at_fractions(self, fractions: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``without_top`` and ``only_top`` at the steps that remove ``round(k * content)`` units
        (at least 1) for each ``k``: the CSV's fixed columns. NaN where no step removed that many."""
        if not self.content:  # a curve without its content count: one value per fraction already
            return self.without_top, self.only_top
        at = {c: i for i, c in enumerate(self.removed)}
        steps = [at.get(min(self.content, max(1, int(k * self.content + 0.5)))) for k in fractions]
        return (
            tuple(self.without_top[i] if i is not None else float("nan") for i in steps),
            tuple(self.only_top[i] if i is not None else float("nan") for i in steps),
        )


@dataclass(frozen=True)
class Faithfulness:
    text_id: int
    method: str
    comprehensiveness: float
    """Normalised when ``normalised``, else equal to ``comprehensiveness_raw``."""
    sufficiency: float
    comprehensiveness_raw: float
    sufficiency_raw: float
    normalised: bool
    normaliser: float
    """The largest ``|f(x) - f(x')|`` over every masked input ``x'`` of this text at this unit
    level (every method's steps, the random orders', every unit removed): values divided by it
    lie in [0, 1]."""
    prediction: float
    """``f(x)``, the explained output of the unperturbed text."""
    curve: DeletionCurve
    """For ``random``: the mean curve over the random orders."""
    comprehensiveness_std: float | None = None
    """``random`` only: spread (population std) over the random orders, same scale as the value."""
    sufficiency_std: float | None = None
    unit: str = "token"
    """What one ranking step removes: ``"token"`` (one piece) or ``"word"`` (all pieces of one word)."""


@dataclass(frozen=True)
class MethodSummary:
    method: str
    mean_comprehensiveness: float
    mean_sufficiency: float
    score: float
    """``mean_comprehensiveness - mean_sufficiency``: the ranking key, higher is better."""
    rank: int | None
    """1 = best; None for the random reference."""
    beats_random: float | None
    """Fraction of texts where this method's comprehensiveness minus sufficiency exceeds the
    random reference's (its mean over the random orders)."""
    texts: int
    """Texts averaged over."""
    normalised: bool
    win_rate: float = float("nan")
    """The ranking statistic: mean over texts of the share of the other methods this method
    beats on that text (by comprehensiveness minus sufficiency; a tie counts half). One text
    moves it by at most ``1 / texts``."""
    win_low: float = float("nan")
    """Bootstrap 95% interval of ``win_rate`` over texts (seeded)."""
    win_high: float = float("nan")
    behind_low: float = float("nan")
    """Bootstrap 95% interval of (the first method's win rate - this one's); NaN for the first."""
    behind_high: float = float("nan")
    tied: bool = False
    """True when this method cannot be told apart from the first (``behind_low <= 0``), and for
    the first itself when any other method is tied with it."""


@dataclass(frozen=True)
class FaithfulnessReport:
    per_text: tuple[Faithfulness, ...]
    """One per text and method (``random`` included), text order then method order."""
    summary: tuple[MethodSummary, ...]
    """Methods by rank, then the random reference."""
    best: str | None
    """The method ranked first (``most faithful`` only when ``verdict == "clear"``)."""
    fractions: tuple[float, ...]
    """The checkpoints (shares of a text's units) that cap the steps and name the CSV's columns."""
    rules: tuple[str, ...] = ()
    """How the measures were taken, in sentences for the report reader."""
    unit: str = "token"
    """``"token"``: tokens removed one by one by rank; ``"word"``: whole words (all their pieces)."""
    by_word: "FaithfulnessReport | None" = None
    """The same measurement masking whole words by each method's word ranking (when words exist)."""
    verdict: str = "clear"
    """``"clear"``: the first method's lead over every other is outside its bootstrap 95%
    interval; ``"tied"``: the methods in ``tied`` cannot be told apart; ``"single"``: one method
    only; ``"none"``: no text could be measured."""
    tied: tuple[str, ...] = ()
    """With ``verdict == "tied"``: the methods tied for first, in rank order."""
    mode: str = "full"
    """``--faithfulness``: ``full`` or ``fast`` (see ``reportgen.faithfulness.rules``)."""

    def for_text(self, text_id: int) -> tuple[Faithfulness, ...]:
        return tuple(f for f in self.per_text if f.text_id == text_id)


# --- Agreement -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TextAgreement:
    text_id: int
    methods: tuple[str, ...]
    matrix: np.ndarray
    """float64 ``(m, m)``: Spearman's rho between methods; NaN where undefined; diagonal 1 when defined."""


@dataclass(frozen=True, eq=False)
class Agreement:
    methods: tuple[str, ...]
    per_text: tuple[TextAgreement, ...]
    mean: np.ndarray
    """float64 ``(m, m)``: mean over the texts where each pair is defined (NaN if none)."""
    counts: np.ndarray
    """int ``(m, m)``: texts averaged into each cell of ``mean``."""


# --- One text, as the stages fill it in ----------------------------------------------------


@dataclass(frozen=True, eq=False)
class TextRecord:
    """Everything computed about one text; each stage returns new records with its part set."""

    item: InputText
    extraction: TextExtraction
    scores: Mapping[str, TokenScores] = field(default_factory=dict)
    """Method name -> this text's scores, in the report's method order."""
    faithfulness: Mapping[str, Faithfulness] = field(default_factory=dict)
    """Method name (``random`` included) -> this text's faithfulness."""
    agreement: TextAgreement | None = None
    words: "TextWords | None" = None
    """The text's words and their alignment to the tokens (None: pieces only, ``--words pieces``)."""
    word_faithfulness: Mapping[str, Faithfulness] = field(default_factory=dict)
    """Method name (``random`` included) -> faithfulness measured by masking whole words."""
    display: DisplayAttention | None = None
    """The attention the page may draw (None: the page shows no attention matrix); never stored
    in the data file, rebuilt from ``extraction.heads_q`` (``budget.with_display``)."""

    def __post_init__(self) -> None:
        if self.item.text_id != self.extraction.text_id:
            raise ValueError(f"text {self.item.text_id}: extraction of text {self.extraction.text_id}")
        for name, scores in self.scores.items():
            if scores.text_id != self.text_id or scores.method != name:
                raise ValueError(f"text {self.text_id}: scores of {scores.method!r} for text {scores.text_id}")
        for name, result in self.faithfulness.items():
            if result.text_id != self.text_id or result.method != name:
                raise ValueError(f"text {self.text_id}: faithfulness of {result.method!r} for text {result.text_id}")
        for name, result in self.word_faithfulness.items():
            if result.text_id != self.text_id or result.method != name or result.unit != "word":
                raise ValueError(f"text {self.text_id}: word faithfulness of {result.method!r} for text {result.text_id}")
        if self.words is not None and len(self.words.alignment) != len(self.extraction.encoded.tokens):
            raise ValueError(f"text {self.text_id}: word alignment does not cover its tokens")
        if self.agreement is not None and self.agreement.text_id != self.text_id:
            raise ValueError(f"text {self.text_id}: agreement of text {self.agreement.text_id}")

    @property
    def text_id(self) -> int:
        return self.item.text_id

    @property
    def encoded(self) -> EncodedText:
        return self.extraction.encoded


# --- Defaults of a run's options ---------------------------------------------------------
# Here, not in the modules that use them (the pipeline, the engine), because the CLI declares its
# options with them at import: its --help would otherwise wait for the engine's torch and the
# pipeline's pandas.

DEFAULT_TITLE = "reportgen attention report"
"""``--title``: the title at the top of the report."""
DEFAULT_CHUNK_SIZE = 256
"""Texts computed (and held) at once, at most (:mod:`reportgen.engine`). Large enough that
forward passes stay full and that most runs are one chunk."""


__all__ = [
    "RANDOM_METHOD",
    "Agreement",
    "DeletionCurve",
    "DisplayAttention",
    "EncodedText",
    "Faithfulness",
    "FaithfulnessReport",
    "InputSet",
    "InputText",
    "MethodInfo",
    "MethodSummary",
    "ModelInfo",
    "TextAgreement",
    "TextExtraction",
    "TextRecord",
    "TokenScores",
]
