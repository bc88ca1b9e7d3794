"""Tests of the bundled sample model in ``samples/model``.

They only LOAD the committed checkpoint (never retrain it) and check that it loads
offline, returns real attentions, keeps Japanese accents in its tokenizer, meets the
held-out quality bar of issue 3 and stays small.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = REPO / "samples" / "model"
PAIRS_TSV = REPO / "tests" / "data" / "politeness_pairs.tsv"
# The held-out split is every data row whose 0-based index is divisible by 10. The CSV is
# sorted by level, so a prefix of the split would cover levels 1-2 only; the test scores
# the whole split (1,001 short sentences, a few seconds on CPU).
TEST_STRIDE = 10


def keico_csv() -> Path:
    """The KeiCO corpus committed in the repository (``REPORTGEN_KEICO_CSV`` overrides it)."""
    env = os.environ.get("REPORTGEN_KEICO_CSV")
    return Path(env) if env else REPO / "samples" / "data" / "keico" / "keico_corpus.csv"


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(MODEL_DIR), local_files_only=True)


@pytest.fixture(scope="module")
def model():
    from transformers import AutoModelForSequenceClassification

    torch.set_num_threads(1)  # two threads spin-wait badly on a shared 2-core machine
    m = AutoModelForSequenceClassification.from_pretrained(
        str(MODEL_DIR), attn_implementation="eager", local_files_only=True
    )
    m.eval()
    return m


@torch.no_grad()
def score(tokenizer, model, texts: list[str], batch_size: int = 64) -> list[float]:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding
    out = [0.0] * len(texts)
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        enc = tokenizer([texts[j] for j in idx], padding=True, truncation=True,
                        max_length=128, return_tensors="pt")
        for j, v in zip(idx, model(**enc).logits[:, 0].tolist()):
            out[j] = v
    return out


def test_model_dir_is_complete_and_small():
    names = {p.name for p in MODEL_DIR.iterdir()}
    for required in ("config.json", "model.safetensors", "spiece.model",
                     "tokenizer_config.json", "README.md"):
        assert required in names, f"samples/model lacks {required}"
    total = sum(p.stat().st_size for p in MODEL_DIR.rglob("*") if p.is_file())
    assert total <= 10 * 1024 * 1024, f"samples/model is {total / 1e6:.2f} MB (> 10 MB)"


def test_config_is_regression(model):
    cfg = model.config
    assert cfg.model_type == "albert"
    assert cfg.num_labels == 1
    assert cfg.problem_type == "regression"
    assert type(model).__name__ == "AlbertForSequenceClassification"


def test_tokenizer_keeps_accents_case_and_special_tokens(tokenizer):
    pieces = tokenizer.tokenize("ございます ぱぴぷ ABC")
    joined = "".join(pieces)
    for ch in "ごぱぴぷ":
        assert ch in joined, f"{ch} lost in {pieces}"
    assert "こ" not in joined and "は" not in joined
    assert "ABC" in joined.replace("▁", ""), f"case not kept: {pieces}"
    ids = tokenizer("ございます")["input_ids"]
    assert ids[0] == 2 and ids[-1] == 3, ids
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4]) == [
        "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert tokenizer.pad_token_id == 0


@torch.no_grad()
def test_attentions_are_returned(tokenizer, model):
    enc = tokenizer("ご注文いただき、誠にありがとうございます。", return_tensors="pt")
    out = model(**enc, output_attentions=True)
    att = out.attentions
    assert isinstance(att, tuple) and len(att) == model.config.num_hidden_layers
    n = enc["input_ids"].shape[1]
    for a in att:
        assert a.shape == (1, model.config.num_attention_heads, n, n)
        assert torch.allclose(a.sum(-1), torch.ones(1, model.config.num_attention_heads, n),
                              atol=1e-4)
    assert out.logits.shape == (1, 1)


def test_heldout_pearson(tokenizer, model):
    from scipy.stats import pearsonr

    path = keico_csv()
    assert path.exists(), (
        f"KeiCO corpus not found at {path}; the held-out test needs it "
        "(it is committed under samples/data/keico/; REPORTGEN_KEICO_CSV overrides the path)")
    texts, gold = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for i, rec in enumerate(csv.DictReader(f)):
            if i % TEST_STRIDE == 0:
                texts.append(rec["本文"].strip())
                gold.append((4 - int(rec["Level"])) / 3)
    assert len(texts) == 1001, f"unexpected KeiCO file {path}: {len(texts)} test rows"
    assert len(set(gold)) == 4
    pred = score(tokenizer, model, texts)
    r = pearsonr(pred, gold)[0]
    assert r >= 0.80, f"held-out Pearson on the {len(texts)} test rows is {r:.3f} < 0.80"


def test_polite_versions_score_higher(tokenizer, model):
    lines = PAIRS_TSV.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "polite\tcasual"
    pairs = [line.split("\t") for line in lines[1:] if line.strip()]
    assert len(pairs) >= 15
    polite = score(tokenizer, model, [p for p, _ in pairs])
    casual = score(tokenizer, model, [c for _, c in pairs])
    wins = sum(p > c for p, c in zip(polite, casual))
    assert wins / len(pairs) >= 0.80, f"polite version higher in only {wins}/{len(pairs)} pairs"


def test_sample_texts_file():
    lines = (REPO / "samples" / "texts.txt").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and all(line.strip() for line in lines[:-1])
    assert "[無料]今すぐ申し込みで最大50,000ポイントもらえる[munaitaカード]" in lines
    assert "これ一つで大丈夫!munaitaカードで贅沢三昧" in lines
