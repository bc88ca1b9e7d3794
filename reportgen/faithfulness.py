"""Faithfulness of each method's token ranking: deletion curves, comprehensiveness, sufficiency.

Owns the perturbation rule, the ERASER measures adapted to a regression output, the seeded
random-ranking reference, and the report-level table (:class:`MethodSummary`) that picks the
method highlighted by default. Steps are distinct unit counts (``1, 2, 3, ...``; see
:func:`deletion_steps`), so no step repeats another's input. Every perturbed input of every text,
method, step and random order is collected first, evaluated once per text however many of them
produce it, and run in a few length-sorted, padded forward passes shared by the texts of a chunk
(:func:`reportgen.forward.padded_batches`) that compute the output alone
(:func:`reportgen.logits.output_logits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from .forward import padded_batches
from .loading import LoadedModel
from .logits import output_logits
from .methods.base import explained_index, explained_value
from .types import (
    FAITHFULNESS_MODES,
    RANDOM_METHOD,
    DeletionCurve,
    EncodedText,
    Faithfulness,
    FaithfulnessReport,
    MethodSummary,
    TextExtraction,
    TokenScores,
)
from .words import TextWords

FRACTIONS = (0.01, 0.05, 0.10, 0.20, 0.50)
"""Checkpoints: the largest caps the steps; all name the CSV's curve columns."""
RANDOM_ORDERS = 5
RANDOM_SEED = 0
MAX_STEPS = 32
"""At most this many steps per text (``full``): a text whose cap is higher (over 64 tokens)..."""
TOKEN_STEPS = 16
"""...takes its first ``TOKEN_STEPS`` counts one by one and the rest evenly spread up to the cap."""
FAST_RANDOM_ORDERS = 2
NORMALISER_MIN_RELATIVE = 0.01
"""Normalise only when the text's largest change is at least ``0.01 * max(|f(x)|, 1)``: else it is noise."""
BOOTSTRAP_RESAMPLES = 2000
"""Resamples of the texts behind each 95% interval of the ranking (seeded with ``RANDOM_SEED``)."""
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
STEPS_DESCRIPTION = (
    "Steps at token resolution: the top 1, 2, 3, ... tokens are removed (or kept), one more each "
    "step, up to 50% of the text's tokens (at least one), so no step repeats another's input; a "
    "text of more than 64 tokens takes 32 steps (1 to 16 tokens one by one, then 16 counts spread "
    "evenly up to half its tokens), which bounds its cost. An input that several methods, steps or "
    "random orders produce is run through the model once."
)
FAST_STEPS_DESCRIPTION = (
    "--faithfulness fast: only the steps at 1, 5, 10, 20 and 50% of the text's tokens (rounded, at "
    "least one, each count once) and 2 random orders instead of 5; the measures are the same "
    "averages over fewer steps, so they differ slightly from a full run's."
)
MEASURES_DESCRIPTION = (
    "Comprehensiveness: mean over the steps of |f(x) − f(x without its top k)|; sufficiency: mean "
    "over the steps of |f(x) − f(only the top k kept)|. Both are divided by the largest change any "
    "masked input of the text caused (every method's steps, the random orders, every token masked), "
    "so they lie between 0 and 1 and one text with a tiny change cannot produce huge ratios; when "
    "even that change is under 1% of max(|f(x)|, 1) they are left raw. Higher comprehensiveness and "
    "lower sufficiency are better."
)
BEST_RULE_DESCRIPTION = (
    "Ranking: on each text, each method scores comprehensiveness minus sufficiency and beats the "
    "methods it scores above (a tie counts half); a method's win rate is the mean over texts of the "
    "share of other methods it beats, so one text moves it by at most 1/texts. Intervals: bootstrap "
    "95% over texts (2,000 resamples, seeded). The first method is most faithful only when its lead "
    "over every other method stays above 0 across the interval; otherwise the methods whose gap to "
    "it includes 0 are tied, and the default highlight is the preferred signed method among them "
    "(Integrated Gradients, then Gradient × Input, then any signed method), else the first."
)


def steps_description(mode: str) -> str:
    return FAST_STEPS_DESCRIPTION if mode == "fast" else STEPS_DESCRIPTION


