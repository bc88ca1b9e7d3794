"""The report model on hand-made results: what each text shows, computed here independently."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import handmade
from reportgen.report import BLANK_LABEL, build_report, method_scale
from reportgen.types import TextRecord


def test_method_scale_is_the_98th_percentile_of_content_tokens() -> None:
    report = handmade.report()
    for column in report.methods:
        pooled = np.concatenate(
            [np.abs(handmade.SCORES[column.name][t])[~np.array(handmade.extraction(t).encoded.special)] for t in range(2)]
        )
        assert column.scale == pytest.approx(np.percentile(pooled, 98.0))
        # [CLS] receives 0.40/0.50 of [CLS] attention: far above every content token, yet not the scale.
        assert column.scale < 0.40 or column.name != "cls_attention"


def test_scale_of_all_zero_scores_is_one() -> None:
    assert method_scale([np.zeros(4)], [[True, False, False, True]]) == 1.0


def test_relative_values_are_values_over_scale_clipped() -> None:
    report = handmade.report()
    for text in report.texts:
        for scores in text.scores:
            scale = report.method(scores.method).scale
            expected = np.clip(np.array(scores.values) / scale, -1, 1)
            np.testing.assert_allclose(scores.relative, expected)
            np.testing.assert_array_equal(scores.values, handmade.SCORES[scores.method][text.text_id])
    # The [CLS] token's attention is beyond the scale: clipped to full colour, not above it.
    assert report.texts[0].scores_for("cls_attention").relative[0] == 1.0


def test_highlight_is_the_most_faithful_method_and_top_tokens_follow_it() -> None:
    report = handmade.report()
    assert report.highlight == "grad_input"
    text = report.texts[0]
    assert text.highlight == "grad_input"
    # grad_input on text 0: どうぞ -0.60, お 0.30, 茶 -0.20 are the largest |score|; specials never count.
    assert text.top_tokens == ("どうぞ", "お", "茶")


def test_without_faithfulness_the_highlight_is_the_preferred_signed_method() -> None:
    # --faithfulness off: no verdict, so direction decides (Integrated Gradients first).
    report = handmade.report(with_faithfulness=False)
    assert report.highlight == "integrated_gradients"
    assert report.faithfulness is None
    assert all(s.faithfulness is None for t in report.texts for s in t.scores)
    assert all(t.random_reference is None for t in report.texts)


def test_labels_come_from_the_text_and_a_lone_marker_shows_as_blank() -> None:
    text = handmade.report().texts[0]
    assert [t.label for t in text.tokens] == ["[CLS]", "お", "茶", "を", BLANK_LABEL, "どうぞ", "[SEP]"]
    assert [t.special for t in text.tokens] == [True, False, False, False, False, False, True]


def test_spans_cover_the_text_and_truncation_keeps_the_cut_end() -> None:
    report = handmade.report()
    whole, cut = report.texts
    assert "".join(s.text for s in whole.spans) + whole.dropped == handmade.TEXTS[0]
    assert whole.dropped == ""
    # The space between を and どうぞ belongs to no piece: an unscored gap, not the lone "▁".
    assert [(s.text, s.position) for s in whole.spans] == [("お", 1), ("茶", 2), ("を", 3), (" ", None), ("どうぞ", 5)]
    assert cut.truncated and cut.full_length == 9
    assert "".join(s.text for s in cut.spans) == "今日は"
    assert cut.dropped == handmade.TEXTS[1][3:]


def test_integrated_gradients_check_and_warning() -> None:
    report = handmade.report()
    first, second = (t.integrated_gradients for t in report.texts)
    assert first is not None and second is not None
    assert first.explained == pytest.approx(handmade.PREDICTIONS[0])
    assert first.baseline_prediction == handmade.IG_BASELINES[0]
    assert first.delta == pytest.approx(-0.27 - (0.42 - 0.70))
    assert not first.warn
    assert second.delta_relative == pytest.approx(abs(0.15 - 0.26) / 0.26)
    assert second.warn
    assert report.ig_warnings == 1


def test_gold_error_and_report_counts() -> None:
    report = handmade.report()
    assert report.texts[0].error == pytest.approx(0.42 - 0.5)
    assert report.texts[1].error is None
    assert report.has_gold and report.truncated_count == 1


def test_per_text_faithfulness_and_agreement_come_from_each_record() -> None:
    report = handmade.report()
    for text in report.texts:
        for scores in text.scores:
            assert scores.faithfulness is not None
            assert scores.faithfulness.text_id == text.text_id
            assert scores.faithfulness.comprehensiveness == handmade.COMPREHENSIVENESS[scores.method]
        assert text.random_reference is not None and text.random_reference.method == "random"
    first, second = report.texts
    assert first.agreement is not None and first.agreement[0][0] == pytest.approx(1.0)
    # Text 1 has two content tokens, fewer than a rank correlation needs: every cell undefined.
    assert second.agreement is not None and all(v is None for row in second.agreement for v in row)
    assert report.agreement is not None and report.agreement.methods == tuple(m.name for m in handmade.METHODS)


def test_every_rung_of_attention_travels_as_8_bit_codes() -> None:
    import zlib

    from reportgen import budget

    report = handmade.report()
    for text in report.texts:
        heads = handmade.attention(text.text_id)
        assert text.display is not None
        assert (text.display.layers, text.display.heads, text.display.n) == heads.shape[:3]
        assert set(text.display.blocks) == set(budget.MATRIX_RUNGS)
        kept = {r: np.frombuffer(zlib.decompress(b), dtype=np.uint8) for r, b in text.display.blocks.items()}
        np.testing.assert_array_equal(kept[budget.FULL].reshape(heads.shape), budget.quantise(heads))
        np.testing.assert_array_equal(kept[budget.LAYERS].reshape(heads.shape[0] - 1, *heads.shape[2:]), budget.quantise(heads[:-1].mean(axis=1)))
        np.testing.assert_array_equal(kept[budget.LAST].reshape(heads.shape[2:]), budget.quantise(heads[-1].mean(axis=0)))
        assert text.display.sizes == {r: budget.b64_size(len(b)) for r, b in text.display.blocks.items()}
        assert (text.num_layers, text.num_heads) == (handmade.LAYERS, handmade.HEADS)


def test_renormalised_bars_leave_out_cls_and_sep() -> None:
    text = handmade.report().texts[0]
    assert text.cls_renormalised[0] == 0.0 and text.cls_renormalised[-1] == 0.0
    assert sum(text.cls_renormalised) == pytest.approx(1.0)
    assert sum(text.received_renormalised) == pytest.approx(1.0)


def test_a_record_missing_a_method_is_refused() -> None:
    records = handmade.records()
    records[1] = dataclasses.replace(records[1], scores={k: v for k, v in records[1].scores.items() if k != "grad_input"})
    with pytest.raises(ValueError, match="text 1: no scores for grad_input"):
        build_report(handmade.RUN, handmade.MODEL, records, list(handmade.METHODS))


def test_a_record_holding_another_texts_results_is_refused() -> None:
    good = handmade.records()
    with pytest.raises(ValueError, match="extraction of text 1"):
        TextRecord(good[0].item, good[1].extraction)
    with pytest.raises(ValueError, match="scores of 'grad_input' for text 1"):
        dataclasses.replace(good[0], scores={"grad_input": good[1].scores["grad_input"]})
    with pytest.raises(ValueError, match="agreement of text 1"):
        dataclasses.replace(good[0], agreement=good[1].agreement)


def test_tied_leaders_give_the_highlight_to_the_preferred_signed_method_among_them() -> None:
    import dataclasses

    from reportgen.report import default_highlight

    faith = handmade.faithfulness_report()
    assert faith.verdict == "clear" and default_highlight(handmade.METHODS, faith) == "grad_input"
    tied = dataclasses.replace(faith, verdict="tied", tied=("grad_input", "integrated_gradients"))
    assert default_highlight(handmade.METHODS, tied) == "integrated_gradients"
    # Among tied methods none of which is signed: the first of them.
    attention_only = dataclasses.replace(faith, best="cls_attention", verdict="tied", tied=("cls_attention",))
    assert default_highlight(handmade.METHODS, attention_only) == "cls_attention"
    # Never a method outside the tie, even a preferred signed one.
    tied_attention = dataclasses.replace(faith, best="cls_attention", verdict="tied", tied=("cls_attention", "grad_input"))
    assert default_highlight(handmade.METHODS, tied_attention) == "grad_input"


def test_top_tokens_skip_a_bare_marker_and_punctuation() -> None:
    from reportgen.report import uninformative

    assert uninformative("\u2581", "\u2423")
    assert uninformative("。", "。") and uninformative("!", "!") and uninformative("\u2581、", "、")
    assert uninformative("\u2581!?", "!?")
    assert not uninformative("\u2581ご", "ご") and not uninformative("50", "50") and not uninformative("円", "円")
