"""Rendering a :class:`~reportgen.report.Report` into one self-contained HTML page.

Owns the Jinja2 environment (autoescape on, StrictUndefined), the page's data block and the
inlining of the Vega/Vega-Lite/vega-embed bundle, which appears exactly once per page.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from . import __version__, charts
from .report import Report, TextReport
from .resources import templates_dir
from .visible import visible, visible_plain

PAGE_TEMPLATE = "report.html.j2"


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """vega + vega-lite + vega-embed as one script (from vl-convert, so no download)."""
    import vl_convert

    bundle = vl_convert.javascript_bundle()
    # Inside <script>, only "</script" (any case) could end the element early; keep it out.
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["visible"] = visible
    env.filters["visible_plain"] = visible_plain
    env.filters["shade"] = shade
    return env


# The text highlight uses the charts' diverging scale: red = positive, blue = negative, depth =
# |relative score|. The page's script recolours with the same constants when the reader switches.
POSITIVE_RGB = (214, 96, 77)
NEGATIVE_RGB = (67, 147, 195)
MAX_ALPHA = 0.85


def shade(relative: float) -> str:
    """CSS background for a score already divided by its method's report-wide maximum."""
    value = max(-1.0, min(1.0, float(relative)))
    red, green, blue = POSITIVE_RGB if value >= 0 else NEGATIVE_RGB
    return f"rgba({red}, {green}, {blue}, {abs(value) * MAX_ALPHA:.3f})"


def _round(value: float | None, digits: int = 5) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), digits)


def _waterfall(text: TextReport) -> tuple[list[str], list[dict[str, Any]]]:
    """Integrated Gradients steps: f(baseline), each content token's share, then f(x)."""
    ig = text.integrated_gradients
    if ig is None:
        return [], []
    values = text.scores_for("integrated_gradients").values
    labels = ["f(baseline)"]
    rows = [{"step": 0, "label": "f(baseline)", "start": _round(ig.baseline_prediction), "end": _round(ig.baseline_prediction), "value": _round(ig.baseline_prediction), "kind": "total"}]
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


def _curves(report: Report, text: TextReport) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Deletion curves (k = 0 is the unperturbed text) and the random reference's band."""
    measured = [(s.method, report.method(s.method).title, s.faithfulness) for s in text.scores]
    measured.append(("random", "random order (mean)", text.random_reference))
    rows: list[dict[str, Any]] = []
    band: list[dict[str, Any]] = []
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


def _text_data(report: Report, text: TextReport) -> dict[str, Any]:
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
) -> list[dict[str, Any]]:
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


def page_data(report: Report) -> dict[str, Any]:
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
        "shade": {"positive": POSITIVE_RGB, "negative": NEGATIVE_RGB, "maxAlpha": MAX_ALPHA},
        "texts": [_text_data(report, t) for t in texts],
    }


def render_html(report: Report) -> str:
    env = environment()
    loader = env.loader
    assert loader is not None
    # CSS and JS are inlined verbatim (not parsed as templates), then marked safe.
    css = loader.get_source(env, "report.css")[0]
    app_js = loader.get_source(env, "report.js")[0]
    template = env.get_template(PAGE_TEMPLATE)
    return template.render(
        report=report,
        version=__version__,
        lang="ja",
        css=Markup(css),
        app_js=Markup(app_js),
        vega_bundle=Markup(vega_bundle()),
        page_data=page_data(report),
    )