def rules(mode: str = "full") -> tuple[str, ...]:
    """How the token-level measures are taken, in sentences for the report reader."""
    return (PERTURBATION_DESCRIPTION, RANKING_DESCRIPTION, steps_description(mode), MEASURES_DESCRIPTION, BEST_RULE_DESCRIPTION)


RULES = rules("full")

WORD_PERTURBATION_DESCRIPTION = (
    "Masking whole words: removing a word replaces every token that holds a share of it by [MASK] "
    "(a token split between two words goes with either of them); [CLS] and [SEP] are never removed."
)
WORD_RANKING_DESCRIPTION = (
    "Words are ranked by the size of their word score (the sum of their tokens' shares, see the "
    "word rules); ties go to the earlier word; a word no token reaches (cut off by truncation) is "
    "never ranked. The random reference shuffles words."
)
WORD_MEASURES_DESCRIPTION = (
    "The same steps (1, 2, 3, ... words, up to 50% of the text's words, at most 32 as for tokens) and "
    "measures, divided by the largest change any whole-word masked input of the text caused, under "
    "the same rule as for tokens."
)
FAST_WORD_MEASURES_DESCRIPTION = (
    "The same steps (1, 5, 10, 20 and 50% of the text's words, rounded, at least one, each count "
    "once) and measures, divided by the largest change any whole-word masked input of the text "
    "caused, under the same rule as for tokens."
)


def word_rules(mode: str = "full") -> tuple[str, ...]:
    measures = FAST_WORD_MEASURES_DESCRIPTION if mode == "fast" else WORD_MEASURES_DESCRIPTION
    return (WORD_PERTURBATION_DESCRIPTION, WORD_RANKING_DESCRIPTION, measures, BEST_RULE_DESCRIPTION)


WORD_RULES = word_rules("full")
"""How the word-level measures are taken."""


def check_mode(mode: str) -> str:
    if mode not in FAITHFULNESS_MODES:
        raise ValueError(f"faithfulness mode {mode!r}: choose one of {', '.join(FAITHFULNESS_MODES)}")
    return mode


def deletion_steps(content: int, fractions: Sequence[float] = FRACTIONS, mode: str = "full") -> tuple[int, ...]:
    """Units removed at each step: ``1, 2, ..., round(max(fractions) * content)`` (``full``; past
    :data:`MAX_STEPS` steps, 1 to :data:`TOKEN_STEPS` then evenly spread counts up to that cap),
    or the distinct counts of the checkpoints (``fast``); none when there is nothing to remove."""
    if content == 0:
        return ()
    if mode == "fast":
        return tuple(sorted(set(removal_counts(content, fractions))))
    cap = removal_counts(content, (max(fractions),))[0]
    if cap <= MAX_STEPS:
        return tuple(range(1, cap + 1))
    # A long text: one token at a time where the curve moves most, then evenly spread counts
    # (all distinct: their spacing exceeds one token), so its cost stays bounded.
    tail = np.rint(np.linspace(TOKEN_STEPS, cap, MAX_STEPS - TOKEN_STEPS + 1)[1:]).astype(int)
    return tuple(range(1, TOKEN_STEPS + 1)) + tuple(int(c) for c in tail)


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
            logits = output_logits(loaded.model, batch.inputs)
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
    random_orders: int | None = None,
    seed: int = RANDOM_SEED,
    words: Sequence[TextWords | None] | None = None,
    mode: str = "full",
) -> FaithfulnessReport:
    """Faithfulness of every method in ``scores`` (name -> one TokenScores per text, aligned).

    ``mode`` is ``full`` (every step, :data:`RANDOM_ORDERS` random orders) or ``fast`` (the
    checkpoints' steps, :data:`FAST_RANDOM_ORDERS`); ``random_orders`` overrides the mode's count.
    With ``words`` (one :class:`~reportgen.words.TextWords` or None per text) the same
    measurement is also taken masking whole words by each method's word ranking
    (:data:`WORD_RULES`), returned as ``by_word``; both levels share one batched, deduplicated
    evaluation, so an input that both levels produce is run once.
    """
    if check_mode(mode) == "off":
        raise ValueError("faithfulness mode off: nothing to evaluate (the pipeline skips this stage)")
    if random_orders is None:
        random_orders = FAST_RANDOM_ORDERS if mode == "fast" else RANDOM_ORDERS
    fractions = tuple(float(k) for k in fractions)
    if not fractions or not all(0.0 < k <= 1.0 for k in fractions):
        raise ValueError(f"fractions must be in (0, 1], got {fractions}")
    methods = list(scores)
    for name in methods:
        if len(scores[name]) != len(extractions):
            raise ValueError(f"{name}: {len(scores[name])} score vectors for {len(extractions)} texts")
    if words is not None and len(words) != len(extractions):
        raise ValueError(f"words: {len(words)} entries for {len(extractions)} texts")
    if loaded.tokenizer.mask_token_id is None:
        raise ValueError("the tokenizer has no [MASK] token, needed to remove tokens")
    per_text: list[Faithfulness] = []
    per_word: list[Faithfulness] = []
    # Texts in chunks: all perturbed inputs of a chunk are held at once, never those of a whole corpus.
    for first in range(0, len(extractions), TEXTS_PER_CHUNK):
        chunk = range(first, min(first + TEXTS_PER_CHUNK, len(extractions)))
        tokens, by_word = _evaluate_chunk(
            loaded, [extractions[t] for t in chunk],
            {name: [scores[name][t] for t in chunk] for name in methods},
            batch_size, fractions, random_orders, seed,
            [words[t] for t in chunk] if words is not None else None,
            mode,
        )
        per_text += tokens
        per_word += by_word
    word_report = None
    if words is not None and any(w is not None for w in words):
        word_report = report_of(per_word, methods, fractions, word_rules(mode), unit="word", mode=mode, seed=seed)
    return report_of(per_text, methods, fractions, rules(mode), mode=mode, seed=seed, by_word=word_report)


