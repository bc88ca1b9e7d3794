"""Faithfulness measures and method agreement.

Checked against direct, one-text-at-a-time model calls written here; the summary table on
hand-made values; the random reference for determinism; and, on the bundled sample model, that
Integrated Gradients' comprehensiveness beats the random reference.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import rankdata, spearmanr

from methods_fixtures import make_context, sample_texts
from reportgen import faithfulness
from reportgen.agreement import agreement, average_ranks, spearman, text_agreement
from reportgen.faithfulness import (
    FRACTIONS,
    RANDOM_METHOD,
    DeletionCurve,
    Faithfulness,
    best_method,
    evaluate_faithfulness,
    importance_order,
    perturbed_inputs,
    removal_counts,
    deletion_steps,
    summarise,
    verdict_of,
)
from reportgen.methods import MethodContext, TokenScores, resolve, run_methods
from reportgen.methods.base import explained_index

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def classifier_ctx(tiny_classifier: Path) -> MethodContext:
    return make_context(tiny_classifier)


# ---------------------------------------------------------------- ranking and counts


def test_removal_counts_round_with_at_least_one_token() -> None:
    assert removal_counts(10) == (1, 1, 1, 2, 5)
    assert removal_counts(1) == (1, 1, 1, 1, 1)
    assert removal_counts(0) == (0, 0, 0, 0, 0)
    assert removal_counts(200) == (2, 10, 20, 40, 100)
    assert removal_counts(7) == (1, 1, 1, 1, 4)  # 3.5 rounds half up


def test_importance_order_uses_magnitude_and_skips_specials() -> None:
    scores = np.array([9.0, 0.1, -3.0, 2.0, 2.0, 5.0])
    special = [True, False, False, False, False, True]
    assert importance_order(scores, special).tolist() == [2, 3, 4, 1]


def test_perturbed_inputs_never_touch_special_tokens() -> None:
    from reportgen.extraction import EncodedText

    ids = (2, 10, 11, 12, 13, 3)
    special = (True, False, False, False, False, True)
    enc = EncodedText(0, ids, tuple(map(str, ids)), None, special, False, 6)
    order = np.array([3, 1, 4, 2])
    plan = perturbed_inputs(enc, order, (1, 2), mask_id=4)
    assert plan.without_top == ((2, 10, 11, 4, 13, 3), (2, 4, 11, 4, 13, 3))
    assert plan.only_top == ((2, 4, 4, 12, 4, 3), (2, 10, 4, 12, 4, 3))


# ---------------------------------------------------------------- against direct model calls


def _f(ctx: MethodContext, t: int, ids: list[int]) -> float:
    target = explained_index(ctx.loaded, ctx.extractions[t])
    with torch.no_grad():
        return float(ctx.loaded.model(input_ids=torch.tensor([ids])).logits[0, target])


def test_curves_and_measures_match_direct_calls(classifier_ctx: MethodContext) -> None:
    ctx = classifier_ctx
    results = run_methods(resolve(["attn_norm", "grad_input"]), ctx)
    report = evaluate_faithfulness(ctx.loaded, ctx.extractions, results, batch_size=3)
    mask = ctx.loaded.tokenizer.mask_token_id
    assert report.fractions == FRACTIONS
    for t, enc in enumerate(ctx.encoded):
        special = np.array(enc.special)
        content = np.flatnonzero(~special)
        fx = _f(ctx, t, list(enc.input_ids))
        empty = [mask if not s else i for i, s in zip(enc.input_ids, enc.special)]
        changes = [abs(fx - _f(ctx, t, empty))]
        cap = min(len(content), max(1, math.floor(0.5 * len(content) + 0.5)))
        for name in results:
            item = next(f for f in report.for_text(enc.text_id) if f.method == name)
            assert item.prediction == pytest.approx(fx, abs=1e-5)  # a logit, not a probability
            assert item.curve.removed == tuple(range(1, cap + 1))  # token resolution, each count once
            order = sorted(content, key=lambda j: (-abs(results[name][t].scores[j]), j))
            without, only = [], []
            for count in range(1, cap + 1):
                top = set(order[:count])
                without.append(_f(ctx, t, [mask if j in top else i for j, i in enumerate(enc.input_ids)]))
                only.append(_f(ctx, t, [mask if (j not in top and not special[j]) else i for j, i in enumerate(enc.input_ids)]))
            np.testing.assert_allclose(item.curve.without_top, without, atol=1e-5)
            np.testing.assert_allclose(item.curve.only_top, only, atol=1e-5)
            changes += [abs(fx - v) for v in without + only]
            comp = float(np.mean(np.abs(fx - np.array(without))))
            suff = float(np.mean(np.abs(fx - np.array(only))))
            assert item.comprehensiveness_raw == pytest.approx(comp, abs=1e-5)
            assert item.sufficiency_raw == pytest.approx(suff, abs=1e-5)
            scale = item.normaliser if item.normalised else 1.0
            assert item.comprehensiveness == pytest.approx(comp / scale, rel=1e-3, abs=1e-6)
            if item.normalised:
                assert 0.0 <= item.comprehensiveness <= 1.0 and 0.0 <= item.sufficiency <= 1.0
        # The normaliser is the largest change of any masked input of the text (random orders too).
        for item in report.for_text(enc.text_id):
            assert item.normaliser >= max(changes) - 1e-5


def test_each_distinct_masked_input_is_run_once(classifier_ctx: MethodContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Model rows (counted by a wrapper around ``output_logits``, faithfulness's one way to the
    model) = distinct masked inputs per text, and no two steps of a ranking remove the same set of
    tokens."""
    ctx = classifier_ctx
    results = run_methods(resolve(["attn_norm", "grad_input", "cls_attention"]), ctx)
    mask = ctx.loaded.tokenizer.mask_token_id
    real = faithfulness.output_logits
    seen: list[tuple[int, ...]] = []

    def counting(model, inputs):  # noqa: ANN001, ANN202
        ids, keep = inputs["input_ids"], inputs["attention_mask"]
        seen.extend(tuple(int(v) for v in row[: int(m.sum())]) for row, m in zip(ids, keep))
        return real(model, inputs)

    monkeypatch.setattr(faithfulness, "output_logits", counting)
    for mode in ("full", "fast"):
        for t, enc in enumerate(ctx.encoded):
            seen.clear()
            one = {name: [results[name][t]] for name in results}
            report = evaluate_faithfulness(ctx.loaded, [ctx.extractions[t]], one, batch_size=2, mode=mode)
            content = np.flatnonzero(~np.array(enc.special))
            orders = [importance_order(results[name][t].scores, enc.special) for name in results]
            rng = np.random.default_rng([0, enc.text_id])
            orders += [rng.permutation(content) for _ in range(5 if mode == "full" else 2)]
            steps = deletion_steps(content.size, mode=mode)
            expected = {tuple(enc.input_ids), tuple(mask if not s else i for i, s in zip(enc.input_ids, enc.special))}
            for order in orders:
                removed_sets = [frozenset(order[:c].tolist()) for c in steps]
                assert len(set(removed_sets)) == len(removed_sets)  # no step repeats another
                for top in removed_sets:
                    expected.add(tuple(mask if j in top else i for j, i in enumerate(enc.input_ids)))
                    expected.add(tuple(mask if (j not in top and j in set(content.tolist())) else i for j, i in enumerate(enc.input_ids)))
            assert len(seen) == len(set(seen)) == len(expected), (mode, t)
            assert set(seen) == expected
            for f in report.for_text(enc.text_id):
                assert f.curve.removed == steps


