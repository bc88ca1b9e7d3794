"""What each explanation method is (name, title, sign, gradients, description), in display order.

The one place the methods are described: each method in :mod:`reportgen.methods` takes its
``info`` from here, and the registry (``reportgen.methods.REGISTRY``) follows
:data:`METHOD_INFOS`' order. Kept apart from the methods because they import torch: the CLI
lists the methods in its ``--help`` from this module, without loading torch.

Also owns the ``--methods`` / ``--no-gradients`` selection rules (:func:`choose`), so a run
refuses a bad selection before it imports torch; ``reportgen.methods.resolve`` maps the
chosen infos to the methods themselves.
"""

from __future__ import annotations

from typing import Sequence

from .types import MethodInfo

CLS_ATTENTION = MethodInfo(
    name="cls_attention",
    title="[CLS] attention",
    signed=False,
    needs_gradients=False,
    description=(
        "Last layer, attention from [CLS] to each token, averaged over heads: "
        "mean over heads h of A_h[0, j]."
    ),
)

MEAN_RECEIVED = MethodInfo(
    name="mean_received",
    title="Mean attention received",
    signed=False,
    needs_gradients=False,
    description=(
        "Last layer, attention each token receives, averaged over heads and over all query "
        "tokens i: mean over i and h of A_h[i, j]."
    ),
)

ROLLOUT = MethodInfo(
    name="rollout",
    title="Attention rollout",
    signed=False,
    needs_gradients=False,
    description=(
        "Attention rollout (Abnar & Zuidema 2020): each layer's head-averaged attention is "
        "mixed with the identity (0.5·A + 0.5·I, for the residual connection), the layers are "
        "multiplied together, and the [CLS] row of the product is shown."
    ),
)

ATTN_NORM = MethodInfo(
    name="attn_norm",
    title="Norm-based attention",
    signed=False,
    needs_gradients=False,
    description=(
        "Norm-based attention (Kobayashi et al. 2020), last layer, [CLS] row: the length of "
        "the vector each token sends to [CLS], Σ_h α_h[0, j]·(x_j W_V^h + b_V^h) W_O^h "
        "(the output projection's bias is shared by all tokens and left out)."
    ),
)

GRAD_INPUT = MethodInfo(
    name="grad_input",
    title="Gradient × input",
    signed=True,
    needs_gradients=True,
    description=(
        "Gradient × input: the gradient of the explained output with respect to each token's "
        "word embedding, multiplied by that embedding and summed over its dimensions; "
        "special tokens are shown as 0."
    ),
)

INTEGRATED_GRADIENTS = MethodInfo(
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

GRAD_ROLLOUT = MethodInfo(
    name="grad_rollout",
    title="Gradient × attention rollout",
    signed=False,
    needs_gradients=True,
    description=(
        "Gradient-weighted rollout (Chefer et al. 2021): each layer's attention times its "
        "gradient, negatives dropped and heads averaged, accumulated as R ← R + ĀR through the "
        "layers; the [CLS] row of R − I is shown (special tokens as 0). Only what pushes the "
        "output up counts: tokens that lower it get no relevance."
    ),
)

METHOD_INFOS: tuple[MethodInfo, ...] = (
    CLS_ATTENTION, MEAN_RECEIVED, ROLLOUT, ATTN_NORM, GRAD_INPUT, INTEGRATED_GRADIENTS, GRAD_ROLLOUT,
)
"""Every method, in display order."""


def choose(names: Sequence[str] | None, gradients: bool = True) -> tuple[MethodInfo, ...]:
    """The methods to run, in display order: all (``names`` None) or the named subset.

    ``gradients=False`` drops the gradient methods; naming one of them then is an error.
    ValueError for an unknown name, an empty choice or a gradient method named with
    ``gradients=False``.
    """
    by_name = {info.name: info for info in METHOD_INFOS}
    if names is None:
        chosen = list(METHOD_INFOS)
    else:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(
                f"unknown method {unknown[0]!r}; known methods: {', '.join(by_name)}"
            )
        wanted = set(names)
        chosen = [info for info in METHOD_INFOS if info.name in wanted]
        if not chosen:
            raise ValueError(f"no method chosen; known methods: {', '.join(by_name)}")
    if not gradients:
        named = [info.name for info in chosen if info.needs_gradients and names is not None]
        if named:
            raise ValueError(f"method {named[0]!r} needs gradients, which --no-gradients turns off")
        chosen = [info for info in chosen if not info.needs_gradients]
    return tuple(chosen)
