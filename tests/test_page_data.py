"""The page contract on hand-made results: the JSON the script reads, checked number by number."""

from __future__ import annotations

import base64
import json
import re
import typing
import zlib

import numpy as np
import pytest

import handmade
from reportgen import budget, page, theme
from reportgen.resources import templates_dir


@pytest.fixture(scope="module")
def data() -> page.PageData:
    return page.page_data(handmade.report())


def inflate(block: str) -> bytes:
    return zlib.decompress(base64.b64decode(block))


def detail(data: page.PageData, t: int) -> page.TextData:
    block = data["blocks"][t][0]
    assert block is not None
    return json.loads(inflate(block))


def _keys(typed: type) -> set[str]:
    return set(typing.get_type_hints(typed))


def test_page_data_matches_the_typed_contract(data: page.PageData) -> None:
    assert set(data) == _keys(page.PageData)
    assert set(data["shade"]) == _keys(page.ShadeTheme)
    assert set(data["overview"]) == _keys(page.OverviewData)
    assert set(data["budget"]) == _keys(page.BudgetData)
    assert data["agreement"] is not None and set(data["agreement"]) == _keys(page.AgreementData)
    for t in range(len(data["blocks"])):
        text = detail(data, t)
        assert set(text) == _keys(page.TextData)
        for values in text["methods"].values():
            assert set(values) == _keys(page.MethodValues)
        assert set(text["bars"]) == _keys(page.BarValues)
        assert text["ig"] is not None and set(text["ig"]) == _keys(page.IntegratedGradientsData)
        assert text["faith"] is not None and set(text["faith"]) == _keys(page.FaithData)
        assert text["faith"]["words"] is not None and set(text["faith"]["words"]) == _keys(page.WordFaithData)
        assert len(text["spanWord"]) == len(text["spans"])
        for group in text["movers"]:
            assert set(group) == _keys(page.MoversData)
        assert text["words"] is not None and set(text["words"]) == _keys(page.WordsData)
        for values in text["words"]["methods"].values():
            assert set(values) == _keys(page.MethodValues)
    corpus = data["corpus"]
    assert corpus is not None and set(corpus) == _keys(page.CorpusData)
    for row in corpus["words"]:
        assert set(row) == _keys(page.CorpusRow)
    for entry in corpus["texts"]:
        assert set(entry) == _keys(page.CorpusText)


def test_the_script_reads_only_keys_of_the_contract() -> None:
    script = (templates_dir() / "report.js").read_text(encoding="utf-8")

    def read(prefix: str) -> set[str]:
        return set(re.findall(rf"\b{prefix}\.([A-Za-z]+)", script))

    assert read("payload") and read("payload") <= _keys(page.PageData)
    # "t" is one text's detail block in the script, "ov" the overview.
    assert read("t") and read("t") <= _keys(page.TextData)
    assert read("ov") and read("ov") <= _keys(page.OverviewData)
    assert read(r"payload\.shade") <= _keys(page.ShadeTheme)
    assert read(r"payload\.budget") and read(r"payload\.budget") <= _keys(page.BudgetData)
    assert read(r"payload\.agreement") <= _keys(page.AgreementData)
    assert read(r"t\.faith") and read(r"t\.faith") <= _keys(page.FaithData)
    assert read(r"t\.ig") and read(r"t\.ig") <= _keys(page.IntegratedGradientsData)
    assert read(r"t\.bars") and read(r"t\.bars") <= _keys(page.BarValues)
    assert read(r"t\.faith\.words") <= _keys(page.WordFaithData)
    # One text's words ("t.words" or "words" in the script) and the corpus block ("corpus").
    read_from_words = set(re.findall(r"(?:\bt\.|(?<![\w.]))words\.([A-Za-z]+)", script))
    assert read_from_words and read_from_words <= _keys(page.WordsData)
    read_from_corpus = set(re.findall(r"\bcorpus\.([A-Za-z]+)", script))
    assert read_from_corpus and read_from_corpus <= _keys(page.CorpusData)
    # "w" is a corpus row in the script; "entry" one of the corpus's texts; "group" a movers list.
    assert set(re.findall(r"\bw\.([A-Za-z]+)", script)) <= _keys(page.CorpusRow)
    assert set(re.findall(r"\bentry\.([A-Za-z]+)", script)) <= _keys(page.CorpusText)
    assert read("group") and read("group") <= _keys(page.MoversData)


