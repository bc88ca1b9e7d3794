"""The article's two raw-attention views, read from the last layer's head-averaged attention.

Both come straight from :class:`~reportgen.extraction.TextExtraction` (no model call). Padding
was sliced off during extraction, so every value is over real tokens only; special tokens keep
the attention they receive.
"""

from __future__ import annotations

import numpy as np

from .. import method_infos as infos
from .base import MethodContext, TokenScores


class ClsAttention:
    info = infos.CLS_ATTENTION

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        return [
            TokenScores(self.info.name, x.text_id, x.layer_mean[-1, 0, :].astype(np.float64))
            for x in ctx.extractions
        ]


class MeanReceived:
    info = infos.MEAN_RECEIVED

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        return [
            TokenScores(self.info.name, x.text_id, x.layer_mean[-1].astype(np.float64).mean(axis=0))
            for x in ctx.extractions
        ]


CLS_ATTENTION = ClsAttention()
MEAN_RECEIVED = MeanReceived()
