"""The registry of explanation methods: one module per method, one score vector per text.

Owns running the selected methods; which methods a ``--methods`` / ``--no-gradients`` selection
names is :func:`reportgen.method_infos.choose`'s rule. Each method is an object with ``info``
(:class:`MethodInfo`) and ``compute(ctx) -> list[TokenScores]``; the infos and their display
order live in :mod:`reportgen.method_infos`, which needs no torch.
"""

from __future__ import annotations

from typing import Sequence

from ..method_infos import METHOD_INFOS, choose
from .attention import CLS_ATTENTION, MEAN_RECEIVED
from .attn_norm import ATTN_NORM
from ..types import MethodInfo, TokenScores
from .base import Method, MethodContext, explained_index, explained_value
from .grad_input import GRAD_INPUT
from .grad_rollout import GRAD_ROLLOUT
from .integrated_gradients import DEFAULT_STEPS, DELTA_TOLERANCE, INTEGRATED_GRADIENTS, delta_warning
from .rollout import ROLLOUT

_BY_INFO: dict[MethodInfo, Method] = {
    m.info: m for m in (CLS_ATTENTION, MEAN_RECEIVED, ROLLOUT, ATTN_NORM, GRAD_INPUT, INTEGRATED_GRADIENTS, GRAD_ROLLOUT)
}
REGISTRY: dict[str, Method] = {info.name: _BY_INFO[info] for info in METHOD_INFOS}
"""Every method, in display order (:data:`reportgen.method_infos.METHOD_INFOS`)."""


def resolve(names: Sequence[str] | None, gradients: bool = True) -> list[Method]:
    """The methods to run, in display order: all (``names`` None) or the named subset.

    ``gradients=False`` drops the gradient methods; naming one of them then is an error. The
    rules (and their ValueErrors) are :func:`reportgen.method_infos.choose`'s, which needs no torch.
    """
    return [REGISTRY[info.name] for info in choose(names, gradients)]


def run_methods(methods: Sequence[Method], ctx: MethodContext) -> dict[str, list[TokenScores]]:
    """Each method's scores (one per text, in ``ctx`` order), keyed by name in the given order."""
    results: dict[str, list[TokenScores]] = {}
    for method in methods:
        scores = method.compute(ctx)
        if len(scores) != len(ctx.encoded):
            raise RuntimeError(f"{method.info.name} returned {len(scores)} results for {len(ctx.encoded)} texts")
        results[method.info.name] = scores
    return results


__all__ = [
    "DEFAULT_STEPS",
    "DELTA_TOLERANCE",
    "REGISTRY",
    "Method",
    "MethodContext",
    "MethodInfo",
    "TokenScores",
    "delta_warning",
    "explained_index",
    "explained_value",
    "resolve",
    "run_methods",
]
