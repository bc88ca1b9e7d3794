"""Small hand-made results for the middle stages: records, a report, built with no model at all.

Two texts of a made-up SentencePiece model ("▁" word starts, one lone "▁" piece, one truncated
text), three methods (one never negative, two signed, one of them Integrated Gradients with its
baseline and delta), faithfulness results for each (per token and per word), the real agreement
computation and the real word segmentation (MeCab: お茶 / を / どうぞ and 今日 / は / 来 / て / くれ /
て / ありがとう, of which only 今日 and は are reached by the truncated text's tokens). Every
number is chosen here, so the tests can compute what each stage must produce by hand.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reportgen.agreement import agreement
from reportgen.budget import display_attention
from reportgen.inputs import InputText
from reportgen.report import RunInfo, build_report
from reportgen.words import with_words
from reportgen.types import (
    QUANT_SCALE,
    DeletionCurve,
    EncodedText,
    Faithfulness,
    FaithfulnessReport,
    MethodInfo,
    MethodSummary,
    ModelInfo,
    TextExtraction,
    TextRecord,
    TokenScores,
)

LAYERS, HEADS = 2, 3
FRACTIONS = (0.5, 1.0)

METHODS = (
    MethodInfo("cls_attention", "[CLS] attention", signed=False, needs_gradients=False, description="cls row"),
    MethodInfo("grad_input", "Gradient × input", signed=True, needs_gradients=True, description="g x i"),
    MethodInfo("integrated_gradients", "Integrated Gradients", signed=True, needs_gradients=True, description="ig"),
)

# text 0: "お茶 を どうぞ" as pieces [CLS] ▁お 茶 を ▁ どうぞ [SEP]; text 1 truncated after 2 pieces.
TEXTS = ("お茶を どうぞ", "今日は来てくれてありがとう")
PIECES = (
    ("[CLS]", "▁お", "茶", "を", "▁", "どうぞ", "[SEP]"),
    ("[CLS]", "▁今日", "は", "[SEP]"),
)
OFFSETS = (
    ((0, 0), (0, 1), (1, 2), (2, 3), (3, 4), (4, 7), (0, 0)),
    ((0, 0), (0, 2), (2, 3), (0, 0)),
)
SCORES = {
    "cls_attention": (
        np.array([0.40, 0.10, 0.05, 0.02, 0.03, 0.20, 0.20]),
        np.array([0.50, 0.30, 0.10, 0.10]),
    ),
    "grad_input": (
        np.array([0.0, 0.30, -0.20, 0.05, 0.0, -0.60, 0.0]),
        np.array([0.0, -0.10, 0.40, 0.0]),
    ),
    "integrated_gradients": (
        np.array([0.0, 0.25, -0.15, 0.01, 0.02, -0.40, 0.0]),
        np.array([0.0, -0.05, 0.20, 0.0]),
    ),
}
PREDICTIONS = (0.42, 0.81)
IG_BASELINES = (0.70, 0.55)
GOLDS = (0.5, None)


def _attention(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.random((LAYERS, HEADS, n, n))
    return raw / raw.sum(axis=-1, keepdims=True)


def attention(t: int) -> np.ndarray:
    """Text ``t``'s attention, every layer and head: float ``(layers, heads, n, n)``."""
    return _attention(len(PIECES[t]), seed=t)


def extraction(t: int) -> TextExtraction:
    pieces = PIECES[t]
    n = len(pieces)
    special = tuple(p in ("[CLS]", "[SEP]") for p in pieces)
    encoded = EncodedText(
        text_id=t,
        input_ids=tuple(range(2, 2 + n)),
        tokens=pieces,
        offsets=OFFSETS[t],
        special=special,
        truncated=t == 1,
        full_length=n + 5 if t == 1 else n,
    )
    heads = attention(t)
    return TextExtraction(
        encoded=encoded,
        output=np.array([PREDICTIONS[t]]),
        prediction=PREDICTIONS[t],
        predicted_label=None,
        layer_mean=heads.mean(axis=1).astype(np.float32),
        heads_q=np.rint(heads * QUANT_SCALE).astype(np.uint16),
    )


def token_scores(name: str, t: int) -> TokenScores:
    values = SCORES[name][t]
    if name != "integrated_gradients":
        return TokenScores(name, t, values)
    difference = PREDICTIONS[t] - IG_BASELINES[t]
    # Chosen so that sum(scores) - (f(x) - f(baseline)) is the stated delta.
    delta = float(values.sum()) - difference
    return TokenScores(name, t, values, IG_BASELINES[t], delta, abs(delta) / abs(difference))


