"""Gradients of ``f`` with respect to the word embeddings, for many inputs in few passes.

Owns the one engine behind ``grad_input`` and ``integrated_gradients``: for each text, points on
the straight line from a start embedding matrix to the text's own word embeddings. Every point
is one row of a batched forward/backward pass (rows of different texts share passes, shortest
padding first); position and segment embeddings are left to the model, so only the word
embeddings move. Rows are independent (padding is masked), so one backward of the summed
outputs gives each row its own gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..forward import padded_batches
from .base import MethodContext, explained_value

GRADIENT_ROWS_PER_BATCH_TEXT = 2
"""Rows per forward/backward pass = this × ``batch_size``: backward keeps every activation."""


@dataclass(frozen=True, eq=False)
class PathGradients:
    weighted_gradient: np.ndarray
    """float64 ``(n, embedding)``: ``sum_k w_k * grad f(start + alpha_k (end - start))``."""
    values: np.ndarray
    """float64 ``(steps,)``: ``f`` at each ``alpha_k``."""
    start: np.ndarray
    end: np.ndarray
    """float64 ``(n, embedding)``: the word embeddings at alpha 0 and alpha 1."""


def word_embeddings(ctx: MethodContext, ids: Sequence[int]) -> torch.Tensor:
    table = ctx.loaded.model.get_input_embeddings()
    with torch.no_grad():
        return table(torch.tensor([list(ids)], dtype=torch.long, device=ctx.loaded.device))[0]


def path_gradients(
    ctx: MethodContext,
    starts: Sequence[torch.Tensor],
    alphas: np.ndarray,
    weights: np.ndarray,
) -> list[PathGradients]:
    """For each text ``t``: gradients along ``starts[t] -> embeddings of ctx.encoded[t]``."""
    loaded = ctx.loaded
    targets = ctx.targets
    ends = [word_embeddings(ctx, e.input_ids) for e in ctx.encoded]
    steps = len(alphas)
    grad_sums = [torch.zeros_like(end, dtype=torch.float64) for end in ends]
    values = [np.zeros(steps) for _ in ends]

    # One row per (text, step); sorted longest first with ties in (text, step) order.
    jobs = [(t, k) for t in range(len(ends)) for k in range(steps)]
    per_pass = max(1, ctx.batch_size * GRADIENT_ROWS_PER_BATCH_TEXT)
    encoded = ctx.encoded
    for batch in padded_batches(loaded, [encoded[t].input_ids for t, _ in jobs], per_pass):
        chunk = [jobs[i] for i in batch.indices]
        # The padded ids give the mask and the pad embeddings; real positions are interpolated.
        inputs = batch.inputs
        with torch.no_grad():
            embeds = loaded.model.get_input_embeddings()(inputs["input_ids"])
        for row, (t, k) in enumerate(chunk):
            n = len(ends[t])
            embeds[row, :n] = starts[t] + float(alphas[k]) * (ends[t] - starts[t])
        embeds.requires_grad_(True)
        with torch.enable_grad():
            logits = loaded.model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"]).logits
            target = torch.tensor([targets[t] for t, _ in chunk], dtype=torch.long)
            f = explained_value(logits, target)
            (grad,) = torch.autograd.grad(f.sum(), embeds)
        f_np = f.detach().double().cpu().numpy()
        for row, (t, k) in enumerate(chunk):
            n = len(ends[t])
            grad_sums[t] += float(weights[k]) * grad[row, :n].double()
            values[t][k] = f_np[row]
        del grad, logits, embeds
    return [
        PathGradients(
            weighted_gradient=grad_sums[t].cpu().numpy(),
            values=values[t],
            start=starts[t].double().cpu().numpy(),
            end=ends[t].double().cpu().numpy(),
        )
        for t in range(len(ends))
    ]