def test_masked_inputs_of_many_texts_share_forward_passes(classifier_ctx: MethodContext, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = classifier_ctx
    results = run_methods(resolve(["attn_norm"]), ctx)
    real = faithfulness.output_logits
    batches: list[int] = []

    def counting(model, inputs):  # noqa: ANN001, ANN202
        batches.append(int(inputs["input_ids"].shape[0]))
        return real(model, inputs)

    monkeypatch.setattr(faithfulness, "output_logits", counting)
    evaluate_faithfulness(ctx.loaded, ctx.extractions, results, batch_size=64)
    # Far fewer passes than texts: one pass holds the inputs of several texts.
    assert len(batches) < len(ctx.extractions) and max(batches) > 1


def test_random_reference_is_seeded_and_has_a_spread(classifier_ctx: MethodContext) -> None:
    ctx = classifier_ctx
    results = run_methods(resolve(["rollout"]), ctx)
    first = evaluate_faithfulness(ctx.loaded, ctx.extractions, results, batch_size=4)
    again = evaluate_faithfulness(ctx.loaded, ctx.extractions[::-1], {"rollout": results["rollout"][::-1]}, batch_size=2)
    randoms = {f.text_id: f for f in first.per_text if f.method == RANDOM_METHOD}
    for f in again.per_text:
        if f.method == RANDOM_METHOD:
            # Same text, same seed: same orders, whatever the other texts or the batching.
            assert f.comprehensiveness_raw == pytest.approx(randoms[f.text_id].comprehensiveness_raw, abs=1e-6)
    multi = [f for f in randoms.values() if len(ctx.encoded[f.text_id].input_ids) > 5]
    assert multi and all(f.comprehensiveness_std is not None and f.comprehensiveness_std >= 0 for f in multi)
    assert any(f.comprehensiveness_std > 0 for f in multi)
    assert all(f.comprehensiveness_std is None for f in first.per_text if f.method != RANDOM_METHOD)


def test_an_oracle_ranking_beats_random(classifier_ctx: MethodContext) -> None:
    """Scores = each token's own deletion effect: comprehensiveness must beat random orders."""
    ctx = classifier_ctx
    mask = ctx.loaded.tokenizer.mask_token_id
    oracle = []
    for t, enc in enumerate(ctx.encoded):
        fx = _f(ctx, t, list(enc.input_ids))
        effect = np.zeros(len(enc.input_ids))
        for j, s in enumerate(enc.special):
            if not s:
                effect[j] = abs(fx - _f(ctx, t, [mask if i == j else v for i, v in enumerate(enc.input_ids)]))
        oracle.append(TokenScores("oracle", enc.text_id, effect))
    report = evaluate_faithfulness(ctx.loaded, ctx.extractions, {"oracle": oracle}, batch_size=4)
    table = {s.method: s for s in report.summary}
    assert table["oracle"].mean_comprehensiveness > table[RANDOM_METHOD].mean_comprehensiveness
    assert table["oracle"].beats_random >= 0.5
    assert report.best == "oracle"


def test_a_text_with_nothing_to_remove_is_undefined_not_zero(classifier_ctx: MethodContext) -> None:
    from reportgen.extraction import encode_texts, extract
    from reportgen.inputs import InputText

    loaded = classifier_ctx.loaded
    items = [InputText(0, "今日は来てくれてありがとう。", "a"), InputText(1, "ご注文の商品は明日発送いたします。", "b")]
    encoded = encode_texts(loaded, items[:1], 2) + encode_texts(loaded, items[1:], 64)
    assert encoded[0].special == (True, True)
    extractions = extract(loaded, encoded, batch_size=2)
    scores = {"flat": [TokenScores("flat", e.text_id, np.ones(len(e.input_ids))) for e in encoded]}
    report = evaluate_faithfulness(loaded, extractions, scores, batch_size=2)
    empty = report.for_text(0)
    assert all(math.isnan(f.comprehensiveness) and math.isnan(f.sufficiency) for f in empty)
    assert all(f.curve.removed == () for f in empty)
    assert all(s.texts == 1 for s in report.summary)
    with pytest.raises(ValueError, match="fractions"):
        evaluate_faithfulness(loaded, extractions, scores, fractions=(0.0, 0.5))


# ---------------------------------------------------------------- the summary table


def _item(text_id: int, method: str, comp: float, suff: float, normaliser: float = 2.0, normalised: bool = True) -> Faithfulness:
    scale = normaliser if normalised else 1.0
    curve = DeletionCurve((0.5,), (1,), (0.0,), (0.0,))
    return Faithfulness(text_id, method, comp / scale, suff / scale, comp, suff, normalised, normaliser, 1.0, curve)


def test_summary_ranks_by_comprehensiveness_minus_sufficiency() -> None:
    per_text = [
        _item(0, "a", 1.0, 0.8), _item(0, "b", 0.6, 0.1), _item(0, RANDOM_METHOD, 0.5, 0.5),
        _item(1, "a", 0.2, 0.8), _item(1, "b", 0.8, 0.1), _item(1, RANDOM_METHOD, 0.5, 0.5),
        # Text 2's normaliser is tiny: left out of the means, still counted for beats_random.
        _item(2, "a", 90.0, 0.0, 1e-9, False), _item(2, "b", 0.0, 90.0, 1e-9, False),
        _item(2, RANDOM_METHOD, 0.5, 0.5, 1e-9, False),
    ]
    summary = summarise(per_text, ["a", "b"])
    assert [s.method for s in summary] == ["b", "a", RANDOM_METHOD]
    b, a, rnd = summary
    assert (b.rank, a.rank, rnd.rank) == (1, 2, None)
    assert b.mean_comprehensiveness == pytest.approx(0.35) and b.mean_sufficiency == pytest.approx(0.05)
    assert a.score == pytest.approx(0.3 - 0.4)
    assert a.texts == 2 and a.normalised
    assert a.beats_random == pytest.approx(2 / 3) and b.beats_random == pytest.approx(2 / 3)
    assert rnd.beats_random is None
    assert best_method(summary) == "b"


def _table(scores: dict[str, list[float]], tiny: dict[int, float] | None = None) -> list[Faithfulness]:
    """Per-text items whose comprehensiveness minus sufficiency is ``scores[method][text]``."""
    out = []
    texts = len(next(iter(scores.values())))
    for t in range(texts):
        normaliser = (tiny or {}).get(t, 1.0)
        for name, values in [*scores.items(), (RANDOM_METHOD, [0.0] * texts)]:
            comp = values[t] + 0.2 if values[t] >= -0.2 else 0.0
            out.append(_item(t, name, comp * normaliser, (comp - values[t]) * normaliser, normaliser))
    return out


def test_one_text_with_a_tiny_normaliser_and_huge_ratios_does_not_flip_the_verdict() -> None:
    rng = np.random.default_rng(3)
    good = list(0.5 + 0.05 * rng.random(25))
    weak = list(0.2 + 0.05 * rng.random(25))
    # Text 2: the old normaliser (|f(x) - f(all masked)|) was tiny there, and "weak" reached a
    # ratio of ~18 -- more than all other texts together under a mean of ratios.
    weak[2] = 18.6
    per_text = _table({"weak": weak, "good": good})
    old_style_mean = {name: np.mean(v) for name, v in (("weak", weak), ("good", good))}
    assert old_style_mean["weak"] > old_style_mean["good"]  # what a mean of ratios would conclude
    summary = summarise(per_text, ["weak", "good"])
    assert [s.method for s in summary[:2]] == ["good", "weak"]
    assert summary[0].win_rate == pytest.approx(24 / 25)
    assert verdict_of(summary) == ("clear", ())
    assert best_method(summary) == "good"
    assert summary[0].win_low <= summary[0].win_rate <= summary[0].win_high
    assert summary[1].behind_low > 0


def test_two_indistinguishable_methods_are_tied() -> None:
    rng = np.random.default_rng(4)
    a = list(0.4 + 0.1 * rng.standard_normal(30))
    b = list(0.4 + 0.1 * rng.standard_normal(30))
    c = list(0.0 + 0.02 * rng.standard_normal(30))
    summary = summarise(_table({"c": c, "a": a, "b": b}), ["c", "a", "b"])
    verdict, tied = verdict_of(summary)
    assert verdict == "tied" and set(tied) == {"a", "b"}
    first, second, third = summary[:3]
    assert first.tied and second.tied and not third.tied and third.method == "c"
    assert second.behind_low <= 0 <= second.behind_high
    # Seeded: the same table gives the same intervals.
    again = summarise(_table({"c": c, "a": a, "b": b}), ["c", "a", "b"])
    assert [(s.win_low, s.win_high) for s in again] == [(s.win_low, s.win_high) for s in summary]


def test_deletion_steps_are_distinct_token_counts() -> None:
    assert deletion_steps(10) == (1, 2, 3, 4, 5)
    assert deletion_steps(3) == (1, 2)
    assert deletion_steps(1) == (1,)
    assert deletion_steps(0) == ()
    assert deletion_steps(64) == tuple(range(1, 33))  # up to 32 steps: every count
    long = deletion_steps(200)  # cap 100: 1..16 one by one, then 16 counts spread up to 100
    assert long[:16] == tuple(range(1, 17)) and len(long) == 32 and long[-1] == 100
    assert all(b > a for a, b in zip(long, long[1:]))  # distinct, increasing
    assert deletion_steps(10, mode="fast") == (1, 2, 5)  # 1, 5, 10% all round to one token: once
    assert deletion_steps(200, mode="fast") == (2, 10, 20, 40, 100)


def test_summary_falls_back_to_raw_values_when_nothing_can_be_normalised() -> None:
    per_text = [_item(0, "a", 0.3, 0.1, 0.0, False), _item(0, RANDOM_METHOD, 0.2, 0.2, 0.0, False)]
    (a, rnd) = summarise(per_text, ["a"])
    assert not a.normalised and a.mean_comprehensiveness == pytest.approx(0.3) and a.texts == 1


# ---------------------------------------------------------------- agreement


def test_spearman_matches_scipy_and_is_nan_for_constant_vectors() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.random(12), rng.random(12)
        b[3] = b[7]  # a tie
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)
    assert math.isnan(spearman(np.ones(5), np.arange(5.0)))


