"""CSV exports on hand-made results: every row and number, read back with pandas."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import handmade
from reportgen.export import FAITHFULNESS_COLUMNS, TOKEN_COLUMNS, WORD_ID_COLUMN, faithfulness_csv, tokens_csv


@pytest.fixture(scope="module")
def tokens() -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(tokens_csv(handmade.report())), keep_default_na=False, na_values=[""])


def test_tokens_csv_has_one_row_per_token_and_the_documented_columns(tokens: pd.DataFrame) -> None:
    assert list(tokens.columns) == [*TOKEN_COLUMNS, "grad_input", "integrated_gradients", "ig_baseline_prediction", WORD_ID_COLUMN]
    assert len(tokens) == sum(len(p) for p in handmade.PIECES)
    for t in range(2):
        rows = tokens[tokens.text_id == t]
        assert list(rows.position) == list(range(len(handmade.PIECES[t])))
        assert list(rows.token) == list(handmade.PIECES[t])
        assert set(rows.text) == {handmade.TEXTS[t]}
        assert list(rows.is_special) == [int(s) for s in handmade.extraction(t).encoded.special]
        assert set(rows.truncated) == {int(t == 1)}
    # Hand-checked: お茶 = ▁お + 茶 (word 0), を (1), the lone ▁ goes to どうぞ (2) with どうぞ; 今日 / は.
    assert list(tokens[tokens.text_id == 0].word_id) == [-1, 0, 0, 1, 2, 2, -1]
    assert list(tokens[tokens.text_id == 1].word_id) == [-1, 0, 1, -1]


def test_tokens_csv_numbers_match_the_inputs(tokens: pd.DataFrame) -> None:
    for t in range(2):
        rows = tokens[tokens.text_id == t]
        extraction = handmade.extraction(t)
        np.testing.assert_allclose(rows.cls_attention, extraction.layer_mean[-1, 0], rtol=1e-7)
        np.testing.assert_allclose(rows.mean_received, extraction.layer_mean[-1].mean(axis=0), rtol=1e-6)
        for name in ("grad_input", "integrated_gradients"):
            np.testing.assert_allclose(rows[name], handmade.SCORES[name][t], rtol=1e-7)
        assert set(rows.prediction) == {handmade.PREDICTIONS[t]}
        assert set(rows.ig_baseline_prediction) == {handmade.IG_BASELINES[t]}
    assert set(tokens[tokens.text_id == 0].gold) == {0.5}
    assert tokens[tokens.text_id == 1].gold.isna().all()  # no gold: an empty cell, not 0


def test_tokens_csv_without_integrated_gradients_has_no_baseline_column() -> None:
    methods = [m for m in handmade.METHODS if m.name != "integrated_gradients"]
    frame = pd.read_csv(io.BytesIO(tokens_csv(handmade.report(with_agreement=False, methods=methods, words="pieces"))))
    assert list(frame.columns) == [*TOKEN_COLUMNS, "grad_input"]  # no words: no word_id either


def test_faithfulness_csv_rows_and_curves() -> None:
    frame = pd.read_csv(io.BytesIO(faithfulness_csv(handmade.report())))
    curve_columns = [f"without_top_{k:g}" for k in handmade.FRACTIONS] + [f"only_top_{k:g}" for k in handmade.FRACTIONS]
    assert list(frame.columns) == [*FAITHFULNESS_COLUMNS, *curve_columns, "unit"]
    methods = [m.name for m in handmade.METHODS] + ["random"]
    # Token-level rows first, then the whole-word rows (unit "word").
    assert list(zip(frame.text_id, frame.method, frame.unit)) == [
        (t, m, unit) for unit in ("token", "word") for t in range(2) for m in methods
    ]
    for row in frame.to_dict("records"):
        expected = handmade.COMPREHENSIVENESS if row["unit"] == "token" else handmade.WORD_COMPREHENSIVENESS
        assert row["comprehensiveness"] == expected[row["method"]]
        assert row["comprehensiveness_raw"] == expected[row["method"]] / 2
        assert row["without_top_0.5"] == pytest.approx(handmade.PREDICTIONS[row["text_id"]] - 0.1)
        assert row["only_top_1"] == pytest.approx(handmade.PREDICTIONS[row["text_id"]] - 0.05)
    random = frame[frame.method == "random"]
    assert (random.comprehensiveness_std == 0.05).all()
    assert frame[frame.method != "random"].comprehensiveness_std.isna().all()


def test_faithfulness_csv_without_faithfulness_is_only_a_header() -> None:
    content = faithfulness_csv(handmade.report(with_faithfulness=False)).decode("utf-8")
    assert content == ",".join(FAITHFULNESS_COLUMNS) + "\n"
