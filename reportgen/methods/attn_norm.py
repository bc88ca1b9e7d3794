"""Norm-based attention (Kobayashi et al. 2020) of the last layer, [CLS] row.

Score of token ``j``: ``|| sum_h alpha_h[0, j] * (x_j W_V^h + b_V^h) W_O^h ||``, where ``x`` is
the last layer's input and ``W_O^h`` the block of the output projection that reads head ``h``.
The output projection's bias is added once per query, not per token, so it is left out.

ALBERT shares one layer's weights across layers, so one attention module runs once per layer:
a forward pre-hook keeps its input from the LAST call of the forward pass, which is the input of
the last layer. BERT-style encoders and DistilBERT are located the same way (their last layer's
module runs once); other architectures get a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import method_infos as infos
from ..forward import attention_row_bytes
from .base import MethodContext, TokenScores, text_batches


@dataclass(frozen=True, eq=False)
class LastAttention:
    """The parts of the last layer's self-attention that the formula reads."""

    hooked: Any
    """Module whose first forward argument is the layer's input ``x``."""
    value: Any
    """Linear ``x -> x W_V + b_V`` (all heads, concatenated)."""
    output: Any
    """Linear ``W_O`` reading the concatenated heads (its bias is not used)."""


def last_attention(model: Any) -> LastAttention:
    """Locate the last layer's attention: ALBERT (shared layers), BERT-style, DistilBERT."""
    config = model.config
    base = model.base_model
    if getattr(config, "model_type", None) == "albert":
        layers, groups = int(config.num_hidden_layers), int(config.num_hidden_groups)
        # Same group arithmetic as transformers' AlbertTransformer.forward.
        group = int((layers - 1) / (layers / groups))
        attention = base.encoder.albert_layer_groups[group].albert_layers[-1].attention
        return LastAttention(attention, attention.value, attention.dense)
    encoder_layers = getattr(getattr(base, "encoder", None), "layer", None)
    if encoder_layers is not None and hasattr(encoder_layers[-1].attention, "self"):
        attention = encoder_layers[-1].attention  # BERT, RoBERTa, ELECTRA
        return LastAttention(attention.self, attention.self.value, attention.output.dense)
    transformer_layers = getattr(getattr(base, "transformer", None), "layer", None)
    if transformer_layers is not None and hasattr(transformer_layers[-1].attention, "v_lin"):
        attention = transformer_layers[-1].attention  # DistilBERT
        return LastAttention(attention, attention.v_lin, attention.out_lin)
    raise ValueError(
        f"attn_norm cannot find the attention weights of a {config.model_type!r} model "
        "(supported: ALBERT, BERT, RoBERTa, ELECTRA, DistilBERT)"
    )


def weighted_value_norms(x: torch.Tensor, alpha_cls: torch.Tensor, parts: LastAttention) -> torch.Tensor:
    """``(batch, T)`` norms of ``sum_h alpha_h[0, j] f_h(x_j)`` for one layer's attention module.

    ``x`` is ``(batch, T, hidden)``, ``alpha_cls`` ``(batch, heads, T)`` (the [CLS] query row).
    """
    batch, width, _ = x.shape
    heads = alpha_cls.shape[1]
    value = parts.value(x).view(batch, width, heads, -1)  # x_j W_V^h + b_V^h
    weighted = value * alpha_cls.transpose(1, 2).unsqueeze(-1)  # alpha_h[0, j] * ...
    # Concatenating heads and applying W_O (no bias) sums the per-head products over h.
    mixed = weighted.reshape(batch, width, -1) @ parts.output.weight.T
    return mixed.norm(dim=-1)


class AttnNorm:
    info = infos.ATTN_NORM

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        loaded = ctx.loaded
        parts = last_attention(loaded.model)
        captured: list[torch.Tensor] = []

        def keep_input(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            hidden = args[0] if args else kwargs["hidden_states"]
            captured[:] = [hidden]  # later calls overwrite: the last call is the last layer

        results: list[TokenScores | None] = [None] * len(ctx.extractions)
        handle = parts.hooked.register_forward_pre_hook(keep_input, with_kwargs=True)
        try:
            for batch in text_batches(ctx, attention_row_bytes(loaded)):
                with torch.inference_mode():
                    out = loaded.model(**batch.inputs, output_attentions=True)
                    alpha_cls = out.attentions[-1][:, :, 0, :]
                    norms = weighted_value_norms(captured[0], alpha_cls, parts)
                norms = norms.float().cpu().numpy().astype(np.float64)
                for row, (index, n) in enumerate(zip(batch.indices, batch.lengths)):
                    results[index] = TokenScores(self.info.name, ctx.extractions[index].text_id, norms[row, :n].copy())
                captured.clear()
        finally:
            handle.remove()
        return [r for r in results if r is not None]


ATTN_NORM = AttnNorm()