def report_of(
    per_text: Sequence[Faithfulness],
    methods: Sequence[str],
    fractions: tuple[float, ...],
    rules: tuple[str, ...],
    *,
    unit: str = "token",
    mode: str = "full",
    seed: int = RANDOM_SEED,
    by_word: FaithfulnessReport | None = None,
) -> FaithfulnessReport:
    """The report-level result of per-text measures: ranked table, first method and verdict."""
    summary = summarise(per_text, methods, seed=seed)
    verdict, tied = verdict_of(summary)
    return FaithfulnessReport(
        tuple(per_text), summary, best_method(summary), fractions, rules, unit=unit, by_word=by_word,
        verdict=verdict, tied=tied, mode=mode,
    )


def unit_perturbations(
    encoded: EncodedText, units: Sequence[np.ndarray], order: np.ndarray, counts: tuple[int, ...], mask_id: int
) -> Perturbations:
    """Inputs with the top ``c`` units of ``order`` removed / only they kept, for each count.

    A unit is a set of token positions (one token, or every piece of one word); removing a unit
    masks all its positions, and "only the top kept" masks every position of every other unit.
    """
    ids = np.asarray(encoded.input_ids, dtype=np.int64)
    # Each position's rank in ``order`` of the first unit that holds it (a token two words share
    # goes with whichever is ranked first): the top c units cover exactly the positions ranked
    # below c, so every step's input is one comparison, not a union of units per step.
    first = np.full(ids.size, np.iinfo(np.int64).max, dtype=np.int64)  # never removed
    for rank in range(len(order) - 1, -1, -1):
        first[np.asarray(units[int(order[rank])], dtype=np.int64)] = rank
    in_units = np.zeros(ids.size, dtype=bool)
    for unit in units:
        in_units[np.asarray(unit, dtype=np.int64)] = True
    top = first[None, :] < np.asarray(counts, dtype=np.int64)[:, None]
    without = np.where(top, mask_id, ids[None, :]).tolist()
    only = np.where(in_units[None, :] & ~top, mask_id, ids[None, :]).tolist()
    return Perturbations(without_top=tuple(map(tuple, without)), only_top=tuple(map(tuple, only)))