def faithfulness(t: int, method: str, comprehensiveness: float, unit: str = "token") -> Faithfulness:
    curve = DeletionCurve(
        fractions=FRACTIONS,
        removed=(1, 2),
        without_top=(PREDICTIONS[t] - 0.1, PREDICTIONS[t] - 0.3),
        only_top=(PREDICTIONS[t] - 0.2, PREDICTIONS[t] - 0.05),
        without_top_std=(0.01, 0.02) if method == "random" else None,
        content=2,  # two content tokens: the steps remove 1 and 2 (50% and 100%)
    )
    return Faithfulness(
        text_id=t,
        method=method,
        comprehensiveness=comprehensiveness,
        sufficiency=0.1,
        comprehensiveness_raw=comprehensiveness / 2,
        sufficiency_raw=0.05,
        normalised=True,
        normaliser=2.0,
        prediction=PREDICTIONS[t],
        curve=curve,
        comprehensiveness_std=0.05 if method == "random" else None,
        sufficiency_std=0.02 if method == "random" else None,
        unit=unit,
    )


COMPREHENSIVENESS = {"cls_attention": 0.2, "grad_input": 0.6, "integrated_gradients": 0.5, "random": 0.3}
WORD_COMPREHENSIVENESS = {"cls_attention": 0.25, "grad_input": 0.4, "integrated_gradients": 0.7, "random": 0.35}


def word_faithfulness_report() -> FaithfulnessReport:
    per_text = tuple(
        faithfulness(t, name, WORD_COMPREHENSIVENESS[name], "word")
        for t in range(2)
        for name in [*(m.name for m in METHODS), "random"]
    )
    summary = (
        MethodSummary("integrated_gradients", 0.7, 0.1, 0.6, 1, 1.0, 2, True),
        MethodSummary("grad_input", 0.4, 0.1, 0.3, 2, 1.0, 2, True),
        MethodSummary("cls_attention", 0.25, 0.1, 0.15, 3, 0.0, 2, True),
        MethodSummary("random", 0.35, 0.1, 0.25, None, None, 2, True),
    )
    return FaithfulnessReport(per_text, summary, "integrated_gradients", FRACTIONS, ("word rule",), unit="word")


def faithfulness_report(with_words: bool = True) -> FaithfulnessReport:
    per_text = tuple(
        faithfulness(t, name, COMPREHENSIVENESS[name]) for t in range(2) for name in [*(m.name for m in METHODS), "random"]
    )
    summary = (
        MethodSummary("grad_input", 0.6, 0.1, 0.5, 1, 1.0, 2, True),
        MethodSummary("integrated_gradients", 0.5, 0.1, 0.4, 2, 1.0, 2, True),
        MethodSummary("cls_attention", 0.2, 0.1, 0.1, 3, 0.0, 2, True),
        MethodSummary("random", 0.3, 0.1, 0.2, None, None, 2, True),
    )
    return FaithfulnessReport(
        per_text, summary, "grad_input", FRACTIONS, ("rule one", "rule two"),
        by_word=word_faithfulness_report() if with_words else None,
    )


def records(with_faithfulness: bool = True, with_agreement: bool = True, words: str = "auto") -> list[TextRecord]:
    """``words``: a ``--words`` mode (``pieces``: no words)."""
    faith = faithfulness_report()
    agreed = agreement(
        [extraction(t).encoded.special for t in range(2)],
        {m.name: [token_scores(m.name, t) for t in range(2)] for m in METHODS},
    )
    out = []
    for t in range(2):
        out.append(
            TextRecord(
                item=InputText(t, TEXTS[t], f"texts.txt:{t + 1}", GOLDS[t]),
                extraction=extraction(t),
                scores={m.name: token_scores(m.name, t) for m in METHODS},
                faithfulness={f.method: f for f in faith.for_text(t)} if with_faithfulness else {},
                agreement=agreed.per_text[t] if with_agreement else None,
                display=display_attention(attention(t)),
            )
        )
    out = with_words(out, words)
    if with_faithfulness and words != "pieces":
        word_faith = word_faithfulness_report()
        out = [replace(r, word_faithfulness={f.method: f for f in word_faith.for_text(r.text_id)}) for r in out]
    return out


MODEL = ModelInfo(
    path="model",
    checkpoint=None,
    architecture="AlbertForSequenceClassification",
    model_type="albert",
    num_layers=LAYERS,
    num_heads=HEADS,
    hidden_size=8,
    num_parameters=1000,
    weights_file="model.safetensors",
    weights_sha256="0" * 64,
    task="regression",
    labels=("LABEL_0",),
    max_length=512,
)

RUN = RunInfo(
    title="hand-made",
    created="2026-01-01T00:00:00+00:00",
    command="reportgen run texts.txt",
    versions=(("python", "3"),),
    inputs=("texts.txt",),
    skipped_blank=0,
    max_length=512,
    batch_size=16,
    device="cpu",
)


def report(with_faithfulness: bool = True, with_agreement: bool = True, methods=METHODS, words: str = "auto"):
    recs = records(with_faithfulness, with_agreement, words)
    agreed = None
    if with_agreement:
        agreed = agreement(
            [r.encoded.special for r in recs], {m.name: [r.scores[m.name] for r in recs] for m in methods}
        )
    return build_report(
        RUN,
        MODEL,
        recs,
        list(methods),
        faithfulness=faithfulness_report(with_words=words != "pieces") if with_faithfulness else None,
        agreement=agreed,
        ig_tolerance=0.05,
    )
