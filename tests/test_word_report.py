"""Words in the report model and the page (issue 11), on hand-made results: no model needed.

Hand-made texts (see ``handmade``): "お茶を どうぞ" as pieces ▁お 茶 を ▁ どうぞ, words お茶 / を /
どうぞ; and a truncated text whose only seen words are 今日 and は. Every expected number below is
worked out from ``handmade.SCORES`` by hand.
"""

from __future__ import annotations

import io
import math
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

import handmade
from pagedata import detail, payload
from reportgen import words as W
from reportgen.export import WORD_COLUMNS, corpus_path, words_csv
from reportgen.render import render_html
from reportgen.report import (
    MethodColumn,
    Span,
    signed_default_method,
    split_at_words,
    top_movers,
)
from reportgen.types import MethodInfo


@pytest.fixture(scope="module")
def report():
    return handmade.report()


def test_word_scores_are_share_weighted_sums_of_piece_scores(report) -> None:
    first, second = report.texts
    assert [w.surface for w in first.words.words] == ["お茶", "を", "どうぞ"]
    ig = first.words.scores_for("integrated_gradients").values
    # お茶 = ▁お + 茶; を; どうぞ = the lone ▁ (it belongs to the word that follows) + どうぞ.
    assert ig == pytest.approx((0.25 - 0.15, 0.01, 0.02 - 0.40))
    attention = first.words.scores_for("cls_attention").values
    assert attention == pytest.approx((0.10 + 0.05, 0.02, 0.03 + 0.20))  # [CLS]/[SEP] belong to no word
    # Completeness: word scores of an additive method add up to the content tokens' total.
    content = [v for v, s in zip(handmade.SCORES["integrated_gradients"][0], handmade.extraction(0).encoded.special) if not s]
    assert sum(ig) == pytest.approx(sum(content))
    # The truncated text: words after は were never seen by the model, so they have no score.
    seen = second.words.scores_for("grad_input").values
    assert seen[:2] == pytest.approx((-0.10, 0.40)) and all(math.isnan(v) for v in seen[2:])


def test_word_scales_and_relative_values(report) -> None:
    for column in report.methods:
        pooled = np.abs(np.concatenate([np.asarray(t.words.scores_for(column.name).values) for t in report.texts]))
        pooled = pooled[np.isfinite(pooled)]
        assert column.word_scale == pytest.approx(np.percentile(pooled, 98))
        rel = report.texts[0].words.scores_for(column.name).relative
        values = report.texts[0].words.scores_for(column.name).values
        assert rel == pytest.approx(tuple(np.clip(np.asarray(values) / column.word_scale, -1, 1)))


def test_japanese_texts_open_on_words_and_spans_carry_their_word(report) -> None:
    first = report.texts[0]
    assert first.default_unit == "words" and first.words.mode == "ja"
    assert [(s.text, s.position, s.word) for s in first.spans] == [
        ("お", 1, 0), ("茶", 2, 0), ("を", 3, 1), (" ", None, None), ("どうぞ", 5, 2),
    ]
    # First shading: the highlighted method's (grad_input, the most faithful) word score.
    relative = first.words.scores_for("grad_input").relative
    assert first.initial_relative(first.spans[0]) == first.initial_relative(first.spans[1]) == relative[0]
    assert first.initial_relative(first.spans[3]) is None
    assert first.initial_title(first.spans[4]) == "どうぞ (どうぞ): -0.6"


def test_a_piece_spanning_two_words_is_cut_at_the_boundary() -> None:
    # ▁先生が is one piece over two words (先生 / が): the highlight cuts it so each part shades by its word.
    text = "先生がいらっしゃいました。"
    words = W.segment(text, "ja")
    assert [w.surface for w in words][:2] == ["先生", "が"]
    spans = (Span("先生が", 1, "▁先生が"), Span("いらっしゃいました。", 2, "x"))
    cut = split_at_words(text, spans, words)
    assert [(s.text, s.position, s.word) for s in cut][:2] == [("先生", 1, 0), ("が", 1, 1)]
    assert "".join(s.text for s in cut) == text
    # Never inside an emoji sequence: the joiner keeps the family in one span.
    family = "\U0001F468\u200d\U0001F469"
    fake = (W.Word(0, "\U0001F468", "a", 0, 1), W.Word(1, "\u200d\U0001F469", "b", 1, 3))
    assert [s.text for s in split_at_words(family, (Span(family, None, None),), fake)] == [family]


