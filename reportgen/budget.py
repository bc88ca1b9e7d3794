"""The size budget: what each text keeps in the page, and the rule that decides it.

Owns the *ladder* of detail a text can keep in the HTML file, the 8-bit coding of attention
for display, the compressed attention blocks of every rung (built while the model runs, with
memory bounded by the budget), and the one deterministic rule that picks each text's rung so
that the file fits ``--max-size``. Torch-free: it reads numpy arrays only.

The ladder, per text (each rung keeps less than the one before)::

    0  every layer and head
    1  every layer, heads averaged
    2  last layer only (heads averaged)
    3  no attention matrix: the bar charts and every method's scores
    4  summary row only (the overview table)

The rule: when the whole report does not fit, the **longest texts lose detail first**. Texts
are ordered by token count, longest first (among equal lengths the later text first); the
ladder is walked one rung at a time, and at each rung the texts go down one step in that order
until the file fits. So at most two neighbouring rungs are in use, and every text that keeps
more detail is at most as long as every text that keeps less. The CSV export is never
affected: it always holds every number.
"""

from __future__ import annotations

import base64
import heapq
import math
import zlib
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from dataclasses import replace

from .types import QUANT_SCALE, DisplayAttention, TextRecord

FULL, LAYERS, LAST, NO_MATRIX, SUMMARY = 0, 1, 2, 3, 4
MATRIX_RUNGS = (FULL, LAYERS, LAST)
"""The rungs that carry an attention block."""
VIEW = LAST
"""The rung whose block is also every matrix text's *view*: the last layer's head mean, the
heatmap a text opens with. A text at FULL or LAYERS carries it besides its own block (the page
places it with the text's detail, so the opening heatmap does not wait for the large block); at
LAST it is the text's only block."""
RUNG_NAMES = (
    "every layer and head",
    "every layer, heads averaged",
    "last layer only, heads averaged",
    "no attention matrix (bar charts and method scores only)",
    "summary row only",
)
RUNG_LEFT_OUT = (
    "nothing",
    "the single heads (every layer is kept, heads averaged)",
    "the single heads and every layer but the last",
    "the attention heatmap and the layer and head pickers",
    "every chart, the highlighted text and its word scores: only the overview row is kept",
)
"""What a text at each rung no longer shows, for the report and the CLI."""
RULE = (
    "the longest texts lose detail first (by token count; among equal lengths, the later text "
    "first), one rung at a time, until the file fits"
)

MB = 1_000_000
"""``--max-size`` counts megabytes of 1,000,000 bytes (within a 10 MiB limit as well)."""
DEFAULT_MAX_MB = 10.0


def max_bytes(max_mb: float) -> int | None:
    """``--max-size`` in MB as bytes; None for 0 (no limit)."""
    return int(max_mb * MB) if max_mb > 0 else None


CODE_LEVELS = 255
"""Attention is coded in 8 bits as ``round(255 * sqrt(w))``: fine steps near 0, where most
weights of a long text lie (a linear code would round them all to 0 or 1/255)."""
LARGE_BLOCK = 1 << 20
"""Blocks above this many raw bytes are compressed at zlib level 1 (fast), smaller ones at 6."""


def quantise(weights: np.ndarray) -> np.ndarray:
    """Attention weights in [0, 1] -> uint8 codes ``round(255 * sqrt(w))``."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, 1.0)
    return np.rint(np.sqrt(w) * CODE_LEVELS).astype(np.uint8)


def dequantise(codes: np.ndarray) -> np.ndarray:
    """uint8 codes -> the weights they stand for, ``(q / 255) ** 2`` (what the page draws)."""
    return (np.asarray(codes, dtype=np.float64) / CODE_LEVELS) ** 2


def deflate(data: bytes) -> bytes:
    """zlib (RFC 1950) stream: what the page's ``DecompressionStream("deflate")`` reads."""
    return zlib.compress(data, 1 if len(data) > LARGE_BLOCK else 6)


def inflate(data: bytes) -> bytes:
    return zlib.decompress(data)


