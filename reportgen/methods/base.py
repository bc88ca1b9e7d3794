"""Shared types of the explanation methods, and the one definition of the explained scalar.

Owns :class:`MethodInfo` (what the report says about a method), :class:`MethodContext` (what a
method may read), :class:`TokenScores` (what a method returns per text) and ``f(x)``: the single
number every gradient method, Integrated Gradients and the faithfulness curves explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch

from ..extraction import EncodedText, TextExtraction
from ..loading import LoadedModel


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
class MethodContext:
    loaded: LoadedModel
    encoded: tuple[EncodedText, ...]
    extractions: tuple[TextExtraction, ...]
    """Aligned with ``encoded``: same order, same texts."""
    batch_size: int
    ig_steps: int

    def __post_init__(self) -> None:
        check_aligned(self.encoded, self.extractions)
        if self.batch_size < 1 or self.ig_steps < 1:
            raise ValueError("batch_size and ig_steps must be at least 1")

    @property
    def targets(self) -> tuple[int, ...]:
        """Per text, the output index that ``f(x)`` reads (see :func:`explained_index`)."""
        return tuple(explained_index(self.loaded, e) for e in self.extractions)


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


class Method(Protocol):
    info: MethodInfo

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        """One :class:`TokenScores` per text, in the order of ``ctx.encoded``."""
        ...


def explained_index(loaded: LoadedModel, extraction: TextExtraction) -> int:
    """Regression: the single output. Classification: the class predicted for the unperturbed text."""
    if loaded.info.task == "regression":
        return 0
    return int(np.argmax(extraction.output))


def explained_value(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``f`` per row: the raw output at ``targets`` (never a sigmoid or softmax of it).

    ``logits`` is ``(rows, num_labels)``, ``targets`` a long tensor ``(rows,)``.
    """
    return logits.gather(1, targets.view(-1, 1).to(logits.device)).squeeze(1)


def special_mask(encoded: EncodedText) -> np.ndarray:
    return np.asarray(encoded.special, dtype=bool)


def zero_specials(scores: np.ndarray, encoded: EncodedText) -> np.ndarray:
    out = np.asarray(scores, dtype=np.float64).copy()
    out[special_mask(encoded)] = 0.0
    return out


def batches_of(ctx: MethodContext) -> list[list[int]]:
    """Length-sorted batches of text indices (padding kept small)."""
    from ..extraction import length_sorted_batches

    return length_sorted_batches([len(e.input_ids) for e in ctx.encoded], ctx.batch_size)


def check_aligned(encoded: Sequence[EncodedText], extractions: Sequence[TextExtraction]) -> None:
    if len(encoded) != len(extractions) or any(
        e.text_id != x.text_id for e, x in zip(encoded, extractions)
    ):
        raise ValueError("encoded texts and extractions are not aligned")
