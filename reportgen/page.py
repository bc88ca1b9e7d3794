"""The page contract: the one JSON block the page's script reads, typed, and how it is built.

Owns what travels from Python to ``templates/report.js``: chart templates (once per report),
the colour theme and compact per-text data (tokens, attention as base64 uint16, every method's
scores, waterfall steps, deletion curves, agreement cells). The TypedDicts below are the
contract: ``report.js`` reads exactly these keys. User text only ever travels here as data.
"""

from __future__ import annotations

import math
from typing import Sequence, TypedDict

from . import charts, theme
from .report import Report, TextReport
from .visible import visible_plain


class MethodValues(TypedDict):
    rel: list[float | None]
    """Each token's score divided by the method's report-wide scale, in [-1, 1]."""
    value: list[float | None]
    """Each token's score in the method's own unit (hover text)."""


class WaterfallStep(TypedDict):
    step: int
    label: str
    start: float | None
    end: float | None
    value: float | None
    kind: str
    """``"up"``, ``"down"`` or ``"total"`` (f(baseline), f(x))."""


class CurvePoint(TypedDict):
    method: str
    order: int
    reference: bool
    pct: float | None
    f: float | None


class BandPoint(TypedDict):
    pct: float | None
    lo: float | None
    hi: float | None


class AgreementCell(TypedDict):
    a: str
    b: str
    rho: float | None
    texts: int


class WordsData(TypedDict):
    """One text's words: labels for the method bars, every method's word scores."""

    mode: str
    """``"ja"`` or ``"space"``."""
    labels: list[str]
    """Each word's surface, made visible (chart labels, hover text)."""
    lemmas: list[str]
    methods: dict[str, MethodValues]
    """Per method, one value per word (None: no token reaches the word)."""


class TextData(TypedDict):
    id: int
    n: int
    layers: int
    heads: int
    tokens: list[str]
    pieces: list[str]
    special: list[int]
    att: str
    """Every layer and head, uint16 little-endian ``(layers, heads, n, n)``, base64."""
    methods: dict[str, MethodValues]
    stepLabels: list[str]
    steps: list[WaterfallStep]
    curves: list[CurvePoint]
    band: list[BandPoint]
    agreement: list[AgreementCell]
    words: WordsData | None
    unit: str
    """What the text shows first: ``"words"`` or ``"pieces"``."""


class CorpusRow(TypedDict):
    lemma: str
    surfaces: list[str]
    n: int
    """Texts the word occurs in."""
    occ: int
    mean: float | None
    total: float | None
    lo: float | None
    hi: float | None
    share: float | None
    ids: list[int]
    """The texts containing the word (their ``id``)."""


class CorpusText(TypedDict):
    id: int
    preview: str
    """The start of the text, made visible (shown with textContent)."""


class CorpusData(TypedDict):
    method: str
    title: str
    minTexts: int
    """The minimum count the lists start with (the reader can change it)."""
    k: int
    """Words per list."""
    words: list[CorpusRow]
    """Every word (dictionary form), largest share of |attribution| first."""
    texts: list[CorpusText]


class ShadeTheme(TypedDict):
    positive: tuple[int, int, int]
    negative: tuple[int, int, int]
    maxAlpha: float


class PageData(TypedDict):
    quantScale: int
    views: list[str]
    measures: list[str]
    specs: dict[str, dict]
    """Chart templates by kind: each filled per text with named datasets and a ``tokens`` param."""
    agreement: list[AgreementCell]
    methodTitles: list[list[str]]
    shade: ShadeTheme
    texts: list[TextData]
    corpus: CorpusData | None


def _round(value: float | None, digits: int = 5) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), digits)


def _waterfall(text: TextReport) -> tuple[list[str], list[WaterfallStep]]:
    """Integrated Gradients steps: f(baseline), each content token's share, then f(x)."""
    ig = text.integrated_gradients
    if ig is None:
        return [], []
    values = text.scores_for("integrated_gradients").values
    labels = ["f(baseline)"]
    rows: list[WaterfallStep] = [{"step": 0, "label": "f(baseline)", "start": _round(ig.baseline_prediction), "end": _round(ig.baseline_prediction), "value": _round(ig.baseline_prediction), "kind": "total"}]
    running = ig.baseline_prediction
    for token in text.tokens:
        if token.special:
            continue
        value = values[token.position]
        labels.append(visible_plain(token.label))
        rows.append({
            "step": len(rows), "label": visible_plain(token.label), "start": _round(running),
            "end": _round(running + value), "value": _round(value), "kind": "up" if value >= 0 else "down",
        })
        running += value
    labels.append("f(x)")
    rows.append({"step": len(rows), "label": "f(x)", "start": _round(ig.explained), "end": _round(ig.explained), "value": _round(ig.explained), "kind": "total"})
    return labels, rows


