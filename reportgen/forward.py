"""Running many token sequences through the model: the one "sort by length, pad, forward" loop.

Every stage that calls the model (extraction, the methods, faithfulness) goes through
:func:`padded_batches`: rows are sorted longest first (ties in input order) and cut into
batches, and each batch is padded only to its own longest row, never to the model's maximum.
Callers slice each row back to its own length, so padding never enters a number.

Passes that keep attention maps or every activation for a backward pass also bound a batch's
memory (``row_bytes``): long texts on a large model run fewer rows per pass, so the peak
memory of a run stays near :data:`ACTIVATION_BUDGET` whatever the model, length or number of
texts (issue 14).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch

from .loading import LoadedModel


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding stays small."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


ACTIVATION_BUDGET = 1 << 30
"""Bytes a pass that keeps attention maps or backward activations may use (estimated)."""

RowBytes = Callable[[int], int]
"""Estimated bytes one row of a given length costs in a pass."""


def memory_sorted_batches(
    lengths: Sequence[int], max_rows: int, row_bytes: RowBytes, budget: int = ACTIVATION_BUDGET
) -> list[list[int]]:
    """Like :func:`length_sorted_batches`, but a batch also stops before its rows (each costing
    ``row_bytes`` of the batch's longest row) exceed ``budget``; a batch holds at least one row."""
    if max_rows < 1:
        raise ValueError("batch_size must be at least 1")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        if current and (len(current) >= max_rows or (len(current) + 1) * row_bytes(lengths[current[0]]) > budget):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _shape(loaded: "LoadedModel") -> tuple[int, int, int, int]:
    config: Any = loaded.model.config
    hidden = int(getattr(config, "hidden_size", 768))
    return (
        int(getattr(config, "num_hidden_layers", 12)),
        int(getattr(config, "num_attention_heads", 12)),
        int(getattr(config, "intermediate_size", 4 * hidden)),
        hidden,
    )


def attention_row_bytes(loaded: "LoadedModel") -> RowBytes:
    """A forward pass returning every attention map: each layer's maps are kept (float32), plus
    one layer's working set at a time."""
    layers, heads, inner, hidden = _shape(loaded)
    return lambda n: 4 * (layers * heads * n * n + 3 * heads * n * n + 4 * n * inner + 8 * n * hidden)


def backward_row_bytes(loaded: "LoadedModel") -> RowBytes:
    """A forward pass kept whole for a backward pass: per layer the attention scores and
    probabilities, the feed-forward activations and the hidden states (float32)."""
    layers, heads, inner, hidden = _shape(loaded)
    return lambda n: 4 * layers * (4 * heads * n * n + 6 * n * inner + 10 * n * hidden)


def pad_batch(loaded: LoadedModel, rows: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
    """Right-pad to the longest row of this batch only (never to the model's maximum)."""
    pad_id = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    return pad_rows(rows, pad_id, loaded.device)


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """``input_ids`` right-padded with ``pad_id`` to the longest row, and the ``attention_mask``."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, tokens in enumerate(rows):
        ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, : len(tokens)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


@dataclass(frozen=True, eq=False)
class Batch:
    indices: list[int]
    """Positions in the caller's ``rows``, row ``r`` of the batch is ``rows[indices[r]]``."""
    lengths: list[int]
    """Each row's own length: slice ``[:length]`` to drop its padding."""
    inputs: dict[str, torch.Tensor]
    """``input_ids`` and ``attention_mask``, padded, on the model's device."""


def padded_batches(
    loaded: LoadedModel, rows: Sequence[Sequence[int]], rows_per_batch: int, row_bytes: RowBytes | None = None
) -> Iterator[Batch]:
    """The rows as length-sorted, padded batches of at most ``rows_per_batch`` rows (and, with
    ``row_bytes``, of at most about :data:`ACTIVATION_BUDGET` bytes)."""
    lengths = [len(r) for r in rows]
    batches = (
        length_sorted_batches(lengths, rows_per_batch)
        if row_bytes is None
        else memory_sorted_batches(lengths, rows_per_batch, row_bytes)
    )
    for indices in batches:
        yield Batch(indices, [lengths[i] for i in indices], pad_batch(loaded, [rows[i] for i in indices]))