def test_page_data_is_strict_json_and_safe_in_a_script(data: page.PageData) -> None:
    text = page.to_json(data)
    assert json.loads(text)["overview"]["id"] == [0, 1]
    hostile = page.to_json({"x": "</script><b>&'\u2028"})
    assert "<" not in hostile and ">" not in hostile and "&" not in hostile and "\u2028" not in hostile
    assert json.loads(hostile) == {"x": "</script><b>&'\u2028"}
    with pytest.raises(ValueError):
        page.to_json({"x": float("nan")})


def test_theme_and_method_titles(data: page.PageData) -> None:
    assert data["shade"] == {
        "positive": theme.POSITIVE_RGB, "negative": theme.NEGATIVE_RGB, "sequential": theme.SEQUENTIAL_RGB,
        "maxAlpha": theme.MAX_ALPHA, "total": theme.TOTAL_COLOUR,
    }
    assert data["methodTitles"] == [[m.name, m.title] for m in handmade.METHODS]
    assert data["methodSigned"] == [int(m.signed) for m in handmade.METHODS]
    assert data["highlight"] in [m.name for m in handmade.METHODS]
    # The attention heatmap and bars are the page's canvases: no Vega spec for them.
    assert set(data["specs"]) == {"overview", "methods", "waterfall", "deletion", "agreement", "corpus"}
    assert data["heat"] == list(theme.HEATMAP_STOPS) and len(data["heat"]) == 12
    assert data["barColours"] == [theme.SPECIAL_COLOUR, theme.ATTENTION_COLOUR]