def b64_size(raw: int) -> int:
    """Characters of the base64 text of ``raw`` bytes."""
    return 4 * math.ceil(raw / 3)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def rung_bytes(sizes: Mapping[int, int], rung: int) -> int:
    """What a matrix rung adds to the page: its own block plus the view (at LAST, the view only)."""
    return sizes[rung] + (sizes[VIEW] if rung != VIEW else 0)


def rung_codes(per_head: np.ndarray, rung: int) -> np.ndarray:
    """The uint8 codes a rung keeps of attention ``(layers, heads, n, n)``: float weights, or
    uint16 heads quantised with ``QUANT_SCALE`` (as extraction keeps them and the data file stores
    them: a report rendered from a data file codes the very same numbers).

    FULL: ``(layers, heads, n, n)``; LAYERS: ``(layers - 1, n, n)``, the head means of every
    layer but the last (whose mean is the view, which the page carries with every matrix rung);
    LAST (the view): ``(n, n)``, the last layer's head mean.
    """
    att = np.asarray(per_head)
    if att.dtype == np.uint16:
        att = att.astype(np.float32) / np.float32(QUANT_SCALE)
    else:
        att = att.astype(np.float32, copy=False)
    if rung == FULL:
        return quantise(att)
    if rung == LAYERS:
        return quantise(att[:-1].mean(axis=1))
    if rung == LAST:
        return quantise(att[-1].mean(axis=0))
    raise ValueError(f"rung {rung} keeps no attention matrix")


def display_attention(per_head: np.ndarray, rungs: Sequence[int] = MATRIX_RUNGS) -> DisplayAttention:
    """Every requested rung's compressed codes for one text (no budget: nothing evicted)."""
    layers, heads, n, _ = per_head.shape
    every = {r: deflate(np.ascontiguousarray(rung_codes(per_head, r)).tobytes()) for r in MATRIX_RUNGS}
    return DisplayAttention(
        layers=int(layers), heads=int(heads), n=int(n),
        blocks={r: every[r] for r in rungs}, sizes={r: b64_size(len(b)) for r, b in every.items()},
    )


def degradation_order(lengths: Sequence[int]) -> list[int]:
    """Text indices in the order they lose detail: most tokens first, later text first on ties."""
    return sorted(range(len(lengths)), key=lambda t: (-lengths[t], -t))


