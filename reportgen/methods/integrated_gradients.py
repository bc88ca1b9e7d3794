"""Integrated Gradients (Sundararajan et al. 2017) on the word embeddings.

Baseline: the same token sequence with every non-special token replaced by [PAD] (special tokens
and the attention mask unchanged), so position and segment embeddings are the same on the whole
path and special tokens get exactly 0. The path integral uses Gauss-Legendre quadrature on
[0, 1], which converges much faster than a Riemann sum for these smooth paths; f(x) and
f(baseline) come from the same batched passes, and the convergence delta is reported per text.
"""

from __future__ import annotations

import numpy as np

from .base import MethodContext, MethodInfo, TokenScores
from .gradients import path_gradients, word_embeddings

DEFAULT_STEPS = 32
DELTA_TOLERANCE = 0.05
"""Warn when ``|delta|`` exceeds this fraction of ``|f(x) - f(baseline)|``."""


def quadrature(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1]; weights sum to 1."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return (nodes + 1.0) / 2.0, weights / 2.0


def baseline_ids(input_ids: tuple[int, ...], special: tuple[bool, ...], pad_id: int) -> list[int]:
    return [i if s else pad_id for i, s in zip(input_ids, special)]


def relative_delta(delta: float, difference: float) -> float:
    if difference != 0.0:
        return abs(delta) / abs(difference)
    return 0.0 if delta == 0.0 else float("inf")


def delta_warning(scores: TokenScores, tolerance: float = DELTA_TOLERANCE) -> bool:
    """True when the text's convergence delta is too large for the values to be trusted."""
    return scores.delta_relative is not None and scores.delta_relative > tolerance


class IntegratedGradients:
    info = MethodInfo(
        name="integrated_gradients",
        title="Integrated Gradients",
        signed=True,
        needs_gradients=True,
        description=(
            "Integrated Gradients on the word embeddings, from a baseline that keeps [CLS]/[SEP] "
            "and replaces every other token by [PAD]: each token's share of f(x) − f(baseline), "
            "so the values sum to that difference (special tokens are 0)."
        ),
    )

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        tokenizer = ctx.loaded.tokenizer
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        starts = [word_embeddings(ctx, baseline_ids(e.input_ids, e.special, pad_id)) for e in ctx.encoded]
        nodes, weights = quadrature(ctx.ig_steps)
        # Two extra points with weight 0 give f(baseline) and f(x) from the same passes.
        alphas = np.concatenate([nodes, [0.0, 1.0]])
        path_weights = np.concatenate([weights, [0.0, 0.0]])
        paths = path_gradients(ctx, starts, alphas, path_weights)
        results = []
        for enc, path in zip(ctx.encoded, paths):
            scores = (path.weighted_gradient * (path.end - path.start)).sum(axis=1)
            f_baseline, f_x = float(path.values[-2]), float(path.values[-1])
            delta = float(scores.sum()) - (f_x - f_baseline)
            results.append(
                TokenScores(
                    self.info.name,
                    enc.text_id,
                    scores,
                    baseline_prediction=f_baseline,
                    delta=delta,
                    delta_relative=relative_delta(delta, f_x - f_baseline),
                )
            )
        return results


INTEGRATED_GRADIENTS = IntegratedGradients()