def _curves(report: Report, text: TextReport) -> tuple[list[CurvePoint], list[BandPoint]]:
    """Deletion curves (k = 0 is the unperturbed text) and the random reference's band."""
    measured = [(s.method, report.method(s.method).title, s.faithfulness) for s in text.scores]
    measured.append(("random", "random order (mean)", text.random_reference))
    rows: list[CurvePoint] = []
    band: list[BandPoint] = []
    for order, (name, title, f) in enumerate(measured):
        if f is None:
            continue
        points = [(0.0, f.prediction)] + [(100 * k, v) for k, v in zip(f.curve.fractions, f.curve.without_top)]
        rows += [{"method": title, "order": order, "reference": name == "random", "pct": _round(k, 2), "f": _round(v)} for k, v in points]
        if name == "random" and f.curve.without_top_std is not None:
            band = [{"pct": 0.0, "lo": _round(f.prediction), "hi": _round(f.prediction)}] + [
                {"pct": _round(100 * k, 2), "lo": _round(m - sd), "hi": _round(m + sd)}
                for k, m, sd in zip(f.curve.fractions, f.curve.without_top, f.curve.without_top_std)
            ]
    return rows, band


def _text_data(report: Report, text: TextReport) -> TextData:
    step_labels, steps = _waterfall(text)
    curves, band = _curves(report, text)
    return {
        "id": text.text_id,
        "n": len(text.tokens),
        "layers": text.num_layers,
        "heads": text.num_heads,
        "tokens": [visible_plain(tok.label) for tok in text.tokens],
        "pieces": [visible_plain(tok.piece) for tok in text.tokens],
        "special": [int(tok.special) for tok in text.tokens],
        "att": text.attention_b64,
        # One array per method, shared by the highlight and the methods chart (rows built in the page).
        "methods": {
            s.method: {"rel": [_round(v, 4) for v in s.relative], "value": [_round(v, 6) for v in s.values]}
            for s in text.scores
        },
        "stepLabels": step_labels,
        "steps": steps,
        "curves": curves,
        "band": band,
        "agreement": _agreement_rows(report, text.agreement),
        "words": _words_data(text),
        "unit": text.default_unit,
    }


def _words_data(text: TextReport) -> WordsData | None:
    if text.words is None:
        return None
    return {
        "mode": text.words.mode,
        "labels": [visible_plain(w.surface) for w in text.words.words],
        "lemmas": [visible_plain(w.lemma) for w in text.words.words],
        "methods": {
            s.method: {"rel": [_round(v, 4) for v in s.relative], "value": [_round(v, 6) for v in s.values]}
            for s in text.words.scores
        },
    }


CORPUS_LIST_LENGTH = 15
PREVIEW_CHARS = 60


def _corpus_data(report: Report) -> CorpusData | None:
    corpus = report.corpus
    if corpus is None:
        return None
    return {
        "method": corpus.method,
        "title": report.method(corpus.method).title,
        "minTexts": corpus.default_min_texts,
        "k": CORPUS_LIST_LENGTH,
        "words": [
            {
                "lemma": visible_plain(w.lemma),
                "surfaces": [visible_plain(x) for x in w.surfaces],
                "n": w.n_texts,
                "occ": w.occurrences,
                "mean": _round(w.mean, 6),
                "total": _round(w.total, 6),
                "lo": _round(w.ci_low, 6),
                "hi": _round(w.ci_high, 6),
                "share": _round(w.share_abs, 6),
                "ids": list(w.text_ids),
            }
            for w in corpus.words
        ],
        "texts": [
            {"id": t.text_id, "preview": visible_plain(t.text[:PREVIEW_CHARS] + ("…" if len(t.text) > PREVIEW_CHARS else ""))}
            for t in report.texts
        ],
    }


def _agreement_rows(
    report: Report, matrix: Sequence[Sequence[float | None]] | None, counts: Sequence[Sequence[int]] | None = None
) -> list[AgreementCell]:
    """Cells of a method x method Spearman matrix (report mean, or one text when ``counts`` is None)."""
    if report.agreement is None or matrix is None:
        return []
    methods = report.agreement.methods
    return [
        {"a": a, "b": b, "rho": _round(matrix[i][j], 4), "texts": counts[i][j] if counts else 1}
        for i, a in enumerate(methods)
        for j, b in enumerate(methods)
        if matrix[i][j] is not None
    ]


def page_data(report: Report) -> PageData:
    """What the page's script reads: chart templates once, compact per-text data."""
    texts = report.texts
    label = "prediction" if report.model.task == "regression" else "probability of predicted class"
    return {
        "quantScale": report.quant_scale,
        "views": charts.VIEWS,
        "measures": [charts.CLS_MEASURE, charts.RECEIVED_MEASURE],
        "specs": {
            "heatmap": charts.heatmap_spec(),
            "bars": charts.bars_spec(),
            "predictions": charts.predictions_spec(
                [t.text_id for t in texts], [t.prediction for t in texts], [t.gold for t in texts], label
            ),
            "methods": charts.methods_spec(),
            "waterfall": charts.waterfall_spec(),
            "deletion": charts.deletion_spec(),
            "agreement": charts.agreement_spec(report.agreement.methods if report.agreement else ()),
            "corpus": charts.corpus_spec(),
        },
        "agreement": _agreement_rows(
            report, report.agreement.mean if report.agreement else None, report.agreement.counts if report.agreement else None
        ),
        "methodTitles": [[m.name, m.title] for m in report.methods],
        "shade": {"positive": theme.POSITIVE_RGB, "negative": theme.NEGATIVE_RGB, "maxAlpha": theme.MAX_ALPHA},
        "texts": [_text_data(report, t) for t in texts],
        "corpus": _corpus_data(report),
    }
