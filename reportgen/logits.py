"""The model's output alone, for the passes that read nothing else (faithfulness, gradients).

Owns :func:`output_logits`: the logits of a padded batch, the numbers ``model(**inputs).logits``
gives, to float32 rounding (and their gradients, where autograd is on). Faithfulness runs tens of
thousands of masked inputs per hundred texts and reads one value of each, and the gradient
methods read one value's gradient, so what the model computes that nothing reads is much of
their cost. For an ALBERT sequence classifier in eval mode this module runs the model's own modules
(the same weights, in the same order) and skips that work:

* the last layer is computed at [CLS] only: the pooler reads nothing else, so the other
  positions' queries, attention outputs and feed-forward passes are never used (their keys and
  values, which [CLS] attends to, are still computed from every token);
* attention is PyTorch's fused scaled-dot-product kernel, which keeps no weights;
* ``gelu_new`` (the tanh GELU that ALBERT uses) is PyTorch's fused kernel for the same formula,
  not five separate tensor operations; where no gradient is wanted (faithfulness), it is the same
  formula written with a sigmoid, ``x * sigmoid(2 * sqrt(2 / pi) * (x + 0.044715 x^3))``
  (``(1 + tanh(z)) / 2 = sigmoid(2 z)``), in place: PyTorch's CPU ``tanh`` is about 3x slower than
  its ``sigmoid``, and the fused kernel was a fifth of a faithfulness pass on the sample model.

Measured on the sample model: about 30% less time per faithfulness row (docs/benchmarks.md,
issue 13). Any
other model, or an ALBERT this path does not reproduce (in training mode, or with a head other
than the pooled linear classifier), runs ``model(**inputs)`` unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_TANH_GELU_SCALE = 2.0 * math.sqrt(2.0 / math.pi)


def _tanh_gelu_inference(x: torch.Tensor) -> torch.Tensor:
    """``gelu(x, approximate="tanh")`` to float32 rounding, computed in place on one new tensor
    (``x**2``); only where autograd is off (the in-place steps would break a backward pass)."""
    y = torch.square(x)
    y.mul_(_TANH_GELU_SCALE * 0.044715).add_(_TANH_GELU_SCALE).mul_(x)
    return y.sigmoid_().mul_(x)


def _tanh_gelu(x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() and x.requires_grad:
        return F.gelu(x, approximate="tanh")
    return _tanh_gelu_inference(x)


FUSED_ACTIVATIONS = {
    "gelu_new": _tanh_gelu,
    "gelu_pytorch_tanh": _tanh_gelu,
    "gelu": F.gelu,
}
"""``hidden_act`` values with a fused PyTorch kernel for the same formula; others use the model's module."""


def uses_direct_path(model: torch.nn.Module) -> bool:
    """Whether :func:`output_logits` runs ``model`` through the direct ALBERT path."""
    from transformers import AlbertForSequenceClassification

    return (
        type(model) is AlbertForSequenceClassification
        and not model.training
        and model.albert.pooler is not None
        and isinstance(model.classifier, torch.nn.Linear)
    )


def output_logits(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """``(rows, labels)`` logits of a padded batch: ``attention_mask`` and either ``input_ids``
    (as :func:`reportgen.forward.pad_batch` builds them) or ``inputs_embeds`` (word embeddings;
    position and segment embeddings are the model's, as in its own forward)."""
    if not uses_direct_path(model):
        return model(**inputs).logits
    return _albert_logits(model, inputs.get("input_ids"), inputs.get("inputs_embeds"), inputs["attention_mask"])


def _albert_logits(
    model: torch.nn.Module, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None, attention_mask: torch.Tensor
) -> torch.Tensor:
    albert = model.albert
    config = model.config
    activation = FUSED_ACTIVATIONS.get(config.hidden_act)
    # True where a key may be attended to: padding is never attended (as the model's own mask does).
    keys = attention_mask[:, None, None, :].bool()
    embedded = albert.embeddings(input_ids=input_ids, inputs_embeds=inputs_embeds)
    hidden = albert.encoder.embedding_hidden_mapping_in(embedded)
    layers, groups = config.num_hidden_layers, config.num_hidden_groups
    for i in range(layers):
        # The layer-to-group rule of AlbertTransformer.forward.
        group = albert.encoder.albert_layer_groups[int(i / (layers / groups))]
        inner = group.albert_layers
        for j, layer in enumerate(inner):
            last = i == layers - 1 and j == len(inner) - 1
            hidden = _layer(layer, hidden, keys, activation, cls_only=last)
    pooled = albert.pooler_activation(albert.pooler(hidden[:, 0]))
    return model.classifier(pooled)


def _layer(layer: torch.nn.Module, hidden: torch.Tensor, keys: torch.Tensor, activation, cls_only: bool) -> torch.Tensor:  # noqa: ANN001 - a callable or None
    """One AlbertLayer (attention, residual and norm, feed-forward, residual and norm), for every
    position or, with ``cls_only``, for [CLS] alone (shape ``(rows, 1, hidden)``)."""
    attention = layer.attention
    rows, width, _ = hidden.shape
    heads, size = attention.num_attention_heads, attention.attention_head_size
    queries_from = hidden[:, :1] if cls_only else hidden
    query = attention.query(queries_from).view(rows, -1, heads, size).transpose(1, 2)
    key = attention.key(hidden).view(rows, width, heads, size).transpose(1, 2)
    value = attention.value(hidden).view(rows, width, heads, size).transpose(1, 2)
    context = F.scaled_dot_product_attention(query, key, value, attn_mask=keys, scale=attention.scaling)
    context = context.transpose(1, 2).reshape(rows, queries_from.shape[1], heads * size)
    attended = attention.LayerNorm(queries_from + attention.dense(context))
    inner = layer.ffn(attended)
    inner = activation(inner) if activation is not None else layer.activation(inner)
    return layer.full_layer_layer_norm(layer.ffn_output(inner) + attended)
