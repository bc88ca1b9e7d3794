"""The page contract on hand-made results: the JSON the script reads, checked number by number."""

from __future__ import annotations

import base64
import json
import re
import typing

import numpy as np
import pytest

import handmade
from reportgen import page, theme
from reportgen.resources import templates_dir


@pytest.fixture(scope="module")
def data() -> page.PageData:
    return page.page_data(handmade.report())


def _keys(typed: type) -> set[str]:
    return set(typing.get_type_hints(typed))


def test_page_data_matches_the_typed_contract(data: page.PageData) -> None:
    assert set(data) == _keys(page.PageData)
    assert set(data["shade"]) == _keys(page.ShadeTheme)
    for text in data["texts"]:
        assert set(text) == _keys(page.TextData)
        for values in text["methods"].values():
            assert set(values) == _keys(page.MethodValues)
        for step in text["steps"]:
            assert set(step) == _keys(page.WaterfallStep)
        for point in text["curves"]:
            assert set(point) == _keys(page.CurvePoint)
        for point in text["band"]:
            assert set(point) == _keys(page.BandPoint)
        for cell in text["agreement"]:
            assert set(cell) == _keys(page.AgreementCell)
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
    read_from_payload = set(re.findall(r"\bpayload\.([A-Za-z]+)", script))
    assert read_from_payload and read_from_payload <= _keys(page.PageData)
    # "t" is one text's data in the script; "q" is the script's own cache of the decoded attention.
    read_from_text = set(re.findall(r"\bt\.([A-Za-z]+)", script)) - {"q"}
    assert read_from_text and read_from_text <= _keys(page.TextData)
    assert set(re.findall(r"payload\.shade\.([A-Za-z]+)", script)) <= _keys(page.ShadeTheme)
    # One text's words ("t.words" or "words" in the script) and the corpus block ("corpus").
    read_from_words = set(re.findall(r"(?:\bt\.|(?<![\w.]))words\.([A-Za-z]+)", script))
    assert read_from_words and read_from_words <= _keys(page.WordsData)
    read_from_corpus = set(re.findall(r"\bcorpus\.([A-Za-z]+)", script))
    assert read_from_corpus and read_from_corpus <= _keys(page.CorpusData)
    # "w" is a corpus row in the script; "entry" one of the corpus's texts.
    assert set(re.findall(r"\bw\.([A-Za-z]+)", script)) <= _keys(page.CorpusRow)
    assert set(re.findall(r"\bentry\.([A-Za-z]+)", script)) <= _keys(page.CorpusText)


def test_page_data_is_strict_json(data: page.PageData) -> None:
    text = json.dumps(data, allow_nan=False, ensure_ascii=False)
    assert json.loads(text)["texts"][1]["id"] == 1


def test_theme_and_method_titles(data: page.PageData) -> None:
    assert data["shade"] == {"positive": theme.POSITIVE_RGB, "negative": theme.NEGATIVE_RGB, "maxAlpha": theme.MAX_ALPHA}
    assert data["methodTitles"] == [[m.name, m.title] for m in handmade.METHODS]
    assert set(data["specs"]) == {"heatmap", "bars", "predictions", "methods", "waterfall", "deletion", "agreement", "corpus"}


def test_tokens_attention_and_scores_per_text(data: page.PageData) -> None:
    for t, text in enumerate(data["texts"]):
        extraction = handmade.extraction(t)
        assert text["n"] == len(handmade.PIECES[t])
        assert text["pieces"] == list(handmade.PIECES[t])
        assert text["special"] == [int(s) for s in extraction.encoded.special]
        decoded = np.frombuffer(base64.b64decode(text["att"]), dtype="<u2").reshape(extraction.heads_q.shape)
        np.testing.assert_array_equal(decoded, extraction.heads_q)
        for name, values in text["methods"].items():
            np.testing.assert_allclose(values["value"], handmade.SCORES[name][t], atol=1e-6)
            assert all(-1.0 <= v <= 1.0 for v in values["rel"])


def test_waterfall_walks_from_baseline_to_prediction(data: page.PageData) -> None:
    for t, text in enumerate(data["texts"]):
        steps = text["steps"]
        assert steps[0]["kind"] == "total" and steps[0]["value"] == handmade.IG_BASELINES[t]
        assert steps[-1]["kind"] == "total" and steps[-1]["value"] == pytest.approx(handmade.PREDICTIONS[t])
        content = [s for s in steps if s["kind"] != "total"]
        ig = handmade.SCORES["integrated_gradients"][t]
        special = handmade.extraction(t).encoded.special
        assert [s["value"] for s in content] == pytest.approx([v for v, s in zip(ig, special) if not s])
        for s in content:
            assert s["end"] == pytest.approx(s["start"] + s["value"], abs=2e-5)
            assert s["kind"] == ("up" if s["value"] >= 0 else "down")
        assert len(text["stepLabels"]) == len(steps)


def test_deletion_curves_start_at_the_prediction_and_only_random_has_a_band(data: page.PageData) -> None:
    for t, text in enumerate(data["texts"]):
        by_method: dict[str, list[page.CurvePoint]] = {}
        for point in text["curves"]:
            by_method.setdefault(point["method"], []).append(point)
        assert set(by_method) == {m.title for m in handmade.METHODS} | {"random order (mean)"}
        for points in by_method.values():
            assert points[0]["pct"] == 0.0 and points[0]["f"] == handmade.PREDICTIONS[t]
            assert [p["pct"] for p in points[1:]] == [100 * k for k in handmade.FRACTIONS]
        assert [p["reference"] for p in by_method["random order (mean)"]] == [True] * 3
        band = text["band"]
        assert band[0]["lo"] == band[0]["hi"] == handmade.PREDICTIONS[t]
        assert band[1]["lo"] == pytest.approx(handmade.PREDICTIONS[t] - 0.1 - 0.01)


def test_agreement_cells_leave_out_undefined_pairs(data: page.PageData) -> None:
    first, second = data["texts"]
    assert len(first["agreement"]) == len(handmade.METHODS) ** 2
    assert second["agreement"] == []  # two content tokens: no rank correlation anywhere
    assert all(cell["texts"] == 1 for cell in data["agreement"])  # only text 0 defines the mean


def test_words_per_text_and_the_corpus_rows(data: page.PageData) -> None:
    first, second = data["texts"]
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
    assert all(t["words"] is None and t["unit"] == "pieces" for t in data["texts"])


def test_without_faithfulness_or_agreement_the_lists_are_empty() -> None:
    data = page.page_data(handmade.report(with_faithfulness=False, with_agreement=False))
    for text in data["texts"]:
        assert text["curves"] == [] and text["band"] == [] and text["agreement"] == []
    assert data["agreement"] == []