def word_order(scores: np.ndarray) -> np.ndarray:
    """Indices of the words that have a score (NaN: no token reaches them), largest |score|
    first, ties to the earlier word (the word-level :data:`RANKING_DESCRIPTION`)."""
    values = np.asarray(scores, dtype=np.float64)
    scored = np.flatnonzero(np.isfinite(values))
    return scored[np.argsort(-np.abs(values[scored]), kind="stable")]


@dataclass(frozen=True)
class _Level:
    """One text at one unit level: what a ranking step removes and each ranking's orders."""

    units: tuple[np.ndarray, ...]
    orders: dict[str, list[np.ndarray]]
    counts: tuple[int, ...]
    plans: dict[str, list[Perturbations]]
    empty: int
    """Row of the text with every unit removed."""
    rows: tuple[int, ...]
    """Every row this level of this text uses (the normaliser is the largest change among them)."""


def _evaluate_chunk(
    loaded: LoadedModel,
    extractions: Sequence[TextExtraction],
    scores: Mapping[str, Sequence[TokenScores]],
    batch_size: int,
    fractions: tuple[float, ...],
    random_orders: int,
    seed: int,
    words: Sequence[TextWords | None] | None = None,
    mode: str = "full",
) -> tuple[list[Faithfulness], list[Faithfulness]]:
    methods = list(scores)
    mask_id = int(loaded.tokenizer.mask_token_id)

    # 1. Every input to evaluate, deduplicated per text (across both levels).
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

    def level(t: int, units: tuple[np.ndarray, ...], orders: dict[str, list[np.ndarray]]) -> _Level:
        enc = extractions[t].encoded
        counts = deletion_steps(len(units), fractions, mode)
        plans = {name: [unit_perturbations(enc, units, o, counts, mask_id) for o in os] for name, os in orders.items()}
        every = np.unique(np.concatenate(units)) if units else np.zeros(0, np.int64)
        empty = row_of(t, _masked(enc.input_ids, every, mask_id))
        used = {empty}
        for plan_list in plans.values():
            for plan in plan_list:
                for ids in plan.without_top + plan.only_top:
                    used.add(row_of(t, ids))
        return _Level(units, orders, counts, plans, empty, tuple(sorted(used)))

    token_levels: list[_Level] = []
    word_levels: list[_Level | None] = []
    full_rows: list[int] = []
    for t, extraction in enumerate(extractions):
        enc = extraction.encoded
        if scores and any(scores[name][t].text_id != enc.text_id for name in methods):
            raise ValueError(f"scores for text {enc.text_id} are not aligned with the extractions")
        full_rows.append(row_of(t, enc.input_ids))
        content = np.flatnonzero(~np.asarray(enc.special, dtype=bool))
        # Seeded per text, so a text's reference does not depend on the other texts.
        rng = np.random.default_rng([seed, enc.text_id])
        orders = {name: [importance_order(scores[name][t].scores, enc.special)] for name in methods}
        orders[RANDOM_METHOD] = [rng.permutation(content) for _ in range(random_orders)]
        # Token level: each content token is its own unit; orders name units by their slot.
        slot = {int(p): k for k, p in enumerate(content)}
        token_levels.append(level(
            t,
            tuple(np.array([p], dtype=np.int64) for p in content),
            {name: [np.array([slot[int(p)] for p in o], dtype=np.int64) for o in os] for name, os in orders.items()},
        ))
        text_words = words[t] if words is not None else None
        if text_words is None:
            word_levels.append(None)
            continue
        members = text_words.word_tokens
        per_method = {name: text_words.scores(scores[name][t].scores) for name in methods}
        reachable = np.array([j for j, m in enumerate(members) if m], dtype=np.int64)
        units = tuple(np.asarray(members[j], dtype=np.int64) for j in reachable)
        position = {int(j): k for k, j in enumerate(reachable)}
        word_orders = {
            name: [np.array([position[int(j)] for j in word_order(values) if int(j) in position], dtype=np.int64)]
            for name, values in per_method.items()
        }
        word_rng = np.random.default_rng([seed, enc.text_id, 1])
        word_orders[RANDOM_METHOD] = [word_rng.permutation(len(units)) for _ in range(random_orders)]
        word_levels.append(level(t, units, word_orders))

    # 2. One batched evaluation of all of them.
    values = evaluate_outputs(loaded, rows, row_targets, max(1, batch_size * FORWARD_ROWS_PER_BATCH_TEXT))

    # 3. Curves and measures.
    per_text: list[Faithfulness] = []
    per_word: list[Faithfulness] = []
    for t, extraction in enumerate(extractions):
        per_text += _results(extraction.text_id, values, index, t, full_rows[t], token_levels[t], methods, "token")
        if word_levels[t] is not None:
            per_word += _results(extraction.text_id, values, index, t, full_rows[t], word_levels[t], methods, "word")
    return per_text, per_word


