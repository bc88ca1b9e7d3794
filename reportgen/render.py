"""Rendering a :class:`~reportgen.report.Report` into one self-contained HTML page.

Owns the Jinja2 environment (autoescape on, StrictUndefined), the page's data block and the
inlining of the Vega/Vega-Lite/vega-embed bundle, which appears exactly once per page.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from . import __version__, charts
from .report import Report
from .resources import templates_dir

PAGE_TEMPLATE = "report.html.j2"


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """vega + vega-lite + vega-embed as one script (from vl-convert, so no download)."""
    import vl_convert

    bundle = vl_convert.javascript_bundle()
    # Inside <script>, only "</script" (any case) could end the element early; keep it out.
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


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
        },
        "texts": [
            {
                "id": t.text_id,
                "n": len(t.tokens),
                "layers": t.num_layers,
                "heads": t.num_heads,
                "tokens": [tok.label for tok in t.tokens],
                "special": [int(tok.special) for tok in t.tokens],
                "att": t.attention_b64,
            }
            for t in texts
        ],
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
