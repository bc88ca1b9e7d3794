"""Rendering a :class:`~reportgen.report.Report` into one self-contained HTML page.

Owns the Jinja2 environment (autoescape on, StrictUndefined) and the inlining of the page's CSS,
its script and the Vega/Vega-Lite/vega-embed bundle, which appears exactly once per page. What
the script reads (the page data) is built in :mod:`reportgen.page`.
"""

from __future__ import annotations

import functools
import re

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from . import __version__
from .page import page_data
from .report import Report
from .resources import templates_dir
from .theme import shade
from .visible import visible, visible_pieces, visible_plain

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
    env.filters["visible_pieces"] = visible_pieces
    env.filters["shade"] = shade
    return env


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
