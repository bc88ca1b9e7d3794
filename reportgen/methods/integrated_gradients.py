"""Integrated Gradients (Sundararajan et al. 2017) on the word embeddings.

Baseline: the same token sequence with every non-special token replaced by [PAD] (special tokens
and the attention mask unchanged), so position and segment embeddings are the same on the whole
path and special tokens get exactly 0. f(x) and f(baseline) come from the same batched passes,
and the convergence delta ``sum(scores) - (f(x) - f(baseline))`` is reported per text.

Two ways to integrate the path on [0, 1]:

* **Forced steps** (``ctx.ig_steps = N``, ``--ig-steps N``): N-point Gauss-Legendre quadrature on
  every text, plus two weight-0 points at alpha 0 and 1 for f(baseline) and f(x).
* **Adaptive** (``ctx.ig_steps = None``, the default): Clenshaw-Curtis quadrature, refined per
  text. Gauss-Legendre nodes do not nest (N and 2N share no node), so doubling them would
  recompute every point; Clenshaw-Curtis nodes ``(1 - cos(j pi / N)) / 2`` do nest (level 2N
  holds every node of level N), converge about as fast as Gauss-Legendre on these smooth paths,
  and include alpha 0 and 1 themselves, so f(baseline) and f(x) are nodes of the rule. Every
  text starts at ``IG_START_STEPS`` (8) steps, 9 points; a text whose
  ``|delta| > tolerance(text)`` gets the N new midpoints of level 2N, and so on up to
  ``ctx.ig_max_steps`` (128). At each level the new points of all unfinished texts share
  batched passes. A text's steps are its level's N (N + 1 model evaluations in all).

``tolerance(text) = max(ctx.ig_tolerance * |f(x) - f(baseline)|, 1e-5 * max(|f(x)|, |f(baseline)|), 1e-6)``:
the two floors only matter when f(x) is within about 0.1% of f(baseline), where float32
rounding of the gradients is as large as the delta itself and refining cannot help.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import method_infos as infos
from .base import IG_START_STEPS, MethodContext, TokenScores
from .gradients import gradient_rows, path_gradients, word_embeddings

DEFAULT_STEPS = 32
"""Forced Gauss-Legendre steps of the pipeline before adaptive steps existed (every text got 32)."""
DELTA_TOLERANCE = 0.05
"""Warn when ``|delta|`` exceeds this fraction of ``|f(x) - f(baseline)|``."""
DELTA_FLOOR_RELATIVE = 1e-5
"""Adaptive stop: ``|delta|`` below this fraction of ``max(|f(x)|, |f(baseline)|)`` is rounding."""
DELTA_FLOOR_ABSOLUTE = 1e-6
"""Adaptive stop: ``|delta|`` below this is rounding, whatever the output's scale."""


def quadrature(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1]; weights sum to 1."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return (nodes + 1.0) / 2.0, weights / 2.0


def clenshaw_curtis_nodes(steps: int) -> np.ndarray:
    """The ``steps + 1`` Clenshaw-Curtis nodes on [0, 1], ascending, exactly 0 and 1 at the ends."""
    if steps < 2 or steps % 2:
        raise ValueError("Clenshaw-Curtis steps must be even and at least 2")
    nodes = (1.0 - np.cos(np.pi * np.arange(steps + 1) / steps)) / 2.0
    nodes[0], nodes[-1] = 0.0, 1.0
    return nodes