def _results(
    text_id: int,
    values: np.ndarray,
    index: Mapping[tuple[int, tuple[int, ...]], int],
    t: int,
    full: int,
    lv: _Level,
    methods: Sequence[str],
    unit: str,
) -> list[Faithfulness]:
    fx = float(values[full])
    # The largest change any masked input of this text caused: every measure is a mean of
    # changes it bounds, so normalised values lie in [0, 1] however small it is.
    normaliser = float(np.max(np.abs(fx - values[list(lv.rows)])))
    normalised = normaliser > 0.0 and normaliser >= NORMALISER_MIN_RELATIVE * max(abs(fx), 1.0)
    scale = normaliser if normalised else 1.0
    content = len(lv.units)
    step_fractions = tuple(c / content for c in lv.counts) if content else ()
    out = []
    for name in list(methods) + [RANDOM_METHOD]:
        curves = []
        for plan in lv.plans[name]:
            without = np.array([values[index[(t, ids)]] for ids in plan.without_top], dtype=np.float64)
            only = np.array([values[index[(t, ids)]] for ids in plan.only_top], dtype=np.float64)
            curves.append((without, only))
        measures = [_measures(fx, without, only, content) for without, only in curves]
        comp = np.array([m[0] for m in measures])
        suff = np.array([m[1] for m in measures])
        is_random = name == RANDOM_METHOD
        withouts = np.array([c[0] for c in curves]).reshape(len(curves), len(lv.counts))
        onlys = np.array([c[1] for c in curves]).reshape(len(curves), len(lv.counts))
        out.append(
            Faithfulness(
                text_id=text_id,
                method=name,
                comprehensiveness=float(comp.mean()) / scale,
                sufficiency=float(suff.mean()) / scale,
                comprehensiveness_raw=float(comp.mean()),
                sufficiency_raw=float(suff.mean()),
                normalised=normalised,
                normaliser=normaliser,
                prediction=fx,
                curve=DeletionCurve(
                    fractions=step_fractions,
                    removed=lv.counts,
                    without_top=tuple(float(v) for v in withouts.mean(axis=0)),
                    only_top=tuple(float(v) for v in onlys.mean(axis=0)),
                    without_top_std=tuple(float(v) for v in withouts.std(axis=0)) if is_random else None,
                    content=content,
                ),
                comprehensiveness_std=float(comp.std()) / scale if is_random else None,
                sufficiency_std=float(suff.std()) / scale if is_random else None,
                unit=unit,
            )
        )
    return out


def _score(f: Faithfulness) -> float:
    return f.comprehensiveness - f.sufficiency


def win_rates(table: np.ndarray) -> np.ndarray:
    """Per text (row), the share of the other methods (columns) each method beats, a tie half."""
    m = table.shape[1]
    if m < 2:
        return np.full(table.shape, math.nan)
    above = (table[:, :, None] > table[:, None, :]).sum(axis=2)
    equal = (table[:, :, None] == table[:, None, :]).sum(axis=2) - 1
    return (above + 0.5 * equal) / (m - 1)


