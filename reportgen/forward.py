"""Running many token sequences through the model: the one "sort by length, pad, forward" loop.

Every stage that calls the model (extraction, the methods, faithfulness) goes through
:func:`padded_batches`: rows are sorted longest first (ties in input order) and cut into
batches, and each batch is padded only to its own longest row, never to the model's maximum.
Callers slice each row back to its own length, so padding never enters a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from .loading import LoadedModel


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding stays small."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def pad_batch(loaded: LoadedModel, rows: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
    """Right-pad to the longest row of this batch only (never to the model's maximum)."""
    width = max(len(r) for r in rows)
    pad_id = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, tokens in enumerate(rows):
        ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, : len(tokens)] = 1
    return {"input_ids": ids.to(loaded.device), "attention_mask": mask.to(loaded.device)}


@dataclass(frozen=True, eq=False)
class Batch:
    indices: list[int]
    """Positions in the caller's ``rows``, row ``r`` of the batch is ``rows[indices[r]]``."""
    lengths: list[int]
    """Each row's own length: slice ``[:length]`` to drop its padding."""
    inputs: dict[str, torch.Tensor]
    """``input_ids`` and ``attention_mask``, padded, on the model's device."""


def padded_batches(loaded: LoadedModel, rows: Sequence[Sequence[int]], rows_per_batch: int) -> Iterator[Batch]:
    """The rows as length-sorted, padded batches of at most ``rows_per_batch`` rows."""
    lengths = [len(r) for r in rows]
    for indices in length_sorted_batches(lengths, rows_per_batch):
        yield Batch(indices, [lengths[i] for i in indices], pad_batch(loaded, [rows[i] for i in indices]))