def test_average_ranks_equal_scipys_with_many_ties_and_nan() -> None:
    rng = np.random.default_rng(1)
    for size in (1, 2, 7, 40):
        values = rng.integers(0, 4, size).astype(float)  # mostly ties
        np.testing.assert_array_equal(average_ranks(values), rankdata(values))
        np.testing.assert_array_equal(average_ranks(-values), rankdata(-values))
    assert np.isnan(average_ranks(np.array([1.0, np.nan, 2.0]))).all()
    assert average_ranks(np.zeros(0)).size == 0


def test_agreement_ignores_special_tokens_and_averages_defined_cells() -> None:
    special = [True, False, False, False, True]
    x = np.array([50.0, 1.0, 2.0, 3.0, -50.0])
    y = np.array([0.0, 3.0, 2.0, 1.0, 0.0])
    flat = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    one = text_agreement(0, special, {"x": x, "y": -y, "flat": flat})
    assert one.matrix[0, 1] == pytest.approx(-1.0)  # by magnitude: |-y| reverses x's order
    assert math.isnan(one.matrix[0, 2]) and math.isnan(one.matrix[2, 2])
    # Changing special-token scores changes nothing.
    x2 = x.copy()
    x2[[0, 4]] = [0.0, 1e6]
    assert text_agreement(0, special, {"x": x2, "y": -y, "flat": flat}).matrix[0, 1] == pytest.approx(-1.0)

    results = {
        "x": [TokenScores("x", 0, x), TokenScores("x", 1, np.array([0, 1.0, 2, 3, 4, 0]))],
        "flat": [TokenScores("flat", 0, flat), TokenScores("flat", 1, np.array([0, 4.0, 3, 2, 1, 0]))],
    }
    both = agreement([special, [True, False, False, False, False, True]], results)
    assert both.methods == ("x", "flat")
    assert both.counts.tolist() == [[2, 1], [1, 1]]
    assert both.mean[0, 1] == pytest.approx(-1.0)  # text 0 undefined, text 1 exactly reversed
    assert both.mean[0, 0] == pytest.approx(1.0)