def bootstrap_means(values: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = RANDOM_SEED) -> np.ndarray:
    """``(resamples, columns)``: column means of ``values`` (texts x columns) over texts drawn
    with replacement; seeded, in bounded chunks (memory stays flat on big corpora)."""
    n, m = values.shape
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, m))
    per_chunk = max(1, 4_000_000 // max(1, n * m))
    for start in range(0, resamples, per_chunk):
        stop = min(resamples, start + per_chunk)
        drawn = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[drawn].mean(axis=1)
    return out


def summarise(
    per_text: Sequence[Faithfulness], methods: Sequence[str], seed: int = RANDOM_SEED, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[MethodSummary, ...]:
    """The report-level table: methods ranked by ``BEST_RULE_DESCRIPTION``, then ``random``."""
    valid = [f for f in per_text if not math.isnan(f.comprehensiveness_raw)]
    use_normalised = any(f.normalised for f in valid)
    # Texts whose largest change is noise are left out of the table when others are not.
    used = [f for f in valid if f.normalised] if use_normalised else valid
    by_text: dict[int, dict[str, Faithfulness]] = {}
    for f in used:
        by_text.setdefault(f.text_id, {})[f.method] = f
    texts = [t for t, row in by_text.items() if all(m in row for m in methods)]
    table = np.array([[_score(by_text[t][m]) for m in methods] for t in texts], dtype=np.float64).reshape(len(texts), len(methods))
    wins = win_rates(table)
    rate = wins.mean(axis=0) if texts else np.full(len(methods), math.nan)
    interval = np.full((2, len(methods)), math.nan)
    behind = np.full((2, len(methods)), math.nan)
    order = sorted(range(len(methods)), key=lambda j: -rate[j] if not math.isnan(rate[j]) else math.inf)
    if texts and len(methods) > 1:
        boot = bootstrap_means(wins, resamples, seed)
        interval = np.percentile(boot, [2.5, 97.5], axis=0)
        first = order[0]
        behind = np.percentile(boot[:, [first]] - boot, [2.5, 97.5], axis=0)
        behind[:, first] = math.nan
    tied = {j for j in range(len(methods)) if not math.isnan(behind[0, j]) and behind[0, j] <= 0.0}
    if tied:
        tied.add(order[0])
    # Beating random is judged per text (one scale on both sides): every measured text counts.
    every: dict[int, dict[str, Faithfulness]] = {}
    for f in valid:
        every.setdefault(f.text_id, {})[f.method] = f
    random_score = {t: _score(row[RANDOM_METHOD]) for t, row in every.items() if RANDOM_METHOD in row}

    def means(name: str) -> tuple[float, float, int]:
        mine = [f for f in used if f.method == name]
        comp = float(np.mean([f.comprehensiveness for f in mine])) if mine else math.nan
        suff = float(np.mean([f.sufficiency for f in mine])) if mine else math.nan
        return comp, suff, len(mine)

    out = []
    for rank, j in enumerate(order, start=1):
        name = methods[j]
        comp, suff, count = means(name)
        pairs = [(_score(row[name]), random_score[t]) for t, row in every.items() if name in row and t in random_score]
        beats = float(np.mean([a > b for a, b in pairs])) if pairs else None
        out.append(
            MethodSummary(
                name, comp, suff, comp - suff, rank, beats, count,
                use_normalised, win_rate=float(rate[j]), win_low=float(interval[0, j]), win_high=float(interval[1, j]),
                behind_low=float(behind[0, j]), behind_high=float(behind[1, j]), tied=j in tied,
            )
        )
    comp, suff, count = means(RANDOM_METHOD)
    out.append(MethodSummary(RANDOM_METHOD, comp, suff, comp - suff, None, None, count, use_normalised))
    return tuple(out)


def verdict_of(summary: Sequence[MethodSummary]) -> tuple[str, tuple[str, ...]]:
    """``("clear" | "tied" | "single" | "none", the methods tied for first)``."""
    ranked = [s for s in summary if s.rank is not None]
    if not ranked or all(s.texts == 0 for s in ranked):
        return "none", ()
    if len(ranked) == 1:
        return "single", ()
    tied = tuple(s.method for s in ranked if s.tied)
    return ("tied", tied) if tied else ("clear", ())


def best_method(summary: Sequence[MethodSummary]) -> str | None:
    """The rank-1 method (``BEST_RULE_DESCRIPTION``), or None when no text was measured."""
    for item in summary:
        if item.rank == 1 and item.texts > 0:
            return item.method
    return None
