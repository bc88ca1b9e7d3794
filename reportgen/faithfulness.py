"""Faithfulness of each method's token ranking: deletion curves, comprehensiveness, sufficiency.

Owns the perturbation rule, the ERASER measures adapted to a regression output, the seeded
random-ranking reference, and the report-level table (:class:`MethodSummary`) that picks the
method highlighted by default. Every perturbed input of every text and method is collected first
(duplicates evaluated once) and run in a few length-sorted, padded forward passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from .forward import padded_batches
from .loading import LoadedModel
from .methods.base import explained_index, explained_value
from .types import (
    RANDOM_METHOD,
    DeletionCurve,
    EncodedText,
    Faithfulness,
    FaithfulnessReport,
    MethodSummary,
    TextExtraction,
    TokenScores,
)

FRACTIONS = (0.01, 0.05, 0.10, 0.20, 0.50)
RANDOM_ORDERS = 5
RANDOM_SEED = 0
NORMALISER_MIN_RELATIVE = 0.01
"""Normalise only when ``|f(x) - f(all removed)| >= 0.01 * max(|f(x)|, 1)``: else it is noise."""
FORWARD_ROWS_PER_BATCH_TEXT = 4
"""Rows per forward pass = this × ``batch_size``: no attention or gradient is kept here."""
TEXTS_PER_CHUNK = 64
"""Texts whose perturbed inputs are built and held at once (memory stays flat on big corpora)."""

PERTURBATION = "mask"
PERTURBATION_DESCRIPTION = (
    "A removed token is replaced by [MASK], so the text keeps its length and every other token its "
    "position; [CLS] and [SEP] are never removed."
)
RANKING_DESCRIPTION = (
    "Tokens are ranked by the size of their score (|score| for signed methods, so a token that "
    "pushes the output down counts as much as one that pushes it up); ties go to the earlier token."
)
MEASURES_DESCRIPTION = (
    "Comprehensiveness: mean over k of |f(x) − f(x without its top k%)|; sufficiency: mean over k "
    "of |f(x) − f(only the top k% kept)|; k in 1, 5, 10, 20, 50% (at least one token). Both are "
    "divided by |f(x) − f(every token removed)| when that is at least 1% of max(|f(x)|, 1), and "
    "left raw otherwise. Higher comprehensiveness and lower sufficiency are better."
)
BEST_RULE_DESCRIPTION = (
    "Methods are ranked by mean comprehensiveness minus mean sufficiency (normalised, over the "
    "texts where normalisation applies); the first is highlighted by default."
)
RULES = (PERTURBATION_DESCRIPTION, RANKING_DESCRIPTION, MEASURES_DESCRIPTION, BEST_RULE_DESCRIPTION)
"""How the measures are taken, in sentences for the report reader."""


def removal_counts(content: int, fractions: Sequence[float] = FRACTIONS) -> tuple[int, ...]:
    """Tokens per fraction: ``round(k * content)``, at least 1, at most ``content``."""
    if content == 0:
        return tuple(0 for _ in fractions)
    return tuple(min(content, max(1, int(math.floor(k * content + 0.5)))) for k in fractions)


def importance_order(scores: np.ndarray, special: Sequence[bool]) -> np.ndarray:
    """Non-special positions, most important first (see ``RANKING_DESCRIPTION``)."""
    positions = np.flatnonzero(~np.asarray(special, dtype=bool))
    size = np.abs(np.asarray(scores, dtype=np.float64)[positions])
    return positions[np.argsort(-size, kind="stable")]


def _masked(ids: tuple[int, ...], positions: np.ndarray, mask_id: int) -> tuple[int, ...]:
    out = list(ids)
    for p in positions:
        out[int(p)] = mask_id
    return tuple(out)


@dataclass(frozen=True)
class Perturbations:
    """The perturbed inputs of one ranking of one text (before evaluation)."""

    without_top: tuple[tuple[int, ...], ...]
    only_top: tuple[tuple[int, ...], ...]


def perturbed_inputs(encoded: EncodedText, order: np.ndarray, counts: tuple[int, ...], mask_id: int) -> Perturbations:
    content = order.size
    return Perturbations(
        without_top=tuple(_masked(encoded.input_ids, order[:c], mask_id) for c in counts),
        only_top=tuple(_masked(encoded.input_ids, order[c:content], mask_id) for c in counts),
    )


def evaluate_outputs(
    loaded: LoadedModel, rows: Sequence[tuple[int, ...]], targets: Sequence[int], rows_per_pass: int
) -> np.ndarray:
    """``f`` of each row of ids (row ``r`` explained at output ``targets[r]``), batched."""
    values = np.zeros(len(rows))
    for batch in padded_batches(loaded, rows, rows_per_pass):
        with torch.inference_mode():
            logits = loaded.model(**batch.inputs).logits
            f = explained_value(logits, torch.tensor([targets[i] for i in batch.indices], dtype=torch.long))
        values[batch.indices] = f.double().cpu().numpy()
    return values


def _measures(fx: float, curve_without: np.ndarray, curve_only: np.ndarray, content: int) -> tuple[float, float]:
    if content == 0:  # nothing to remove: the measures are undefined, not zero
        return math.nan, math.nan
    return float(np.mean(np.abs(fx - curve_without))), float(np.mean(np.abs(fx - curve_only)))


def evaluate_faithfulness(
    loaded: LoadedModel,
    extractions: Sequence[TextExtraction],
    scores: Mapping[str, Sequence[TokenScores]],
    batch_size: int = 16,
    fractions: Sequence[float] = FRACTIONS,
    random_orders: int = RANDOM_ORDERS,
    seed: int = RANDOM_SEED,
) -> FaithfulnessReport:
    """Faithfulness of every method in ``scores`` (name -> one TokenScores per text, aligned)."""
    fractions = tuple(float(k) for k in fractions)
    if not fractions or not all(0.0 < k <= 1.0 for k in fractions):
        raise ValueError(f"fractions must be in (0, 1], got {fractions}")
    methods = list(scores)
    for name in methods:
        if len(scores[name]) != len(extractions):
            raise ValueError(f"{name}: {len(scores[name])} score vectors for {len(extractions)} texts")
    if loaded.tokenizer.mask_token_id is None:
        raise ValueError("the tokenizer has no [MASK] token, needed to remove tokens")
    per_text: list[Faithfulness] = []
    # Texts in chunks: all perturbed inputs of a chunk are held at once, never those of a whole corpus.
    for first in range(0, len(extractions), TEXTS_PER_CHUNK):
        chunk = range(first, min(first + TEXTS_PER_CHUNK, len(extractions)))
        per_text += _evaluate_chunk(
            loaded, [extractions[t] for t in chunk],
            {name: [scores[name][t] for t in chunk] for name in methods},
            batch_size, fractions, random_orders, seed,
        )
    summary = summarise(per_text, methods)
    return FaithfulnessReport(tuple(per_text), summary, best_method(summary), fractions, RULES)


def _evaluate_chunk(
    loaded: LoadedModel,
    extractions: Sequence[TextExtraction],
    scores: Mapping[str, Sequence[TokenScores]],
    batch_size: int,
    fractions: tuple[float, ...],
    random_orders: int,
    seed: int,
) -> list[Faithfulness]:
    methods = list(scores)
    mask_id = int(loaded.tokenizer.mask_token_id)

    # 1. Every input to evaluate, deduplicated per text.
    rows: list[tuple[int, ...]] = []
    row_targets: list[int] = []
    index: dict[tuple[int, tuple[int, ...]], int] = {}

    def row_of(t: int, ids: tuple[int, ...]) -> int:
        key = (t, ids)
        if key not in index:
            index[key] = len(rows)
            rows.append(ids)
            row_targets.append(explained_index(loaded, extractions[t]))
        return index[key]

    plans: list[dict[str, list[Perturbations]]] = []
    text_rows: list[tuple[int, int, tuple[int, ...]]] = []
    for t, extraction in enumerate(extractions):
        enc = extraction.encoded
        if scores and any(scores[name][t].text_id != enc.text_id for name in methods):
            raise ValueError(f"scores for text {enc.text_id} are not aligned with the extractions")
        content = np.flatnonzero(~np.asarray(enc.special, dtype=bool))
        counts = removal_counts(content.size, fractions)
        # Seeded per text, so a text's reference does not depend on the other texts.
        rng = np.random.default_rng([seed, enc.text_id])
        orders = {name: [importance_order(scores[name][t].scores, enc.special)] for name in methods}
        orders[RANDOM_METHOD] = [rng.permutation(content) for _ in range(random_orders)]
        plans.append({name: [perturbed_inputs(enc, o, counts, mask_id) for o in os] for name, os in orders.items()})
        full = row_of(t, enc.input_ids)
        empty = row_of(t, _masked(enc.input_ids, content, mask_id))
        text_rows.append((full, empty, counts))
        for plan_list in plans[-1].values():
            for plan in plan_list:
                for ids in plan.without_top + plan.only_top:
                    row_of(t, ids)

    # 2. One batched evaluation of all of them.
    values = evaluate_outputs(loaded, rows, row_targets, max(1, batch_size * FORWARD_ROWS_PER_BATCH_TEXT))

    # 3. Curves and measures.
    per_text: list[Faithfulness] = []
    for t, extraction in enumerate(extractions):
        full, empty, counts = text_rows[t]
        fx = float(values[full])
        normaliser = abs(fx - float(values[empty]))
        normalised = normaliser > 0.0 and normaliser >= NORMALISER_MIN_RELATIVE * max(abs(fx), 1.0)
        scale = normaliser if normalised else 1.0
        for name in methods + [RANDOM_METHOD]:
            curves = []
            for plan in plans[t][name]:
                without = np.array([values[index[(t, ids)]] for ids in plan.without_top])
                only = np.array([values[index[(t, ids)]] for ids in plan.only_top])
                curves.append((without, only))
            measures = [_measures(fx, without, only, max(counts)) for without, only in curves]
            comp = np.array([m[0] for m in measures])
            suff = np.array([m[1] for m in measures])
            is_random = name == RANDOM_METHOD
            per_text.append(
                Faithfulness(
                    text_id=extraction.text_id,
                    method=name,
                    comprehensiveness=float(comp.mean()) / scale,
                    sufficiency=float(suff.mean()) / scale,
                    comprehensiveness_raw=float(comp.mean()),
                    sufficiency_raw=float(suff.mean()),
                    normalised=normalised,
                    normaliser=normaliser,
                    prediction=fx,
                    curve=DeletionCurve(
                        fractions=fractions,
                        removed=counts,
                        without_top=tuple(float(v) for v in np.mean([c[0] for c in curves], axis=0)),
                        only_top=tuple(float(v) for v in np.mean([c[1] for c in curves], axis=0)),
                        without_top_std=(
                            tuple(float(v) for v in np.std([c[0] for c in curves], axis=0)) if is_random else None
                        ),
                    ),
                    comprehensiveness_std=float(comp.std()) / scale if is_random else None,
                    sufficiency_std=float(suff.std()) / scale if is_random else None,
                )
            )
    return per_text


def summarise(per_text: Sequence[Faithfulness], methods: Sequence[str]) -> tuple[MethodSummary, ...]:
    """The report-level table: methods ranked by ``BEST_RULE_DESCRIPTION``, then ``random``."""
    valid = [f for f in per_text if not math.isnan(f.comprehensiveness_raw)]
    use_normalised = any(f.normalised for f in valid)
    # Texts whose normaliser is tiny would dominate a mean of normalised values: left out.
    used = [f for f in valid if f.normalised] if use_normalised else valid
    random_raw = {f.text_id: f.comprehensiveness_raw for f in valid if f.method == RANDOM_METHOD}

    def row(name: str) -> tuple[float, float, int, float | None]:
        mine = [f for f in used if f.method == name]
        comp = float(np.mean([f.comprehensiveness for f in mine])) if mine else math.nan
        suff = float(np.mean([f.sufficiency for f in mine])) if mine else math.nan
        beats: float | None = None
        if name != RANDOM_METHOD:
            # Same text, same normaliser: comparing raw values is comparing normalised ones.
            pairs = [(f.comprehensiveness_raw, random_raw[f.text_id]) for f in valid if f.method == name]
            beats = float(np.mean([a > b for a, b in pairs])) if pairs else None
        return comp, suff, len(mine), beats

    rows = {name: row(name) for name in list(methods) + [RANDOM_METHOD]}
    def key(name: str) -> float:
        score = rows[name][0] - rows[name][1]
        return math.inf if math.isnan(score) else -score

    ranked = sorted(methods, key=key)  # stable: ties keep display order
    out = []
    for rank, name in enumerate(ranked, start=1):
        comp, suff, count, beats = rows[name]
        out.append(MethodSummary(name, comp, suff, comp - suff, rank, beats, count, use_normalised))
    comp, suff, count, _ = rows[RANDOM_METHOD]
    out.append(MethodSummary(RANDOM_METHOD, comp, suff, comp - suff, None, None, count, use_normalised))
    return tuple(out)


def best_method(summary: Sequence[MethodSummary]) -> str | None:
    """The rank-1 method (``BEST_RULE_DESCRIPTION``), or None when no method has a score."""
    for item in summary:
        if item.rank == 1 and not math.isnan(item.score):
            return item.method
    return None
