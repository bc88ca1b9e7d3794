"""The registry of explanation methods: one module per method, one score vector per text.

Owns the ``--methods`` / ``--no-gradients`` selection and running the selected methods. Each
method is an object with ``info`` (:class:`MethodInfo`) and ``compute(ctx) -> list[TokenScores]``;
the infos and their display order live in :mod:`reportgen.method_infos`, which needs no torch.
"""

from __future__ import annotations

from typing import Sequence

from ..method_infos import METHOD_INFOS
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

    ``gradients=False`` drops the gradient methods; naming one of them then is an error.
    """
    if names is None:
        chosen = list(REGISTRY)
    else:
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            raise ValueError(
                f"unknown method {unknown[0]!r}; known methods: {', '.join(REGISTRY)}"
            )
        wanted = set(names)
        chosen = [n for n in REGISTRY if n in wanted]
        if not chosen:
            raise ValueError(f"no method chosen; known methods: {', '.join(REGISTRY)}")
    if not gradients:
        named = [n for n in chosen if REGISTRY[n].info.needs_gradients and names is not None]
        if named:
            raise ValueError(f"method {named[0]!r} needs gradients, which --no-gradients turns off")
        chosen = [n for n in chosen if not REGISTRY[n].info.needs_gradients]
    return [REGISTRY[n] for n in chosen]


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
