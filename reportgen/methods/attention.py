"""The article's two raw-attention views, read from the last layer's head-averaged attention.

Both come straight from :class:`~reportgen.extraction.TextExtraction` (no model call). Padding
was sliced off during extraction, so every value is over real tokens only; special tokens keep
the attention they receive.
"""

from __future__ import annotations

import numpy as np

from .base import MethodContext, MethodInfo, TokenScores


class ClsAttention:
    info = MethodInfo(
        name="cls_attention",
        title="[CLS] attention",
        signed=False,
        needs_gradients=False,
        description=(
            "Last layer, attention from [CLS] to each token, averaged over heads: "
            "mean over heads h of A_h[0, j]."
        ),
    )

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        return [
            TokenScores(self.info.name, x.text_id, x.layer_mean[-1, 0, :].astype(np.float64))
            for x in ctx.extractions
        ]


class MeanReceived:
    info = MethodInfo(
        name="mean_received",
        title="Mean attention received",
        signed=False,
        needs_gradients=False,
        description=(
            "Last layer, attention each token receives, averaged over heads and over all query "
            "tokens i: mean over i and h of A_h[i, j]."
        ),
    )

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        return [
            TokenScores(self.info.name, x.text_id, x.layer_mean[-1].astype(np.float64).mean(axis=0))
            for x in ctx.extractions
        ]


CLS_ATTENTION = ClsAttention()
MEAN_RECEIVED = MeanReceived()
