"""Agreement between methods: Spearman rank correlation of their token rankings.

Owns the per-text matrices and their mean over texts. Only non-special tokens count, and each
method is ranked by the size of its scores (|score| for signed methods), the same ranking the
faithfulness measures use. A method whose scores are constant over a text has no ranking there:
its correlations with others are NaN for that text and left out of the mean.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from .types import Agreement, TextAgreement, TokenScores

MIN_TOKENS = 3
"""A text needs this many non-special tokens for a rank correlation to mean anything."""


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho with average ranks for ties; NaN when either vector is constant."""
    return _rho(_centred_ranks(a), _centred_ranks(b))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing their mean rank (``scipy.stats.rankdata``'s default: the
    tests' reference, not a dependency); all NaN when any value is NaN, as scipy's."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n == 0 or np.isnan(values).any():
        return np.full(n, np.nan)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], n]
    ranks = np.empty(n)
    # Sorted positions start..end-1 hold ranks start+1..end, whose mean is (start + 1 + end) / 2.
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ranks


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    ranks = average_ranks(values)
    return ranks - ranks.mean()


def _rho(ra: np.ndarray, rb: np.ndarray) -> float:
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / denom if denom > 0.0 else math.nan


def text_agreement(text_id: int, special: Sequence[bool], scores: Mapping[str, np.ndarray]) -> TextAgreement:
    methods = tuple(scores)
    keep = ~np.asarray(special, dtype=bool)
    matrix = np.full((len(methods), len(methods)), math.nan)
    if int(keep.sum()) >= MIN_TOKENS:
        # Each method ranked once, not once per pair (ranking is the costly part).
        ranks = [_centred_ranks(np.abs(np.asarray(scores[m], dtype=np.float64)[keep])) for m in methods]
        for i in range(len(methods)):
            for j in range(i, len(methods)):
                matrix[i, j] = matrix[j, i] = _rho(ranks[i], ranks[j])
    return TextAgreement(text_id, methods, matrix)


def agreement(specials: Sequence[Sequence[bool]], results: Mapping[str, Sequence[TokenScores]]) -> Agreement:
    """Per-text and mean Spearman matrices; ``specials[t]`` flags the special tokens of text ``t``."""
    methods = tuple(results)
    per_text = tuple(
        text_agreement(
            results[methods[0]][t].text_id if methods else t,
            special,
            {m: results[m][t].scores for m in methods},
        )
        for t, special in enumerate(specials)
    )
    return mean_agreement(methods, per_text)


def mean_agreement(methods: tuple[str, ...], per_text: tuple[TextAgreement, ...]) -> Agreement:
    """The per-text matrices and their mean over texts (each cell over the texts where it is defined).

    Separate from :func:`agreement` so that a run computed in chunks averages every text's
    matrix at the end, exactly as one unchunked computation does.
    """
    if per_text:
        stack = np.stack([a.matrix for a in per_text])
        counts = np.sum(~np.isnan(stack), axis=0)
        with np.errstate(invalid="ignore"):
            mean = np.where(counts > 0, np.nansum(stack, axis=0) / np.maximum(counts, 1), math.nan)
    else:
        counts = np.zeros((len(methods), len(methods)), dtype=int)
        mean = np.full((len(methods), len(methods)), math.nan)
    return Agreement(methods, per_text, mean, counts.astype(int))
