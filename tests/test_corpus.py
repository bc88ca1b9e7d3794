"""The corpus view on KeiCO held-out rows with the sample model (issue 11's bar).

The rows: every 4th row of the held-out split (data-row index % 40 == 0, so index % 10 == 0 as
in ``test_sample_model``): 251 sentences over all four politeness levels. The stages are called
directly (no HTML): extraction, Integrated Gradients with 4 forced steps (the report's signed
default method), words, the report model. No faithfulness: the corpus view does not need it.

The exact expectation checked (words seen in at least 5 of the 251 texts):
* the word that raises the score most is an honorific form (set ``HONORIFIC`` below), and at
  least 7 of the 10 most raising words are;
* よ is among the 3 words that lower the score most, and ね among the 10 that lower it most.
KeiCO grades plain teineigo (です, ください) below honorifics, so those are not expected on top.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from reportgen.export import CORPUS_COLUMNS, corpus_csv, words_csv
from reportgen.extraction import encode_texts, extract
from reportgen.inputs import InputText
from reportgen.loading import load_model
from reportgen.methods import MethodContext, resolve, run_methods
from reportgen.report import RunInfo, build_report
from reportgen.types import TextRecord
from reportgen.words import with_words
from test_sample_model import keico_csv

STRIDE = 40
MIN_TEXTS = 5
HONORIFIC = {
    # sonkeigo
    "いらっしゃる", "おっしゃる", "なさる", "くださる", "下さる", "召し上がる", "ご覧",
    # kenjōgo (and the polite copula/existence verbs that go with them)
    "存じる", "存ずる", "おる", "ござる", "いたす", "致す", "申す", "申し上げる", "参る", "伺う",
    "いただく", "頂く", "いただける", "頂ける", "差し上げる", "拝見", "承る",
    # honorific prefixes and suffix
    "お", "ご", "御", "様",
}
CASUAL = ("よ", "ね")


def keico_rows() -> list[tuple[str, int]]:
    rows = []
    with open(keico_csv(), encoding="utf-8", newline="") as handle:
        for i, rec in enumerate(csv.DictReader(handle)):
            if i % STRIDE == 0:
                rows.append((rec["本文"].strip(), int(rec["Level"])))
    return rows


@pytest.fixture(scope="module")
def keico_report(sample_model: Path):
    torch.set_num_threads(1)
    rows = keico_rows()
    assert len(rows) == 251 and {level for _, level in rows} == {1, 2, 3, 4}
    loaded = load_model(sample_model, device="cpu")
    items = [InputText(i, text, f"keico:{i * STRIDE}", (4 - level) / 3) for i, (text, level) in enumerate(rows)]
    encoded = encode_texts(loaded, items, 128)
    extractions = extract(loaded, encoded, batch_size=32)
    methods = resolve(["integrated_gradients"])
    ctx = MethodContext(loaded, tuple(extractions), 32, 4)
    scores = run_methods(methods, ctx)["integrated_gradients"]
    records = [TextRecord(i, x, scores={"integrated_gradients": s}) for i, x, s in zip(items, extractions, scores)]
    records = with_words(records, "auto")
    run = RunInfo("keico", "2026-01-01T00:00:00+00:00", "test", (), ("keico",), 0, 128, 32, "cpu")
    return build_report(run, loaded.info, records, [m.info for m in methods])


def test_keico_corpus_view_ranks_honorifics_up_and_casual_particles_down(keico_report) -> None:
    corpus = keico_report.corpus
    assert corpus.method == keico_report.signed_default == "integrated_gradients"
    assert corpus.n_texts == 251  # every text contributes
    raising = [w.lemma for w in corpus.raising(MIN_TEXTS, 10)]
    lowering = [w.lemma for w in corpus.lowering(MIN_TEXTS, 10)]
    print("raising:", raising, "\nlowering:", lowering)
    assert raising[0] in HONORIFIC, raising
    assert sum(w in HONORIFIC for w in raising) >= 7, raising
    assert "よ" in lowering[:3], lowering
    assert "ね" in lowering, lowering


def test_corpus_table_equals_a_direct_pandas_computation_from_the_words_csv(keico_report) -> None:
    words = pd.read_csv(io.BytesIO(words_csv(keico_report)), keep_default_na=False, na_values=[""])
    corpus = pd.read_csv(io.BytesIO(corpus_csv(keico_report)), keep_default_na=False, na_values=[""])
    assert list(corpus.columns) == list(CORPUS_COLUMNS)
    assert set(corpus.method) == {"integrated_gradients"}
    scored = words[words.integrated_gradients.notna()]
    assert scored.text_id.nunique() == 251
    grouped = scored.groupby("lemma")
    direct = pd.DataFrame(
        {
            "n_texts": grouped.text_id.nunique(),
            "occurrences": grouped.size(),
            "total": grouped.integrated_gradients.sum(),
            "abs": grouped.integrated_gradients.apply(lambda s: s.abs().sum()),
        }
    )
    direct["mean"] = direct.total / direct.occurrences
    direct["share_abs"] = direct["abs"] / scored.integrated_gradients.abs().sum()
    table = corpus.set_index("lemma").sort_index()
    direct = direct.sort_index()
    assert list(table.index) == list(direct.index)
    assert (table.n_texts == direct.n_texts).all() and (table.occurrences == direct.occurrences).all()
    for column in ("mean", "total", "share_abs"):
        np.testing.assert_allclose(table[column], direct[column], rtol=1e-6, atol=1e-9)
    # The texts listed per word are exactly the texts whose words CSV rows hold it.
    listed = table.text_ids.astype(str).map(lambda s: sorted(int(v) for v in s.split()))
    expected = grouped.text_id.apply(lambda s: sorted(set(int(v) for v in s)))
    assert listed.to_dict() == expected.to_dict()
    # 95% interval where each of those texts has the word once: the ordinary t interval.
    from scipy import stats

    once = scored.groupby(["lemma", "text_id"]).size().groupby("lemma").max() == 1
    lemma = next(l for l in direct.index[(direct.n_texts >= 10).to_numpy() & once.reindex(direct.index).to_numpy()])
    values = scored[scored.lemma == lemma].integrated_gradients.to_numpy()
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert (table.loc[lemma, "ci_low"], table.loc[lemma, "ci_high"]) == pytest.approx((low, high), rel=1e-6)