class AttentionLadder:
    """Collects each text's compressed attention blocks while the model runs, within the budget.

    ``add`` is called once per text with its float attention (which the caller then drops).
    Every rung's block is compressed and measured, but a block is kept only while it can still
    be part of a page within ``max_bytes``: in the final assignment (:func:`assign`) every text
    after a text in the degradation order keeps at most as much as it, so once the kept blocks
    of one rung (with the view each needs, :func:`rung_bytes`) exceed the budget, the longest of
    them can never be used and are dropped. Memory therefore stays below about
    ``len(MATRIX_RUNGS) * max_bytes`` however many texts there are; with no budget only the full
    rung and the view are kept.
    """

    def __init__(self, lengths: Sequence[int], max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self._position = {t: p for p, t in enumerate(degradation_order(lengths))}
        self.rungs = MATRIX_RUNGS if max_bytes else (FULL, VIEW)
        self._kept: dict[int, dict[int, bytes]] = {r: {} for r in self.rungs}
        self._heap: dict[int, list[tuple[int, int]]] = {r: [] for r in self.rungs}
        self._total = {r: 0 for r in self.rungs}
        self._cut = {r: -1 for r in self.rungs}
        self._shape: dict[int, tuple[int, int, int]] = {}
        self._sizes: dict[int, dict[int, int]] = {}
        self._held = 0  # compressed bytes kept now, over every rung (kept as it changes: summing
        # every kept block after each text made a page of 10,000 texts quadratic)
        self.peak_bytes = 0
        """Most compressed bytes held at once (for the benchmark)."""

    def add(self, text: int, per_head: np.ndarray) -> None:
        layers, heads, n, _ = per_head.shape
        self._shape[text] = (int(layers), int(heads), int(n))
        # Every block is measured (the rule weighs them all); only some are kept.
        blocks = {r: deflate(np.ascontiguousarray(rung_codes(per_head, r)).tobytes()) for r in MATRIX_RUNGS}
        sizes = self._sizes[text] = {r: b64_size(len(b)) for r, b in blocks.items()}
        for rung in self.rungs:
            if self._position[text] <= self._cut[rung]:
                continue  # a longer-or-equal text already could not keep this rung
            block = self._kept[rung][text] = blocks[rung]
            self._held += len(block)
            self._total[rung] += rung_bytes(sizes, rung)
            heapq.heappush(self._heap[rung], (self._position[text], text))
            self._evict(rung)
        self.peak_bytes = max(self.peak_bytes, self._held)

    def _evict(self, rung: int) -> None:
        if not self.max_bytes:
            return
        heap, kept = self._heap[rung], self._kept[rung]
        # The kept texts from any position on need at least their blocks' bytes; while all of
        # them together exceed the budget, the longest cannot keep this rung.
        while self._total[rung] > self.max_bytes and heap:
            position, text = heapq.heappop(heap)
            block = kept.pop(text)
            self._held -= len(block)
            self._total[rung] -= rung_bytes(self._sizes[text], rung)
            self._cut[rung] = max(self._cut[rung], position)

    def result(self) -> dict[int, DisplayAttention]:
        """Per text (every text added), the blocks still kept."""
        return {
            t: DisplayAttention(
                layers=shape[0], heads=shape[1], n=shape[2],
                blocks={r: self._kept[r][t] for r in self.rungs if t in self._kept[r]},
                sizes=dict(self._sizes[t]),
            )
            for t, shape in self._shape.items()
        }


def with_display(records: Sequence[TextRecord], max_bytes: int | None) -> list[TextRecord]:
    """Each record with the attention the page may draw, coded from its stored heads
    (``extraction.heads_q``) for a page of at most ``max_bytes`` (None: no limit).

    What a run does as it extracts, done again from kept heads: ``reportgen render`` of a data
    file and reports built from records (the API, tests) get the same blocks as the direct run.
    A record without heads (``heads_q`` empty) gets no display (no attention matrix).
    """
    ladder = AttentionLadder([len(r.extraction.encoded.input_ids) for r in records], max_bytes)
    for index, record in enumerate(records):
        if record.extraction.heads_q.shape[0]:
            ladder.add(index, record.extraction.heads_q)
    shown = ladder.result()
    return [replace(r, display=shown.get(index)) for index, r in enumerate(records)]


@dataclass(frozen=True)
class Assignment:
    rungs: tuple[int, ...]
    """Per text (input order), the rung it keeps."""
    total_bytes: int
    """The estimated file size with these rungs."""
    full_bytes: int
    """The estimated file size with every text at full detail."""
    fits: bool
    """False when even every text at the summary row exceeds the budget."""


def assign(
    sizes: Sequence[Mapping[int, int]],
    lengths: Sequence[int],
    fixed_bytes: int,
    max_bytes: int | None,
) -> Assignment:
    """Each text's rung under the budget (see the module's rule).

    ``sizes[t][r]`` is what text ``t`` adds to the file at rung ``r``, for every rung from 0
    to 4 (a rung a text cannot have, such as an attention matrix it has none of, is missing:
    the text skips it). ``fixed_bytes`` is the page without any text.
    """
    count = len(sizes)
    order = degradation_order(lengths)

    def first_rung(t: int, start: int) -> int:
        return next(r for r in range(start, SUMMARY + 1) if r in sizes[t])

    rungs = [first_rung(t, FULL) for t in range(count)]
    full = fixed_bytes + sum(sizes[t][rungs[t]] for t in range(count))
    total = fixed_bytes + sum(sizes[t][rungs[t]] for t in range(count))
    if max_bytes:
        for level in range(FULL, SUMMARY):
            if total <= max_bytes:
                break
            for t in order:
                if total <= max_bytes:
                    break
                if rungs[t] <= level:
                    lower = first_rung(t, level + 1)
                    total += sizes[t][lower] - sizes[t][rungs[t]]
                    rungs[t] = lower
    return Assignment(
        rungs=tuple(rungs),
        total_bytes=total,
        full_bytes=full,
        fits=not max_bytes or total <= max_bytes,
    )


def describe(rungs: Sequence[int], lengths: Sequence[int]) -> tuple[tuple[int, int, int, int], ...]:
    """``(rung, texts, fewest tokens, most tokens)`` per rung in use, richest rung first."""
    out = []
    for rung in range(FULL, SUMMARY + 1):
        members = [lengths[t] for t, r in enumerate(rungs) if r == rung]
        if members:
            out.append((rung, len(members), min(members), max(members)))
    return tuple(out)


def megabytes(count: int) -> str:
    """A byte count as the ``--max-size`` value that would hold it (rounded up, 1 decimal)."""
    return f"{math.ceil(count / MB * 10) / 10:g}"


def _texts(count: int) -> str:
    return f"{count:,} text{'' if count == 1 else 's'}"


def _tokens(low: int, high: int) -> str:
    return f"{low} tokens" if low == high else f"{low}-{high} tokens"


@dataclass(frozen=True)
class Fit:
    """What the size budget did to a report: each text's rung, in words for the reader."""

    max_bytes: int | None
    rungs: tuple[int, ...]
    groups: tuple[tuple[int, int, int, int], ...]
    """``(rung, texts, fewest tokens, most tokens)`` per rung in use, richest first."""
    full_bytes: int
    """About how large the file would be with every text in full detail."""
    fits: bool
    file_bytes: int = 0
    """The file's actual size (set once it is rendered)."""

    @classmethod
    def from_assignment(cls, assignment: Assignment, lengths: Sequence[int], max_bytes: int | None) -> "Fit":
        return cls(
            max_bytes=max_bytes,
            rungs=assignment.rungs,
            groups=describe(assignment.rungs, lengths),
            full_bytes=assignment.full_bytes,
            fits=assignment.fits,
        )

    @property
    def reduced(self) -> int:
        """Texts that keep less than they could (below full detail)."""
        return sum(count for rung, count, _, _ in self.groups if rung != FULL)

    @property
    def full_count(self) -> int:
        return sum(count for rung, count, _, _ in self.groups if rung == FULL)

    @property
    def limit(self) -> str:
        return f"--max-size {self.max_bytes / MB:g}" if self.max_bytes else "--max-size 0"

    def groups_text(self) -> str:
        return "; ".join(f"{_texts(count)} ({_tokens(low, high)}): {RUNG_NAMES[rung]}" for rung, count, low, high in self.groups)

    def sentences(self) -> list[str]:
        """The size budget's outcome for the report header (plain text)."""
        size = f"{self.file_bytes / MB:.1f} MB" if self.file_bytes else "the file"
        if not self.max_bytes:
            return [f"No size limit (--max-size 0): {self.groups_text()}. The file is {size}."]
        if not self.reduced:
            return [f"Every text keeps full detail ({self.groups_text()}); the file is {size}, within {self.limit} MB."]
        return [
            f"To stay within {self.limit} MB, {RULE}.",
            f"Kept: {self.groups_text()}.",
            "Every text is in the overview, and --csv still writes every number.",
            f"Full detail for every text needs about --max-size {megabytes(self.full_bytes)} (or --max-size 0 for no limit); the file is {size}.",
        ]

    def summary_line(self) -> str:
        """One line for the command line."""
        size = f"{self.file_bytes / MB:.1f} MB"
        if not self.reduced:
            return f"size {size} ({self.limit}): every text in full detail"
        return (
            f"size {size} ({self.limit}): longest texts lose detail first: {self.groups_text()}; "
            f"full detail needs --max-size {megabytes(self.full_bytes)}"
        )


__all__ = [
    "FULL", "LAYERS", "LAST", "NO_MATRIX", "SUMMARY", "MATRIX_RUNGS", "RUNG_NAMES", "RUNG_LEFT_OUT",
    "RULE", "MB", "DEFAULT_MAX_MB", "CODE_LEVELS", "Assignment", "AttentionLadder", "Fit", "assign",
    "b64", "b64_size", "deflate", "max_bytes", "with_display", "degradation_order", "dequantise", "describe",
    "display_attention", "inflate", "megabytes", "quantise", "rung_codes",
]
