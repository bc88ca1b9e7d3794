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
        },
        "agreement": _agreement_rows(
            report, report.agreement.mean if report.agreement else None, report.agreement.counts if report.agreement else None
        ),
        "methodTitles": [[m.name, m.title] for m in report.methods],
        "shade": {"positive": theme.POSITIVE_RGB, "negative": theme.NEGATIVE_RGB, "maxAlpha": theme.MAX_ALPHA},
        "texts": [_text_data(report, t) for t in texts],
    }
