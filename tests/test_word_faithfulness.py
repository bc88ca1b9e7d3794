"""Words on the real sample model (issue 11): alignment, word-level IG completeness, and the
whole-word deletion measurement checked against direct, one-input-at-a-time model calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import reportgen.faithfulness as faithfulness
from methods_fixtures import TEXTS
from reportgen.extraction import encode_texts, extract
from reportgen.faithfulness import RANDOM_METHOD, deletion_steps, evaluate_faithfulness, word_order
from reportgen.inputs import InputText
from reportgen.loading import load_model
from reportgen.methods import DELTA_TOLERANCE, MethodContext, resolve, run_methods
from reportgen.words import text_words

WORD_TEXTS = (*TEXTS, "Thank you very much for your order. We will ship it tomorrow.")
TRUNCATED = "先生がいらっしゃいました。お待ちしておりました。こちらでございます。"
MAX_LENGTH_CUT = 12


@pytest.fixture(scope="module")
def run(sample_model: Path):
    """The sample model on WORD_TEXTS plus one text cut to 12 tokens: extractions, words, scores."""
    torch.set_num_threads(1)
    loaded = load_model(sample_model, device="cpu")
    items = [InputText(i, t, f"t:{i}") for i, t in enumerate(WORD_TEXTS)]
    encoded = encode_texts(loaded, items, loaded.info.max_length)
    cut_item = InputText(len(items), TRUNCATED, "cut")
    encoded += encode_texts(loaded, [cut_item], MAX_LENGTH_CUT)
    items.append(cut_item)
    assert encoded[-1].truncated
    extractions = extract(loaded, encoded, batch_size=4)
    ctx = MethodContext(loaded, tuple(extractions), 4, None)  # adaptive IG: the pipeline's default
    scores = run_methods(resolve(["cls_attention", "grad_input", "integrated_gradients"]), ctx)
    words = [text_words(i.text, e.tokens, e.offsets, e.special) for i, e in zip(items, encoded)]
    return loaded, items, extractions, words, scores


def test_words_cover_every_text_and_align_to_its_real_pieces(run) -> None:
    _, items, extractions, words, _ = run
    assert [w.mode for w in words] == ["ja"] * len(TEXTS) + ["space", "ja"]
    for item, x, w in zip(items, extractions, words):
        text = item.text
        covered = "".join(text[word.start : word.end] for word in w.words)
        assert covered == "".join(text.split()), text  # the surfaces are the text less whitespace
        for pairs, special in zip(w.alignment, x.encoded.special):
            assert (pairs == ()) == special
            assert sum(f for _, f in pairs) == pytest.approx(1.0 if pairs else 0.0)
    assert [w.surface for w in words[-2].words][:3] == ["Thank", "you", "very"]


def test_integrated_gradients_stays_complete_at_word_level(run) -> None:
    """Word IG sums to f(x) - f(baseline) within the tolerance the piece scores are held to."""
    _, _, extractions, words, scores = run
    for x, w, ig in zip(extractions, words, scores["integrated_gradients"]):
        difference = x.prediction - ig.baseline_prediction
        per_word = w.scores(ig.scores)
        seen = per_word[np.isfinite(per_word)]
        assert seen.sum() == pytest.approx(ig.scores.sum(), abs=1e-9)  # nothing lost between levels
        piece_error = abs(ig.scores.sum() - difference)
        word_error = abs(seen.sum() - difference)
        assert piece_error <= DELTA_TOLERANCE * abs(difference)
        assert word_error <= DELTA_TOLERANCE * abs(difference), (x.text_id, word_error, difference)
    # The cut text: the words past the 12th token were never seen (NaN), and completeness still holds.
    cut = words[-1].scores(scores["integrated_gradients"][-1].scores)
    assert np.isnan(cut).any() and np.isfinite(cut[:3]).all()


def _direct(loaded, ids) -> float:  # noqa: ANN001
    with torch.inference_mode():
        return float(loaded.model(input_ids=torch.tensor([ids])).logits[0, 0])


def test_whole_word_deletion_matches_direct_masking(run, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded, _, extractions, words, scores = run
    seen_rows: list[tuple[int, ...]] = []
    real = faithfulness.evaluate_outputs

    def recording(loaded_, rows, targets, rows_per_pass):  # noqa: ANN001, ANN202
        seen_rows.extend(rows)
        return real(loaded_, rows, targets, rows_per_pass)

    monkeypatch.setattr(faithfulness, "evaluate_outputs", recording)
    few = 4  # four texts are enough here, and keep the test fast
    extractions, words = extractions[:few], words[:few]
    chosen = {name: scores[name][:few] for name in ("cls_attention", "grad_input")}
    both = evaluate_faithfulness(loaded, extractions, chosen, batch_size=4, words=words)
    rows_both = len(seen_rows)
    seen_rows.clear()
    tokens_only = evaluate_faithfulness(loaded, extractions, chosen, batch_size=4)
    rows_tokens = len(seen_rows)

    # The token-level results are the same with or without the word level beside them (up to
    # float noise: the shared evaluation batches the inputs differently).
    assert len(both.per_text) == len(tokens_only.per_text)
    for a, b in zip(both.per_text, tokens_only.per_text):
        assert (a.text_id, a.method, a.unit, a.curve.removed) == (b.text_id, b.method, b.unit, b.curve.removed)
        assert a.comprehensiveness_raw == pytest.approx(b.comprehensiveness_raw, abs=1e-5)
        assert a.curve.without_top == pytest.approx(b.curve.without_top, abs=1e-5)
        assert a.curve.only_top == pytest.approx(b.curve.only_top, abs=1e-5)
    assert [s.method for s in both.summary] == [s.method for s in tokens_only.summary]
    assert tokens_only.by_word is None and both.by_word is not None and both.by_word.unit == "word"
    # One shared, deduplicated evaluation: the word level adds fewer inputs than it has.
    by_word = both.by_word
    assert rows_tokens < rows_both

    mask = loaded.tokenizer.mask_token_id
    k = 0  # the first text, hand-checked through the model directly
    x, w = extractions[k], words[k]
    ranked = word_order(w.scores(scores["grad_input"][k].scores))
    members = w.word_tokens
    counts = deletion_steps(sum(1 for m in members if m), by_word.fractions)
    assert counts == tuple(range(1, len(counts) + 1))  # whole words at word resolution: 1, 2, 3, ...
    result = next(f for f in by_word.for_text(x.text_id) if f.method == "grad_input")
    assert result.unit == "word" and result.curve.removed == counts
    for c, without, only in zip(counts, result.curve.without_top, result.curve.only_top):
        top = {p for j in ranked[:c] for p in members[j]}
        ids = [mask if p in top else t for p, t in enumerate(x.encoded.input_ids)]
        assert without == pytest.approx(_direct(loaded, ids), abs=1e-5)
        rest = {p for m in members for p in m} - top
        ids = [mask if p in rest else t for p, t in enumerate(x.encoded.input_ids)]
        assert only == pytest.approx(_direct(loaded, ids), abs=1e-5)
    everything = [mask if not s else t for t, s in zip(x.encoded.input_ids, x.encoded.special)]
    # The normaliser is the largest change any whole-word input of the text caused.
    assert result.normaliser >= abs(x.prediction - _direct(loaded, everything)) - 1e-5
    assert result.normaliser >= max(abs(x.prediction - v) for v in result.curve.without_top + result.curve.only_top) - 1e-5
    # Every text and method has a word-level result, the random reference shuffles words.
    for x in extractions:
        names = {f.method for f in by_word.for_text(x.text_id)}
        assert names == {"cls_attention", "grad_input", RANDOM_METHOD}
    assert {s.method for s in by_word.summary} == {"cls_attention", "grad_input", RANDOM_METHOD}
