"""Gradient-weighted attention rollout (Chefer, Gur & Wolf 2021, "Generic Attention-model
Explainability", encoder rule).

Per layer: ``Ā = mean over heads of (∇A ⊙ A)⁺`` (attention times the gradient of ``f`` with
respect to it, negative parts dropped), then ``R ← R + Ā R`` from ``R = I``. The score is the
[CLS] row of ``R − I``. Gradients come from one batched forward/backward pass: the attention
maps returned by the eager implementation are the tensors the model multiplies by, so
``autograd`` reaches them directly.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import method_infos as infos
from ..forward import attention_row_bytes, backward_row_bytes
from .base import MethodContext, TokenScores, explained_value, text_batches, zero_specials


def gradient_rollout(attention: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """``R − I`` ``(n, n)`` from per-layer, per-head attention and its gradient ``(L, H, n, n)``."""
    attention = np.asarray(attention, dtype=np.float64)
    gradient = np.asarray(gradient, dtype=np.float64)
    n = attention.shape[-1]
    relevance = np.eye(n)
    for a, g in zip(attention, gradient):
        weighted = np.clip(a * g, 0.0, None).mean(axis=0)
        relevance = relevance + weighted @ relevance
    return relevance - np.eye(n)


class GradRollout:
    info = infos.GRAD_ROLLOUT

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        loaded = ctx.loaded
        targets = ctx.targets
        results: list[TokenScores | None] = [None] * len(ctx.extractions)
        backward, maps = backward_row_bytes(loaded), attention_row_bytes(loaded)
        # Backward activations, plus the maps and their gradients copied out in float64.
        for batch in text_batches(ctx, lambda n: backward(n) + 5 * maps(n)):
            with torch.enable_grad():
                out = loaded.model(**batch.inputs, output_attentions=True)
                attentions = list(out.attentions)
                f = explained_value(out.logits, torch.tensor([targets[i] for i in batch.indices], dtype=torch.long))
                grads = torch.autograd.grad(f.sum(), attentions)
            # (batch, layers, heads, T, T), once per batch.
            att = torch.stack([a.detach() for a in attentions], dim=1).double().cpu().numpy()
            grad = torch.stack(grads, dim=1).double().cpu().numpy()
            for row, (index, n) in enumerate(zip(batch.indices, batch.lengths)):
                enc = ctx.extractions[index].encoded
                relevance = gradient_rollout(att[row, :, :, :n, :n], grad[row, :, :, :n, :n])
                # [CLS]'s own entry and the other specials carry no token information: shown as 0.
                results[index] = TokenScores(self.info.name, enc.text_id, zero_specials(relevance[0], enc))
            del out, attentions, grads
        return [r for r in results if r is not None]


GRAD_ROLLOUT = GradRollout()