def clenshaw_curtis(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Clenshaw-Curtis nodes and weights on [0, 1] for an even ``steps`` (``steps + 1`` points).

    Weights (Trefethen, *Spectral Methods in MATLAB*, ``clencurt``) on [-1, 1], halved:
    ``w_j = c_j / N * (1 - sum_{k=1}^{N/2} b_k cos(2 k theta_j) / (4 k^2 - 1))`` with
    ``theta_j = j pi / N``, ``c_j = 1`` at the ends and 2 inside, ``b_k = 1`` for ``k = N/2``
    and 2 otherwise. Exact for polynomials up to degree ``steps + 1``; weights sum to 1.
    """
    nodes = clenshaw_curtis_nodes(steps)
    theta = np.pi * np.arange(steps + 1) / steps
    k = np.arange(1, steps // 2 + 1)
    b = np.where(2 * k == steps, 1.0, 2.0)
    series = (np.cos(2.0 * np.outer(theta, k)) * (b / (4.0 * k * k - 1.0))).sum(axis=1)
    c = np.full(steps + 1, 2.0)
    c[[0, -1]] = 1.0
    return nodes, c / steps * (1.0 - series) / 2.0


def baseline_ids(input_ids: tuple[int, ...], special: tuple[bool, ...], pad_id: int) -> list[int]:
    return [i if s else pad_id for i, s in zip(input_ids, special)]


def relative_delta(delta: float, difference: float) -> float:
    if difference != 0.0:
        return abs(delta) / abs(difference)
    return 0.0 if delta == 0.0 else float("inf")


def delta_warning(scores: TokenScores, tolerance: float = DELTA_TOLERANCE) -> bool:
    """True when the text's convergence delta is too large for the values to be trusted."""
    return scores.delta_relative is not None and scores.delta_relative > tolerance


def stop_tolerance(f_x: float, f_baseline: float, tolerance: float) -> float:
    """The largest ``|delta|`` adaptive refinement accepts for a text (see the module docstring)."""
    return max(
        tolerance * abs(f_x - f_baseline),
        DELTA_FLOOR_RELATIVE * max(abs(f_x), abs(f_baseline)),
        DELTA_FLOOR_ABSOLUTE,
    )


def adaptive_levels(max_steps: int) -> list[int]:
    """``IG_START_STEPS``, doubled up to ``max_steps`` (a power of two)."""
    levels = [IG_START_STEPS]
    while levels[-1] < max_steps:
        levels.append(levels[-1] * 2)
    return levels


@dataclass(frozen=True, eq=False)
class _Result:
    scores: np.ndarray
    f_baseline: float
    f_x: float
    steps: int


class IntegratedGradients:
    info = infos.INTEGRATED_GRADIENTS

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        tokenizer = ctx.loaded.tokenizer
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        starts = [word_embeddings(ctx, baseline_ids(e.input_ids, e.special, pad_id)) for e in ctx.encoded]
        results = self._forced(ctx, starts) if ctx.ig_steps is not None else self._adaptive(ctx, starts)
        out = []
        for enc, r in zip(ctx.encoded, results):
            delta = float(r.scores.sum()) - (r.f_x - r.f_baseline)
            out.append(
                TokenScores(
                    self.info.name,
                    enc.text_id,
                    r.scores,
                    baseline_prediction=r.f_baseline,
                    delta=delta,
                    delta_relative=relative_delta(delta, r.f_x - r.f_baseline),
                    steps=r.steps,
                )
            )
        return out

    def _forced(self, ctx: MethodContext, starts: list) -> list[_Result]:
        assert ctx.ig_steps is not None
        nodes, weights = quadrature(ctx.ig_steps)
        # Two extra points with weight 0 give f(baseline) and f(x) from the same passes.
        alphas = np.concatenate([nodes, [0.0, 1.0]])
        path_weights = np.concatenate([weights, [0.0, 0.0]])
        paths = path_gradients(ctx, starts, alphas, path_weights)
        return [
            _Result(
                (path.weighted_gradient * (path.end - path.start)).sum(axis=1),
                float(path.values[-2]),
                float(path.values[-1]),
                ctx.ig_steps,
            )
            for path in paths
        ]

    def _adaptive(self, ctx: MethodContext, starts: list) -> list[_Result]:
        top = ctx.ig_max_steps
        grid = clenshaw_curtis_nodes(top)
        ends = [word_embeddings(ctx, e.input_ids) for e in ctx.encoded]
        moves = [end.double() - start.double() for start, end in zip(starts, ends)]
        # Per text, per node index m of the finest grid: the gradient . (x - baseline) per token, and f.
        dots: list[dict[int, np.ndarray]] = [{} for _ in ends]
        values: list[dict[int, float]] = [{} for _ in ends]
        results: list[_Result | None] = [None] * len(ends)
        active = list(range(len(ends)))
        for steps in adaptive_levels(top):
            stride = top // steps
            jobs = [(t, m) for t in active for m in range(0, top + 1, stride) if m not in values[t]]

            def visit(job: int, grad, f: float) -> None:
                t, m = jobs[job]
                dots[t][m] = (grad.double() * moves[t]).sum(dim=1).cpu().numpy()
                values[t][m] = f

            gradient_rows(ctx, starts, ends, [(t, float(grid[m])) for t, m in jobs], visit)
            _, weights = clenshaw_curtis(steps)
            for t in active:
                points = range(0, top + 1, stride)
                scores = weights @ np.stack([dots[t][m] for m in points])
                f_b, f_x = values[t][0], values[t][top]
                delta = float(scores.sum()) - (f_x - f_b)
                if steps == top or abs(delta) <= stop_tolerance(f_x, f_b, ctx.ig_tolerance):
                    results[t] = _Result(scores, f_b, f_x, steps)
                    dots[t].clear()
            active = [t for t in active if results[t] is None]
            if not active:
                break
        return [r for r in results if r is not None]


def rows_used(steps: int, adaptive: bool) -> int:
    """Model evaluations one text costs: forced Gauss-Legendre adds alpha 0 and 1; Clenshaw-Curtis has them."""
    return steps + 1 if adaptive else steps + 2


INTEGRATED_GRADIENTS = IntegratedGradients()
