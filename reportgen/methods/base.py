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


@dataclass(frozen=True, eq=False)
class MethodContext:
    loaded: LoadedModel
    extractions: tuple[TextExtraction, ...]
    """The texts to explain, in the order results are returned."""
    batch_size: int
    ig_steps: int

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.ig_steps < 1:
            raise ValueError("batch_size and ig_steps must be at least 1")

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
