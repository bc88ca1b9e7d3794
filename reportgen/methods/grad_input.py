"""Gradient × input on the word embeddings: one backward pass per text (batched)."""

from __future__ import annotations

import numpy as np
import torch

from .. import method_infos as infos
from .base import MethodContext, TokenScores, zero_specials
from .gradients import path_gradients


class GradInput:
    info = infos.GRAD_INPUT

    def compute(self, ctx: MethodContext) -> list[TokenScores]:
        from .gradients import word_embeddings

        # Path of one point, alpha = 1, from a zero start: the gradient at x itself.
        starts = [torch.zeros_like(word_embeddings(ctx, e.input_ids)) for e in ctx.encoded]
        paths = path_gradients(ctx, starts, np.array([1.0]), np.array([1.0]))
        return [
            TokenScores(
                self.info.name,
                enc.text_id,
                # IG gives specials exactly 0 (they are in its baseline) and faithfulness never
                # removes them: 0 here keeps the two gradient views comparable.
                zero_specials((path.weighted_gradient * path.end).sum(axis=1), enc),
            )
            for enc, path in zip(ctx.encoded, paths)
        ]


GRAD_INPUT = GradInput()
