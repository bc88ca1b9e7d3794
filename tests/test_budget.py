"""The size budget: 8-bit codes, the degradation ladder, the rule, and the bounded store."""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handmade
from reportgen import budget, page


def test_codes_are_square_root_coded_bytes() -> None:
    weights = np.array([0.0, 1.0, 0.25, 1 / 255**2, 0.5 / 255**2, 2.0, -1.0])
    codes = budget.quantise(weights)
    assert codes.dtype == np.uint8
    assert codes.tolist() == [0, 255, 128, 1, 1, 255, 0]  # round(255 * sqrt(w)), w clipped to [0, 1]
    assert budget.dequantise(np.array([0, 255, 51], dtype=np.uint8)).tolist() == pytest.approx([0.0, 1.0, 0.04])


def test_small_weights_keep_their_size_where_a_linear_code_would_not() -> None:
    # A 512-token text spreads attention thinly: weights near 1/512.
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(512), size=64)
    back = budget.dequantise(budget.quantise(w))
    linear = np.rint(w * 255) / 255
    # Half a code step in sqrt(w): |error| <= sqrt(w) / 255 + 1 / (4 * 255^2).
    assert np.all(np.abs(back - w) <= np.sqrt(w) / 255 + 0.25 / 255**2 + 1e-12)
    assert np.median(np.abs(back - w) / w) < 0.1
    assert np.median(np.abs(linear - w) / w) > 0.5
    assert np.abs(back.sum(axis=1) - 1).max() < 0.02


def test_each_rung_keeps_what_the_ladder_says() -> None:
    heads = handmade.attention(0)
    layers, h, n, _ = heads.shape
    assert budget.rung_codes(heads, budget.FULL).shape == (layers, h, n, n)
    # Every layer but the last: the last layer's head mean is the view, which every matrix rung carries.
    assert budget.rung_codes(heads, budget.LAYERS).shape == (layers - 1, n, n)
    np.testing.assert_array_equal(budget.rung_codes(heads, budget.LAYERS), budget.quantise(heads[:-1].mean(axis=1)))
    assert budget.rung_codes(heads, budget.LAST).shape == (n, n)
    assert budget.VIEW == budget.LAST
    np.testing.assert_array_equal(budget.rung_codes(heads, budget.LAST), budget.quantise(heads[-1].mean(axis=0)))
    with pytest.raises(ValueError):
        budget.rung_codes(heads, budget.NO_MATRIX)
    assert len(budget.RUNG_NAMES) == len(budget.RUNG_LEFT_OUT) == budget.SUMMARY + 1


def _sizes(full: int, layers: int, last: int, detail: int = 100) -> dict[int, int]:
    return {0: detail + full, 1: detail + layers, 2: detail + last, 3: detail, 4: 0}


def test_the_longest_texts_lose_detail_first_one_rung_at_a_time() -> None:
    lengths = [10, 40, 20, 40]
    sizes = [_sizes(1000, 300, 80), _sizes(4000, 1000, 250), _sizes(2000, 600, 150), _sizes(4000, 1000, 250)]
    full = 1000 + sum(s[0] for s in sizes)
    assert budget.degradation_order(lengths) == [3, 1, 2, 0]  # equal lengths: the later text first
    roomy = budget.assign(sizes, lengths, 1000, full)
    assert roomy.rungs == (0, 0, 0, 0) and roomy.total_bytes == full == roomy.full_bytes and roomy.fits
    # 1 byte short: only text 3 (longest, later) goes down one rung.
    short = budget.assign(sizes, lengths, 1000, full - 1)
    assert short.rungs == (0, 0, 0, 1)
    # Short by more than text 3 saves: text 1 follows.
    assert budget.assign(sizes, lengths, 1000, full - 3001).rungs == (0, 1, 0, 1)
    # Every text at rung 1 is still too much: the second pass starts again with the longest.
    all_layers = 1000 + sum(s[1] for s in sizes)
    assert budget.assign(sizes, lengths, 1000, all_layers - 1).rungs == (1, 1, 1, 2)
    # At most two neighbouring rungs are ever in use, and shorter texts never keep less.
    for limit in range(1000, full + 1, 97):
        rungs = budget.assign(sizes, lengths, 1000, limit).rungs
        assert max(rungs) - min(rungs) <= 1
        for a in range(4):
            for b in range(4):
                if lengths[a] < lengths[b]:
                    assert rungs[a] <= rungs[b]
    # Nothing but the fixed part fits: summary rows only, and it says whether even that fits.
    floor = budget.assign(sizes, lengths, 1000, 1000)
    assert floor.rungs == (4, 4, 4, 4) and floor.fits
    assert not budget.assign(sizes, lengths, 1000, 999).fits
    assert budget.assign(sizes, lengths, 1000, None).rungs == (0, 0, 0, 0)


def test_a_rung_a_text_cannot_have_is_skipped() -> None:
    sizes = [{3: 100, 4: 0}, _sizes(100, 50, 20)]
    result = budget.assign(sizes, [30, 5], 0, None)
    assert result.rungs == (3, 0)
    assert result.full_bytes == 300


