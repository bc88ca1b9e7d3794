"""Extraction numbers against an independent computation with transformers directly.

The reference runs each text alone (no padding at all) through a freshly loaded model; the
extraction under test batches texts of different lengths together, so padding is present in
every batch but must not reach any number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reportgen.extraction import QUANT_SCALE, encode_texts, extract, length_sorted_batches
from reportgen.inputs import InputText
from reportgen.loading import load_model

from methods_fixtures import TEXTS



def _reference(model_dir: Path, text: str) -> tuple[np.ndarray, np.ndarray]:
    """Attentions (layers, heads, n, n) and logits of one unpadded text, straight from transformers."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, local_files_only=True, attn_implementation="eager"
    ).eval()
    enc = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    assert len(out.attentions) == model.config.num_hidden_layers, "attentions must really be returned"
    att = torch.stack(out.attentions, dim=1)[0].numpy()
    return att, out.logits[0].numpy()


@pytest.mark.parametrize("model_fixture", ["tiny_model", "sample_model"])
def test_batched_extraction_matches_unpadded_reference(model_fixture: str, request: pytest.FixtureRequest) -> None:
    model_dir = request.getfixturevalue(model_fixture)
    loaded = load_model(model_dir, device="cpu")
    items = [InputText(i, t, f"t:{i}") for i, t in enumerate(TEXTS)]
    encoded = encode_texts(loaded, items, loaded.info.max_length)
    lengths = {len(e.input_ids) for e in encoded}
    assert len(lengths) > 2, "texts must differ in length so that batches really hold padding"
    # Batch of 4: the longest and shortest texts share a batch, so padding is large.
    heads: dict[int, np.ndarray] = {}
    results = extract(loaded, encoded, batch_size=4, on_attention=lambda i, att: heads.__setitem__(i, att.copy()))
    assert [r.text_id for r in results] == list(range(len(TEXTS)))
    assert sorted(heads) == list(range(len(TEXTS))), "every text's heads go to the callback once"
    # A run without a data file keeps no heads: they only reach the callback.
    light = extract(loaded, encoded, batch_size=4, keep_heads=False)
    assert all(r.heads_q.shape == (0, 0, len(r.encoded.input_ids), len(r.encoded.input_ids)) for r in light)
    assert all(np.array_equal(a.layer_mean, b.layer_mean) for a, b in zip(light, results))
    for item, result in zip(items, results):
        ref_att, ref_logits = _reference(model_dir, item.text)
        n = ref_att.shape[-1]
        assert len(result.encoded.input_ids) == n
        np.testing.assert_allclose(result.output, ref_logits, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(result.layer_mean, ref_att.mean(axis=1), rtol=1e-4, atol=1e-5)
        # Every head, quantised to 16 bits: kept (the data file's) and handed to the page's store.
        assert heads[item.text_id].dtype == np.uint16
        np.testing.assert_array_equal(heads[item.text_id], result.heads_q)
        np.testing.assert_allclose(result.heads_q / QUANT_SCALE, ref_att, atol=1.0 / QUANT_SCALE)
        # The article's two vectors, as the report defines them.
        last = ref_att[-1]
        np.testing.assert_allclose(result.cls_attention, last[:, 0, :].mean(axis=0), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(result.mean_received, last.mean(axis=0).mean(axis=0), rtol=1e-4, atol=1e-6)
        # Rows over real tokens sum to 1: no attention mass went to padding.
        np.testing.assert_allclose(result.layer_mean.sum(axis=-1), 1.0, atol=1e-4)
        if loaded.info.task == "regression":
            assert result.prediction == pytest.approx(float(ref_logits[0]), rel=1e-5, abs=1e-6)


def test_special_tokens_marked_and_offsets_cover_text(tiny_model: Path) -> None:
    loaded = load_model(tiny_model)
    [enc] = encode_texts(loaded, [InputText(0, "ご来店ありがとう", "t:1")], 64)
    assert enc.special[0] and enc.special[-1] and not any(enc.special[1:-1])
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]"
    assert enc.offsets is not None
    covered = "".join("ご来店ありがとう"[a:b] for (a, b), s in zip(enc.offsets, enc.special) if not s)
    assert "ご" in covered, "keep_accents: ご must not turn into こ"


def test_truncation_is_flagged_not_silent(tiny_model: Path) -> None:
    loaded = load_model(tiny_model)
    long_text = "ありがとうございます。" * 40
    [enc] = encode_texts(loaded, [InputText(0, long_text, "t:1")], 16)
    assert len(enc.input_ids) == 16
    assert enc.truncated and enc.full_length > 16
    assert enc.special[-1], "a truncated text still ends with [SEP]"
    [short] = encode_texts(loaded, [InputText(0, "ありがとう", "t:1")], 16)
    assert not short.truncated


def test_batches_sorted_by_length_and_complete() -> None:
    lengths = [5, 30, 7, 30, 12, 3, 8]
    batches = length_sorted_batches(lengths, 3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat, reverse=True)
    assert all(len(b) <= 3 for b in batches)


def test_classification_head_reports_probability_of_predicted_class(tiny_classifier: Path) -> None:
    loaded = load_model(tiny_classifier)
    assert loaded.info.task == "classification"
    [enc] = encode_texts(loaded, [InputText(0, "今日は来てくれてありがとう。", "t:1")], 64)
    [result] = extract(loaded, [enc])
    probs = torch.softmax(torch.tensor(result.output), dim=0).numpy()
    assert result.prediction == pytest.approx(float(probs.max()))
    assert result.predicted_label == f"class_{int(probs.argmax())}"
