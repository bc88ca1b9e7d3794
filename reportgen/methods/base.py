"""Shared types of the explanation methods, and the one definition of the explained scalar.

Owns :class:`MethodContext` (what a method may read), the :class:`Method` protocol and ``f(x)``:
the single number every gradient method, Integrated Gradients and the faithfulness curves
explain. What a method is (:class:`MethodInfo`) and returns per text (:class:`TokenScores`) are
boundary types in :mod:`reportgen.types`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np
import torch

from ..forward import Batch, RowBytes, padded_batches
from ..loading import LoadedModel
from ..types import EncodedText, MethodInfo, TextExtraction, TokenScores


DEFAULT_IG_TOLERANCE = 0.01
"""Adaptive Integrated Gradients stops refining a text once ``|delta| <= 1% of |f(x) - f(baseline)|``."""
IG_START_STEPS = 8
"""Adaptive Integrated Gradients starts every text at this many steps, then doubles."""
DEFAULT_IG_MAX_STEPS = 128
"""Adaptive Integrated Gradients never goes beyond this many steps for a text."""
DEFAULT_MEMORY_BUDGET = 1 << 30
"""Bytes of activations one gradient pass may hold (1 GiB); sets the rows per pass."""


@dataclass(frozen=True, eq=False)
class MethodContext:
    loaded: LoadedModel
    extractions: tuple[TextExtraction, ...]
    """The texts to explain, in the order results are returned."""
    batch_size: int
    ig_steps: int | None = None
    """Integrated Gradients: ``N`` forces N Gauss-Legendre steps on every text (``--ig-steps N``);
    None refines each text until its delta meets ``ig_tolerance`` (see ``integrated_gradients``)."""
    ig_tolerance: float = DEFAULT_IG_TOLERANCE
    """Adaptive only: the target ``|delta| / |f(x) - f(baseline)|``."""
    ig_max_steps: int = DEFAULT_IG_MAX_STEPS
    """Adaptive only: the most steps any text gets (its delta is then reported as it is); a
    power of two, at least ``IG_START_STEPS``."""
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET
    """Bytes one gradient pass may hold (estimated from the model config); None: a fixed
    ``2 * batch_size`` rows per pass whatever the text length."""

    def __post_init__(self) -> None:
        if self.batch_size < 1 or (self.ig_steps is not None and self.ig_steps < 1):
            raise ValueError("batch_size and ig_steps must be at least 1")
        if not self.ig_tolerance > 0.0:
            raise ValueError("ig_tolerance must be positive")
        if self.ig_max_steps < IG_START_STEPS or self.ig_max_steps & (self.ig_max_steps - 1):
            raise ValueError(f"ig_max_steps must be a power of two, at least {IG_START_STEPS}")
        if self.memory_budget is not None and self.memory_budget < 1:
            raise ValueError("memory_budget must be at least 1 byte (or None)")

    @property
    def adaptive(self) -> bool:
        """True when Integrated Gradients chooses its steps per text (no ``--ig-steps``)."""
        return self.ig_steps is None

    @property
    def encoded(self) -> tuple[EncodedText, ...]:
        return tuple(x.encoded for x in self.extractions)

    @property
    def targets(self) -> tuple[int, ...]:
        """Per text, the output index that ``f(x)`` reads (see :func:`explained_index`)."""
        return tuple(explained_index(self.loaded, e) for e in self.extractions)


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


def text_batches(ctx: MethodContext, row_bytes: RowBytes | None = None) -> Iterator[Batch]:
    """The texts' own token ids as length-sorted, padded batches of ``ctx.batch_size`` (and of
    about ``forward.ACTIVATION_BUDGET`` bytes when ``row_bytes`` estimates a row's cost)."""
    return padded_batches(ctx.loaded, [x.encoded.input_ids for x in ctx.extractions], ctx.batch_size, row_bytes)