def _attention(n: int, seed: int, layers: int = 2, heads: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.random((layers, heads, n, n)) ** 4
    return (raw / raw.sum(axis=-1, keepdims=True)).astype(np.float32)


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.lists(st.integers(3, 40), min_size=1, max_size=12),
    limit=st.integers(0, 40_000),
    arrival=st.randoms(use_true_random=False),
)
def test_the_bounded_store_never_drops_a_block_the_rule_would_use(lengths: list[int], limit: int, arrival) -> None:  # noqa: ANN001
    arrays = [_attention(n, seed) for seed, n in enumerate(lengths)]
    everything = [budget.display_attention(a) for a in arrays]
    ladder = budget.AttentionLadder(lengths, limit or None)
    order = list(range(len(lengths)))
    arrival.shuffle(order)
    peak = 0
    for t in order:
        ladder.add(t, arrays[t])
        # The store's own count of what it holds (kept as it changes) against a fresh sum.
        peak = max(peak, sum(len(b) for d in ladder.result().values() for b in d.blocks.values()))
        assert ladder.peak_bytes == peak
    kept = ladder.result()

    # A matrix rung carries its block and the view (the page's rule, as :func:`page.fit` weighs it).
    sizes = [{**{r: budget.rung_bytes(d.sizes, r) for r in budget.MATRIX_RUNGS}, 3: 0, 4: 0} for d in everything]
    whole = budget.assign(sizes, lengths, 0, limit or None)
    for t, rung in enumerate(whole.rungs):
        assert kept[t].sizes == {r: budget.b64_size(len(b)) for r, b in everything[t].blocks.items()}
        if rung in budget.MATRIX_RUNGS:
            assert kept[t].blocks[rung] == everything[t].blocks[rung], (t, rung)
            assert kept[t].blocks[budget.VIEW] == everything[t].blocks[budget.VIEW], (t, "view")
    if limit:
        held = sum(budget.b64_size(len(b)) for d in kept.values() for b in d.blocks.values())
        largest = max(budget.rung_bytes(d.sizes, r) for d in everything for r in budget.MATRIX_RUNGS)
        assert held <= len(budget.MATRIX_RUNGS) * (limit + largest)


def test_no_budget_keeps_full_detail_and_the_view() -> None:
    ladder = budget.AttentionLadder([5, 6], None)
    ladder.add(0, _attention(5, 0))
    ladder.add(1, _attention(6, 1))
    assert {t: set(d.blocks) for t, d in ladder.result().items()} == {0: {budget.FULL, budget.VIEW}, 1: {budget.FULL, budget.VIEW}}


def _inflate(block: str) -> bytes:
    return zlib.decompress(base64.b64decode(block))


@pytest.mark.parametrize("rung", range(budget.SUMMARY + 1))
def test_what_each_rung_keeps_in_the_page(rung: int) -> None:
    report = handmade.report()
    base = page.base_data(report)
    fixed = 10_000
    at = page.fit(report, base, fixed, None)
    # The budget that forces every text down to exactly this rung.
    sizes = []
    for t in range(2):
        detail = at.data["blocks"][t][0]
        display = report.texts[t].display
        # The page carries each text's blocks in elements that are empty in the base; a matrix
        # rung's are its own block and the view (the last layer's head mean, the opening heatmap).
        per = {r: len(detail) + budget.b64_size(len(display.blocks[r])) + (budget.b64_size(len(display.blocks[budget.VIEW])) if r != budget.VIEW else 0) for r in budget.MATRIX_RUNGS}
        per.update({budget.NO_MATRIX: len(detail), budget.SUMMARY: 0})
        sizes.append(per)
    limit = fixed + sum(s[rung] for s in sizes)
    fitted = page.fit(report, base, fixed, limit)
    assert fitted.fit.rungs == (rung, rung)
    assert fitted.data["overview"]["rung"] == [rung, rung]
    assert fitted.data["overview"]["id"] == [0, 1], "every text keeps its overview row"
    for t in range(2):
        detail, view, att = fitted.data["blocks"][t]
        assert (detail is not None) == (rung <= budget.NO_MATRIX)
        assert (view is not None) == (rung in budget.MATRIX_RUNGS)
        assert (att is not None) == (rung in (budget.FULL, budget.LAYERS)), "at LAST the view is the whole block"
        if detail is not None:
            text = json.loads(_inflate(detail))
            assert len(text["bars"]["cls"]) == len(handmade.PIECES[t])
            assert set(text["methods"]) == {m.name for m in handmade.METHODS}
            # Word scores travel in the detail block, the same lazy, compressed path.
            assert text["words"] is not None and text["words"]["labels"]
        heads = handmade.attention(t)
        if att is not None:
            np.testing.assert_array_equal(
                np.frombuffer(_inflate(att), dtype=np.uint8), budget.rung_codes(heads, rung).ravel()
            )
        if view is not None:
            np.testing.assert_array_equal(
                np.frombuffer(_inflate(view), dtype=np.uint8), budget.quantise(heads[-1].mean(axis=0)).ravel()
            )
    if rung == budget.SUMMARY:
        # No detail block: the text's word scores are left out with it, and the page says so.
        assert "word scores" in budget.RUNG_LEFT_OUT[rung]
        assert fitted.data["budget"]["leftOut"][rung] == budget.RUNG_LEFT_OUT[rung]
    sentences = " ".join(fitted.fit.sentences())
    if rung == budget.FULL:
        assert "Every text keeps full detail" in sentences
    else:
        assert budget.RUNG_NAMES[rung] in sentences and "--max-size" in sentences and "--csv" in sentences
