"""Tokenising texts and running the model: predictions and attention, batch by batch.

This is where torch stops: everything returned is numpy. Texts are sorted by length and padded
only to the longest text of their batch; padding positions are sliced off before any number is
kept. Each batch's attention tensors are reduced at once to what the report needs (the
head-averaged matrix per layer in float32 for the methods, and every head quantised to 16 bits),
and every head is handed to an optional ``on_attention`` callback (the page's size-bounded
store, :class:`reportgen.budget.AttentionLadder`). The quantised heads are kept only when asked
(``keep_heads``: the data file stores them), so no batch tensor outlives its batch and a run
without a data file holds no stage with every head of every text.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from .errors import ModelLoadError
from .forward import attention_row_bytes, length_sorted_batches, pad_batch, padded_batches
from .inputs import InputText
from .loading import LoadedModel
from .types import QUANT_SCALE, EncodedText, TextExtraction

ProgressCallback = Callable[[int], None]
AttentionCallback = Callable[[int, np.ndarray], None]
"""Called once per text with its index and its quantised heads, uint16 ``(layers, heads, n, n)``
(``QUANT_SCALE``): the page's store codes exactly what a data file keeps."""


def encode_texts(loaded: LoadedModel, texts: Sequence[InputText], max_length: int) -> list[EncodedText]:
    """Tokenise each text, truncating to ``max_length`` tokens and flagging what was cut."""
    tokenizer = loaded.tokenizer
    encoded = []
    for item in texts:
        full = tokenizer(item.text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        kwargs = dict(truncation=True, max_length=max_length, return_special_tokens_mask=True)
        try:
            enc = tokenizer(item.text, return_offsets_mapping=True, **kwargs)
            offsets = tuple((int(a), int(b)) for a, b in enc["offset_mapping"])
        except (NotImplementedError, ValueError):
            enc = tokenizer(item.text, **kwargs)
            offsets = None
        ids = tuple(int(i) for i in enc["input_ids"])
        special = tuple(bool(s) for s in enc["special_tokens_mask"])
        encoded.append(
            EncodedText(
                text_id=item.text_id,
                input_ids=ids,
                tokens=tuple(tokenizer.convert_ids_to_tokens(list(ids))),
                offsets=offsets,
                special=special,
                truncated=len(full) > len(ids),
                full_length=len(full),
            )
        )
    return encoded


def extract(
    loaded: LoadedModel,
    encoded: Sequence[EncodedText],
    batch_size: int = 16,
    on_batch: ProgressCallback | None = None,
    on_attention: AttentionCallback | None = None,
    keep_heads: bool = True,
) -> list[TextExtraction]:
    """Predictions and attention for every text, returned in input order.

    ``keep_heads=False``: each extraction's ``heads_q`` is empty ``(0, 0, n, n)``; the heads
    reach only ``on_attention`` (a run without a data file never holds every head of every text).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    results: list[TextExtraction | None] = [None] * len(encoded)
    labels = loaded.info.labels
    classification = loaded.info.task == "classification"
    # Long texts on a large model run fewer per pass: every attention map of a batch is held.
    for batch in padded_batches(loaded, [e.input_ids for e in encoded], batch_size, attention_row_bytes(loaded)):
        with torch.inference_mode():
            out = loaded.model(**batch.inputs, output_attentions=True)
        attentions = out.attentions
        if not attentions:
            raise ModelLoadError(
                f"{loaded.info.path}: the model returned no attention weights "
                "(it must support output_attentions with eager attention)"
            )
        logits = out.logits.float().cpu().numpy()
        for row, (index, n) in enumerate(zip(batch.indices, batch.lengths)):
            # (layers, heads, n, n): one text's copy at a time, never the whole batch's again.
            per_head = torch.stack([a[row, :, :n, :n] for a in attentions]).float().cpu().numpy()
            output = logits[row].astype(np.float64)
            if classification:
                probs = np.exp(output - output.max())
                probs /= probs.sum()
                best = int(probs.argmax())
                prediction, label = float(probs[best]), labels[best]
            else:
                prediction, label = float(output[0]), None
            heads_q = np.rint(np.clip(per_head, 0.0, 1.0) * QUANT_SCALE).astype(np.uint16)
            results[index] = TextExtraction(
                encoded=encoded[index],
                output=output,
                prediction=prediction,
                predicted_label=label,
                layer_mean=per_head.mean(axis=1).astype(np.float32),
                heads_q=heads_q if keep_heads else np.zeros((0, 0, n, n), dtype=np.uint16),
            )
            if on_attention is not None:
                on_attention(index, heads_q)
            del per_head, heads_q
        del attentions, out
        if on_batch is not None:
            on_batch(len(batch.indices))
    return [r for r in results if r is not None]


__all__ = [
    "QUANT_SCALE",
    "AttentionCallback",
    "EncodedText",
    "ProgressCallback",
    "TextExtraction",
    "encode_texts",
    "extract",
    "length_sorted_batches",
    "pad_batch",
]