# ---------------------------------------------------------------- on the sample model


def test_integrated_gradients_beats_random_on_the_sample_model(sample_model: Path) -> None:
    texts = sample_texts(REPO / "samples" / "texts.txt")
    ctx = make_context(sample_model, texts, batch_size=16, ig_steps=16)
    results = run_methods(resolve(["integrated_gradients"]), ctx)
    # The fast steps (1, 5, 10, 20, 50% of the tokens) ask the model the same question at a fifth
    # of the cost; the full steps' numbers are checked against direct calls above.
    report = evaluate_faithfulness(ctx.loaded, ctx.extractions, results, batch_size=16, mode="fast")
    table = {s.method: s for s in report.summary}
    ig, rnd = table["integrated_gradients"], table[RANDOM_METHOD]
    assert ig.mean_comprehensiveness > rnd.mean_comprehensiveness, (ig, rnd)
    assert ig.beats_random > 0.5, ig


def test_unit_perturbations_by_hand() -> None:
    """Whole units: a token two words share goes with whichever is ranked first, a unit the order
    leaves out (an unscored word) is never removed but is masked when only the top is kept, and a
    count past the order's length removes what the order has."""
    from types import SimpleNamespace

    from reportgen.faithfulness import unit_perturbations

    enc = SimpleNamespace(input_ids=(10, 11, 12, 13, 14, 15, 16))  # [CLS] ... [SEP]
    units = (np.array([1, 2]), np.array([2, 3]), np.array([4]), np.array([5]))
    plan = unit_perturbations(enc, units, np.array([1, 2, 0]), (1, 2, 4), mask_id=0)
    assert plan.without_top == (
        (10, 11, 0, 0, 14, 15, 16),  # word 1 takes the shared token 2 with it
        (10, 11, 0, 0, 0, 15, 16),
        (10, 0, 0, 0, 0, 15, 16),  # 4 > the 3 ranked words: word 3 (unranked) stays
    )
    assert plan.only_top == (
        (10, 0, 12, 13, 0, 0, 16),
        (10, 0, 12, 13, 14, 0, 16),
        (10, 11, 12, 13, 14, 0, 16),
    )
