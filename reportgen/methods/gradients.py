"""Gradients of ``f`` with respect to the word embeddings, for many inputs in few passes.

Owns the one engine behind ``grad_input`` and ``integrated_gradients``: for each text, points on
the straight line from a start embedding matrix to the text's own word embeddings. Every point
is one row of a batched forward/backward pass (rows of different texts share passes, shortest
padding first); position and segment embeddings are left to the model, so only the word
embeddings move. Rows are independent (padding is masked), so one backward of the summed
outputs gives each row its own gradient.

How many rows share a pass is set by a memory budget (:func:`rows_per_pass`): backward keeps
every layer's activations of every row, so a pass of ``r`` rows of ``L`` tokens holds about
``r * activation_bytes_per_row(config, L)``. Short texts on a small model get the full
``GRADIENT_ROWS_PER_BATCH_TEXT * batch_size`` rows; long texts and base-size models get fewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..forward import pad_batch
from ..logits import output_logits
from .base import DEFAULT_MEMORY_BUDGET, MethodContext, explained_value

GRADIENT_ROWS_PER_BATCH_TEXT = 2
"""At most this × ``batch_size`` rows per forward/backward pass (fewer when the budget says so)."""

# Per layer and token, the floats autograd keeps for backward in an eager BERT/ALBERT layer:
# about 9 per hidden unit (Q, K, V, context, projections, two layer norms, residuals), 5 per
# intermediate unit (the FFN input/output and the pieces of gelu_new), and one per attention
# score per head (the softmax output, used by both its own backward and the matmul with V).
# Measured with torch.autograd.graph.saved_tensors_hooks on ALBERT shapes (hidden 256 and 768,
# 16 to 256 tokens): 28.1-28.6 floats per hidden unit with intermediate = 4 x hidden, against
# 9 + 4 x 5 = 29 here, and exactly 1.0 per attention score.
SAVED_FLOATS_PER_HIDDEN = 9
SAVED_FLOATS_PER_INTERMEDIATE = 5
SAVED_FLOATS_PER_SCORE = 1
BACKWARD_OVERHEAD = 1.5
"""Peak over the saved activations (backward's own temporaries): measured 1.29-1.45 on CPU."""


def activation_bytes_per_row(config: Any, length: int, dtype_bytes: int = 4) -> int:
    """Estimated peak bytes one row of ``length`` tokens adds to a forward/backward pass.

    ``layers * length * (9 * hidden + 5 * intermediate + heads * length) * dtype_bytes * 1.5``,
    plus the row's word embeddings. Read from a Hugging Face config: ``num_hidden_layers``,
    ``hidden_size``, ``num_attention_heads``, ``intermediate_size`` (default 4 x hidden),
    ``embedding_size`` (default hidden).
    """
    if length < 1:
        raise ValueError("length must be at least 1")
    hidden = int(config.hidden_size)
    layers = int(config.num_hidden_layers)
    heads = int(config.num_attention_heads)
    intermediate = int(getattr(config, "intermediate_size", None) or 4 * hidden)
    embedding = int(getattr(config, "embedding_size", None) or hidden)
    per_token_layer = (
        SAVED_FLOATS_PER_HIDDEN * hidden + SAVED_FLOATS_PER_INTERMEDIATE * intermediate + SAVED_FLOATS_PER_SCORE * heads * length
    )
    floats = layers * length * per_token_layer * BACKWARD_OVERHEAD + 2 * length * embedding
    return int(floats * dtype_bytes)


def rows_per_pass(config: Any, length: int, budget: int | None, max_rows: int, dtype_bytes: int = 4) -> int:
    """Rows of ``length`` tokens per forward/backward pass: as many as fit ``budget`` bytes.

    Between 1 (a single row over the budget still runs) and ``max_rows``; ``budget`` None gives
    ``max_rows`` (the fixed count, as before the budget existed).
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    if budget is None:
        return max_rows
    fit = int(budget) // activation_bytes_per_row(config, length, dtype_bytes)
    return max(1, min(max_rows, fit))


def budget_batches(lengths: Sequence[int], rows_for: Callable[[int], int]) -> list[list[int]]:
    """Indices sorted longest first (ties in input order), cut so each batch has ``rows_for(width)`` rows.

    ``width`` is the batch's first (longest) row, the length every row is padded to. With a
    constant ``rows_for`` this is exactly :func:`reportgen.forward.length_sorted_batches`.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches = []
    start = 0
    while start < len(order):
        size = max(1, int(rows_for(lengths[order[start]])))
        batches.append(order[start : start + size])
        start += size
    return batches


def context_rows_for(ctx: MethodContext) -> Callable[[int], int]:
    """``length -> rows per pass`` for this context's model, budget and batch size."""
    model = ctx.loaded.model
    param = next(model.parameters(), None)
    dtype_bytes = param.element_size() if param is not None else 4
    max_rows = max(1, ctx.batch_size * GRADIENT_ROWS_PER_BATCH_TEXT)
    config = model.config
    return lambda length: rows_per_pass(config, length, ctx.memory_budget, max_rows, dtype_bytes)


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


RowVisitor = Callable[[int, torch.Tensor, float], None]
"""``visit(job, gradient, f)``: ``gradient`` is ``(n, embedding)`` for the job's text, unpadded."""


def gradient_rows(
    ctx: MethodContext,
    starts: Sequence[torch.Tensor],
    ends: Sequence[torch.Tensor],
    jobs: Sequence[tuple[int, float]],
    visit: RowVisitor,
) -> None:
    """One row per job ``(text, alpha)``: ``f`` and its gradient at ``start + alpha (end - start)``.

    Rows are sorted longest first (ties in job order) and cut by the memory budget; ``visit`` is
    called for every row of a pass, in the pass's row order, before the next pass runs.
    """
    loaded = ctx.loaded
    targets = ctx.targets
    encoded = ctx.encoded
    rows = [encoded[t].input_ids for t, _ in jobs]
    for indices in budget_batches([len(r) for r in rows], context_rows_for(ctx)):
        chunk = [jobs[i] for i in indices]
        # The padded ids give the mask and the pad embeddings; real positions are interpolated.
        inputs = pad_batch(loaded, [rows[i] for i in indices])
        with torch.no_grad():
            embeds = loaded.model.get_input_embeddings()(inputs["input_ids"])
        for row, (t, alpha) in enumerate(chunk):
            n = len(ends[t])
            embeds[row, :n] = starts[t] + float(alpha) * (ends[t] - starts[t])
        embeds.requires_grad_(True)
        with torch.enable_grad():
            logits = output_logits(loaded.model, {"inputs_embeds": embeds, "attention_mask": inputs["attention_mask"]})
            target = torch.tensor([targets[t] for t, _ in chunk], dtype=torch.long)
            f = explained_value(logits, target)
            (grad,) = torch.autograd.grad(f.sum(), embeds)
        f_np = f.detach().double().cpu().numpy()
        for row, job in enumerate(indices):
            t = jobs[job][0]
            visit(job, grad[row, : len(ends[t])], float(f_np[row]))
        del grad, logits, embeds


def path_gradients(
    ctx: MethodContext,
    starts: Sequence[torch.Tensor],
    alphas: np.ndarray,
    weights: np.ndarray,
) -> list[PathGradients]:
    """For each text ``t``: gradients along ``starts[t] -> embeddings of ctx.encoded[t]``."""
    ends = [word_embeddings(ctx, e.input_ids) for e in ctx.encoded]
    steps = len(alphas)
    grad_sums = [torch.zeros_like(end, dtype=torch.float64) for end in ends]
    values = [np.zeros(steps) for _ in ends]

    # One row per (text, step); sorted longest first with ties in (text, step) order.
    jobs = [(t, float(alphas[k])) for t in range(len(ends)) for k in range(steps)]

    def visit(job: int, grad: torch.Tensor, f: float) -> None:
        t, k = divmod(job, steps)
        grad_sums[t] += float(weights[k]) * grad.double()
        values[t][k] = f

    gradient_rows(ctx, starts, ends, jobs, visit)
    return [
        PathGradients(
            weighted_gradient=grad_sums[t].cpu().numpy(),
            values=values[t],
            start=starts[t].double().cpu().numpy(),
            end=ends[t].double().cpu().numpy(),
        )
        for t in range(len(ends))
    ]
