"""Tokenising texts and running the model: predictions and attention, batch by batch.

This is where torch stops: everything returned is numpy. Texts are sorted by length and padded
only to the longest text of their batch; padding positions are sliced off before any number is
kept. Each batch's attention tensors are reduced at once to what the report needs (the
head-averaged matrix per layer in float32, and every head quantised to 16 bits for the page),
so no batch tensor outlives its batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .inputs import InputText
from .loading import LoadedModel, ModelLoadError

QUANT_SCALE = 65535
"""Attention weights in [0, 1] are stored as ``round(w * QUANT_SCALE)`` in uint16 (error <= 8e-6)."""


@dataclass(frozen=True)
class EncodedText:
    text_id: int
    input_ids: tuple[int, ...]
    tokens: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...] | None
    """Character span of each token in the original text; ``(0, 0)`` for special tokens."""
    special: tuple[bool, ...]
    truncated: bool
    full_length: int
    """Token count (special tokens included) before truncation."""


@dataclass(frozen=True, eq=False)
class TextExtraction:
    encoded: EncodedText
    output: np.ndarray
    """The model's raw output for this text: shape ``(num_labels,)``, never squashed."""
    prediction: float
    """Regression: the output itself. Classification: probability of the predicted class."""
    predicted_label: str | None
    layer_mean: np.ndarray
    """float32 ``(layers, n, n)``: attention averaged over heads, real tokens only."""
    heads_q: np.ndarray
    """uint16 ``(layers, heads, n, n)``: every head, quantised (see ``QUANT_SCALE``)."""

    @property
    def text_id(self) -> int:
        return self.encoded.text_id

    @property
    def quant_scale(self) -> int:
        return QUANT_SCALE

    @property
    def cls_attention(self) -> np.ndarray:
        """Last layer, mean over heads of ``A[h, 0, j]``."""
        return self.layer_mean[-1, 0, :]

    @property
    def mean_received(self) -> np.ndarray:
        """Last layer, mean over query positions ``i`` of the head-averaged ``A[i, j]``."""
        return self.layer_mean[-1].mean(axis=0)


ProgressCallback = Callable[[int], None]


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


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def pad_batch(loaded: LoadedModel, rows: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
    """Right-pad to the longest row of this batch only (never to the model's maximum)."""
    width = max(len(r) for r in rows)
    pad_id = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, tokens in enumerate(rows):
        ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, : len(tokens)] = 1
    return {"input_ids": ids.to(loaded.device), "attention_mask": mask.to(loaded.device)}


def extract(
    loaded: LoadedModel,
    encoded: Sequence[EncodedText],
    batch_size: int = 16,
    on_batch: ProgressCallback | None = None,
) -> list[TextExtraction]:
    """Predictions and attention for every text, returned in input order."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    results: list[TextExtraction | None] = [None] * len(encoded)
    labels = loaded.info.labels
    classification = loaded.info.task == "classification"
    for batch in length_sorted_batches([len(e.input_ids) for e in encoded], batch_size):
        inputs = pad_batch(loaded, [encoded[i].input_ids for i in batch])
        with torch.inference_mode():
            out = loaded.model(**inputs, output_attentions=True)
        attentions = out.attentions
        if not attentions:
            raise ModelLoadError(
                f"{loaded.info.path}: the model returned no attention weights "
                "(it must support output_attentions with eager attention)"
            )
        # (batch, layers, heads, T, T) once per batch; sliced per text below.
        stacked = torch.stack(attentions, dim=1).float()
        logits = out.logits.float().cpu().numpy()
        for row, index in enumerate(batch):
            n = len(encoded[index].input_ids)
            per_head = stacked[row, :, :, :n, :n].cpu().numpy()
            output = logits[row].astype(np.float64)
            if classification:
                probs = np.exp(output - output.max())
                probs /= probs.sum()
                best = int(probs.argmax())
                prediction, label = float(probs[best]), labels[best]
            else:
                prediction, label = float(output[0]), None
            results[index] = TextExtraction(
                encoded=encoded[index],
                output=output,
                prediction=prediction,
                predicted_label=label,
                layer_mean=per_head.mean(axis=1).astype(np.float32),
                heads_q=np.rint(np.clip(per_head, 0.0, 1.0) * QUANT_SCALE).astype(np.uint16),
            )
        del stacked, attentions, out
        if on_batch is not None:
            on_batch(len(batch))
    return [r for r in results if r is not None]