def test_signed_default_method() -> None:
    def m(name: str, signed: bool) -> MethodInfo:
        return MethodInfo(name, name, signed, False, "")

    ig, gi, attn, rollout, other = m("integrated_gradients", True), m("grad_input", True), m("cls_attention", False), m("rollout", False), m("other", True)
    assert signed_default_method([attn, gi, ig]) == "integrated_gradients"
    assert signed_default_method([attn, gi, other]) == "grad_input"
    assert signed_default_method([attn, other]) == "other"
    assert signed_default_method([attn, rollout], "rollout") == "rollout"
    assert signed_default_method([attn, rollout]) == "cls_attention"
    columns = [MethodColumn("cls_attention", "t", False, "", 1.0), MethodColumn("rollout", "t", False, "", 1.0)]
    assert signed_default_method(columns, "rollout") == "rollout"
    report = handmade.report(methods=handmade.METHODS[:2])  # no IG: grad_input
    assert signed_default_method(report) == report.signed_default == "grad_input"
    assert signed_default_method(handmade.report(methods=handmade.METHODS[:1], with_faithfulness=False)) == "cls_attention"
    with pytest.raises(ValueError):
        signed_default_method([])


def test_top_movers_by_the_signed_default_method(report) -> None:
    words = report.texts[0].movers_for("words")
    pieces = report.texts[0].movers_for("pieces")
    assert words.method == pieces.method == "integrated_gradients"
    assert [(m.label, m.value) for m in words.up] == [("お茶", pytest.approx(0.10)), ("を", pytest.approx(0.01))]
    assert [(m.label, m.value) for m in words.down] == [("どうぞ", pytest.approx(-0.38))]
    # The space piece (␣, +0.02) raises the score too, but a bare marker is never listed.
    assert [m.label for m in pieces.up] == ["お", "を"] and [m.label for m in pieces.down] == ["どうぞ", "茶"]
    up, down = top_movers([0.0, 2.0, -1.0, float("nan"), 3.0], list("abcde"), [True, False, False, False, False], k=1)
    assert [m.label for m in up] == ["e"] and [m.label for m in down] == ["c"]


def test_words_csv_rows_and_columns(report) -> None:
    frame = pd.read_csv(io.BytesIO(words_csv(report)), keep_default_na=False, na_values=[""])
    assert list(frame.columns) == [*WORD_COLUMNS, *(m.name for m in handmade.METHODS)]
    assert list(zip(frame.text_id, frame.word_id, frame.surface)) == [
        (0, 0, "お茶"), (0, 1, "を"), (0, 2, "どうぞ"),
        (1, 0, "今日"), (1, 1, "は"), (1, 2, "来"), (1, 3, "て"), (1, 4, "くれ"), (1, 5, "て"), (1, 6, "ありがとう"),
    ]
    for row in frame.itertuples():
        assert handmade.TEXTS[row.text_id][row.start : row.end] == row.surface
    assert list(frame.lemma[frame.text_id == 1]) == ["今日", "は", "来る", "て", "くれる", "て", "ありがとう"]
    np.testing.assert_allclose(frame.integrated_gradients[:3], [0.10, 0.01, -0.38])
    assert frame.grad_input[frame.text_id == 1].isna().sum() == 5  # unseen words: empty cells


def test_corpus_path_beside_the_words_csv(tmp_path) -> None:
    assert corpus_path(tmp_path / "words.csv") == tmp_path / "words.corpus.csv"
    assert corpus_path(tmp_path / "words") == tmp_path / "words.corpus.csv"


def test_pieces_only_report_has_no_words_anywhere() -> None:
    report = handmade.report(words="pieces")
    assert report.words is None and report.corpus is None
    assert all(t.words is None and t.default_unit == "pieces" and [m.unit for m in t.movers] == ["pieces"] for t in report.texts)
    html = render_html(report)
    assert 'class="pick-unit"' not in html and 'id="corpus"' not in html and "data-word=" not in html


def test_page_has_the_switch_the_movers_and_the_corpus_section(report) -> None:
    html = render_html(report)
    # The page draws each text from its data block: one switch in the text template, and per
    # text its words, the unit it opens on and its movers (pieces, then words).
    assert html.count('class="pick-unit"') == 1
    data = payload(html)
    for t in range(len(report.texts)):
        text = detail(data, t)
        assert text["unit"] == "words" and text["words"] is not None
        assert [m["unit"] for m in text["movers"]] == ["pieces", "words"]
    assert 'id="corpus"' in html and 'data-chart="corpus"' in html
    assert "masking whole words" in html  # the word-level faithfulness table beside the token one
    # Both faithfulness tables' means keep 3 significant digits, trailing zeros included (0.500,
    # not 0.5), so their columns read evenly.
    tables = re.findall(r'<table class="faith" data-unit="(\w+)".*?</table>', html, flags=re.S)
    means = [
        cell
        for table in re.findall(r'<table class="faith".*?</table>', html, flags=re.S)
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)[1:]
        for cell in re.findall(r'<td class="num">([^<]*)</td>', row)[-4:-2]
    ]
    assert tables == ["token", "word"] and len(means) >= 8
    assert all(re.fullmatch(r"\d\.\d\d|0\.0*[1-9]\d\d", m) for m in means), means
    shown = unescape(html)
    for rule in (W.SPLIT_RULE, W.ATTENTION_RULE, W.ADDITIVE_RULE, W.INTERVAL_RULE, W.LEMMA_RULE):
        assert rule in shown  # the rules are stated in the page