def test_attention_and_signed_scores_never_share_a_hue() -> None:
    """Issue 10: the sequential scale (attention, never-negative scores) is visibly unlike the
    red/blue diverging one: its hue is green, far from both red and blue."""
    import colorsys

    def hue(rgb: tuple[int, int, int]) -> float:
        return 360 * colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0]

    def distance(a: float, b: float) -> float:
        return min(abs(a - b), 360 - abs(a - b))

    stops = [tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in theme.HEATMAP_STOPS]
    for rgb in [theme.SEQUENTIAL_RGB, *stops[3:]]:  # the light end is near white: no clear hue
        for diverging in (theme.POSITIVE_RGB, theme.NEGATIVE_RGB):
            assert distance(hue(rgb), hue(diverging)) > 45, (rgb, diverging)
    attention = tuple(int(theme.ATTENTION_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    assert distance(hue(attention), hue(theme.NEGATIVE_RGB)) > 45 and distance(hue(attention), hue(theme.POSITIVE_RGB)) > 45


def test_overview_holds_every_text(data: page.PageData) -> None:
    ov = data["overview"]
    assert ov["prediction"] == list(handmade.PREDICTIONS)
    assert ov["gold"] == [0.5, None]
    assert ov["tokens"] == [len(p) for p in handmade.PIECES]
    assert ov["truncated"] == [0, 1] and ov["fullLength"] == [7, 9]
    assert ov["igWarn"] == [0, 1]
    assert ov["top"][0] == ["どうぞ", "お", "茶"]
    # Integrated Gradients (signed) shades: どうぞ -0.40 lowers, お +0.25 raises, 茶 -0.15 lowers.
    assert ov["topSign"][0] == [-1, 1, -1] and len(ov["topSign"][1]) == len(ov["top"][1])
    assert ov["rung"] == [budget.FULL, budget.FULL]
    assert json.loads(inflate(ov["texts"])) == list(handmade.TEXTS)


def test_tokens_highlight_runs_and_scores_per_text(data: page.PageData) -> None:
    for t in range(2):
        text = detail(data, t)
        extraction = handmade.extraction(t)
        assert text["n"] == len(handmade.PIECES[t])
        assert text["pieces"] == list(handmade.PIECES[t])
        assert text["special"] == [int(s) for s in extraction.encoded.special]
        for name, values in text["methods"].items():
            np.testing.assert_allclose(values["value"], handmade.SCORES[name][t], atol=1e-6)
            assert all(-1.0 <= v <= 1.0 for v in values["rel"])
    first, cut = detail(data, 0), detail(data, 1)
    assert first["spans"] == [[1, "お"], [2, "茶"], [3, "を"], [-1, " "], [5, "どうぞ"]]
    assert first["dropped"] == []
    assert "".join(s[1] for s in cut["spans"]) + "".join(cut["dropped"]) == handmade.TEXTS[1]


def test_hidden_characters_travel_as_stand_in_runs() -> None:
    assert page.runs("a\u202eb\x00") == ["a", ["\\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"], "b", ["\u2400", "U+0000"]]
    assert page.runs("<b>&") == ["<b>&"]  # plain data: the page sets it as textContent


def test_bars_are_the_last_layer_head_mean_raw_and_renormalised(data: page.PageData) -> None:
    for t in range(2):
        bars = detail(data, t)["bars"]
        last = handmade.attention(t)[-1].mean(axis=0)
        special = np.array(handmade.extraction(t).encoded.special)
        np.testing.assert_allclose(bars["cls"], last[0], atol=1e-4)
        np.testing.assert_allclose(bars["received"], last.mean(axis=0), atol=1e-4)
        kept = np.where(special[None, :], 0.0, last)
        renormalised = kept / kept.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(bars["clsRenorm"], renormalised[0], atol=1e-4)
        np.testing.assert_allclose(bars["receivedRenorm"], renormalised.mean(axis=0), atol=1e-4)


def test_attention_block_holds_the_8_bit_codes_of_every_head(data: page.PageData) -> None:
    for t in range(2):
        codes = np.frombuffer(inflate(data["blocks"][t][2]), dtype=np.uint8)
        heads = handmade.attention(t)
        expected = np.rint(np.sqrt(heads) * 255).astype(np.uint8)
        np.testing.assert_array_equal(codes.reshape(heads.shape), expected)
        # What the page draws from a code is within half a code step of the weight.
        drawn = budget.dequantise(codes.reshape(heads.shape))
        assert np.abs(np.sqrt(drawn) - np.sqrt(heads)).max() <= 0.5 / 255 + 1e-12


def test_view_block_holds_the_codes_of_the_opening_heatmap(data: page.PageData) -> None:
    # Each text's view (placed with its detail, so the heatmap a text opens with does not wait
    # for the attention blocks) is the last layer's mean over heads, coded as every weight is.
    for t in range(2):
        heads = handmade.attention(t)
        view = np.frombuffer(inflate(data["blocks"][t][1]), dtype=np.uint8)
        mean = heads[-1].astype(np.float64).mean(axis=0)
        expected = np.rint(np.sqrt(mean) * 255).astype(np.uint8)
        assert np.abs(view.reshape(mean.shape).astype(int) - expected.astype(int)).max() <= 1  # float32 mean vs float64
        assert np.abs(np.sqrt(budget.dequantise(view.reshape(mean.shape))) - np.sqrt(mean)).max() <= 0.5 / 255 + 1e-6


def test_words_per_text_and_the_corpus_rows(data: page.PageData) -> None:
    first, second = detail(data, 0), detail(data, 1)
    assert first["unit"] == second["unit"] == "words"  # Japanese texts open on words
    assert first["words"]["labels"] == ["お茶", "を", "どうぞ"]
    # Integrated Gradients per word: お茶 = ▁お + 茶, どうぞ = the lone ▁ + どうぞ (it goes to the next word).
    assert first["words"]["methods"]["integrated_gradients"]["value"] == pytest.approx([0.25 - 0.15, 0.01, 0.02 - 0.40])
    # The truncated text: words after は were never seen, so they have no value (null, not 0).
    assert second["words"]["labels"][:2] == ["今日", "は"]
    assert second["words"]["methods"]["grad_input"]["value"][2:] == [None] * 5
    rows = {r["lemma"]: r for r in data["corpus"]["words"]}
    assert data["corpus"]["method"] == "integrated_gradients"  # the signed default method
    assert set(rows) == {"お茶", "を", "どうぞ", "今日", "は"}  # unseen words are left out
    assert rows["どうぞ"]["ids"] == [0] and rows["は"]["ids"] == [1]
    assert rows["どうぞ"]["mean"] == pytest.approx(-0.38) and rows["どうぞ"]["lo"] is None
    assert [t["id"] for t in data["corpus"]["texts"]] == [0, 1]


def test_pieces_only_has_no_words_and_no_corpus() -> None:
    data = page.page_data(handmade.report(words="pieces"))
    assert data["corpus"] is None
    assert all(detail(data, t)["words"] is None and detail(data, t)["unit"] == "pieces" for t in range(2))


def test_deletion_curves_are_one_list_per_method(data: page.PageData) -> None:
    for t in range(2):
        faith = detail(data, t)["faith"]
        assert faith["f0"] == handmade.PREDICTIONS[t]
        p = handmade.PREDICTIONS[t]
        assert faith["without"] == [[pytest.approx(p - 0.1), pytest.approx(p - 0.3)]] * len(handmade.METHODS)
        assert faith["randomMean"] == [pytest.approx(p - 0.1), pytest.approx(p - 0.3)]
        assert faith["randomStd"] == [0.01, 0.02]
        assert faith["comprehensiveness"] == [handmade.COMPREHENSIVENESS[m.name] for m in handmade.METHODS]
        assert faith["random"] == [0.3, 0.05, 0.1, 0.02]
        # Steps as token counts; the default-shaded method's verdict against random as numbers.
        assert faith["removed"] == [1, 2] and faith["content"] == 2
        assert faith["verdict"] == [1, pytest.approx(0.5), pytest.approx(0.2)]
        # No method name is repeated per point any more.
        assert "Gradient" not in json.dumps(faith)


def test_agreement_is_a_flat_matrix_with_undefined_cells_null(data: page.PageData) -> None:
    m = len(handmade.METHODS)
    first, second = detail(data, 0), detail(data, 1)
    assert len(first["agreement"]) == m * m and first["agreement"][0] == pytest.approx(1.0)
    assert second["agreement"] == [None] * (m * m)  # two content tokens: no rank correlation anywhere
    assert data["agreementMethods"] == [m.name for m in handmade.METHODS]
    assert data["agreement"]["texts"] == [1] * (m * m)  # only text 0 defines the mean


def test_without_faithfulness_or_agreement_there_is_none() -> None:
    data = page.page_data(handmade.report(with_faithfulness=False, with_agreement=False))
    for t in range(2):
        text = detail(data, t)
        assert text["faith"] is None and text["agreement"] is None
    assert data["agreement"] is None


def test_a_tight_budget_degrades_the_longest_text_first() -> None:
    report = handmade.report()
    base = page.base_data(report)
    roomy = page.fit(report, base, 1000, None)
    assert roomy.fit.rungs == (budget.FULL, budget.FULL)
    # Each text's three blocks fill its elements, empty in the base.
    full = [sum(len(x) for x in b if x) for b in roomy.data["blocks"]]
    assert all(all(b) for b in roomy.data["blocks"])
    # Room for everything but one byte: text 0 (7 tokens) is longer than text 1 (4 tokens).
    tight = page.fit(report, base, 1000, 1000 + sum(full) - 1)
    assert tight.fit.rungs == (budget.LAYERS, budget.FULL)
    assert tight.data["overview"]["rung"] == [budget.LAYERS, budget.FULL]
    # Every layer but the last, heads averaged: the last layer's mean is the view, kept as well.
    layers = np.frombuffer(inflate(tight.data["blocks"][0][2]), dtype=np.uint8)
    np.testing.assert_array_equal(
        layers.reshape(handmade.LAYERS - 1, 7, 7), budget.quantise(handmade.attention(0)[:-1].mean(axis=1))
    )
    assert tight.data["blocks"][0][1] == roomy.data["blocks"][0][1]
    # Only the fixed part fits: every text keeps its overview row and nothing else.
    bare = page.fit(report, base, 1000, 1000)
    assert bare.fit.rungs == (budget.SUMMARY, budget.SUMMARY)
    assert bare.data["blocks"] == [[None, None, None], [None, None, None]]
    assert bare.data["overview"]["id"] == [0, 1]


def test_top_tokens_of_a_never_negative_method_have_no_direction() -> None:
    methods = tuple(m for m in handmade.METHODS if m.name == "cls_attention")
    ov = page.page_data(handmade.report(with_faithfulness=False, with_agreement=False, methods=methods))["overview"]
    assert ov["top"][0] and all(sign == 0 for signs in ov["topSign"] for sign in signs)
