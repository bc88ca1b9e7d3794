"""Attention rollout (Abnar & Zuidema 2020) from the head-averaged attention of every layer.

Per layer: rows renormalised over the real tokens, mixed with the identity for the residual
connection (``0.5 A + 0.5 I``), then multiplied through the layers (last layer on the left);
the [CLS] row of the product is the score. No model call: it reads the extraction.
"""

from __future__ import annotations

import numpy as np

from .. import method_infos as infos
from .base import MethodContext, TokenScores

RESIDUAL_WEIGHT = 0.5
"""Weight of the identity (the residual path) in each layer's mixed matrix."""


def residual_attention(attention: np.ndarray) -> np.ndarray:
    """``0.5 A + 0.5 I`` of one layer's ``(n, n)`` attention, rows renormalised first."""
    a = np.asarray(attention, dtype=np.float64)
    # Rows of the extracted matrix sum to 1 only up to float32 rounding and the masked pads.
    a = a / a.sum(axis=-1, keepdims=True)
    return (1.0 - RESIDUAL_WEIGHT) * a + RESIDUAL_WEIGHT * np.eye(a.shape[-1])


def rollout_products(layer_mean: np.ndarray) -> list[np.ndarray]:
    """Every intermediate product: item ``l`` is ``Â_l @ ... @ Â_0`` for layers ``0..l``."""
    products: list[np.ndarray] = []
    current: np.ndarray | None = None
    for layer in np.asarray(layer_mean):
        mixed = residual_attention(layer)
        current = mixed if current is None else mixed @ current
        products.append(current)
    return products


def attention_rollout(layer_mean: np.ndarray) -> np.ndarray:
    """The full rollout matrix ``(n, n)``: row ``i`` is how much token ``i`` draws on each input."""
    return rollout_products(layer_mean)[-1]


class Rollout:
    info = infos.ROLLOUT

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        return [
            TokenScores(self.info.name, x.text_id, attention_rollout(x.layer_mean)[0].copy())
            for x in ctx.extractions
        ]


ROLLOUT = Rollout()
