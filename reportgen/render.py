"""Rendering a :class:`~reportgen.report.Report` into one self-contained HTML page.

Owns the Jinja2 environment (autoescape on, StrictUndefined) and the inlining of the page's CSS,
its script and the Vega/Vega-Lite/vega-embed bundle, which appears exactly once per page, as an
inert element the page's script runs when it first draws a Vega chart (``base.html.j2``: the
page data, the script, the bundle, then every text's blocks, so that a deep-linked text's answer
is shown, and its Vega charts drawn, before most of the file is parsed). What
the script reads (the page data) is built in :mod:`reportgen.page`; this module measures the
page without any text's blocks and lets :func:`reportgen.page.fit` choose what each text keeps
so that the file stays within ``--max-size``, then checks the rendered size.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from . import __version__
from . import page
from .budget import Fit
from .derived import cached
from .report import Report
from .resources import templates_dir
from .theme import shade
from .visible import visible, visible_pieces, visible_plain

PAGE_TEMPLATE = "report.html.j2"


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """vega + vega-lite + vega-embed as one script (from vl-convert, so no download; kept on disk,
    see :mod:`reportgen.derived`)."""
    def make_bundle() -> str:
        import vl_convert  # only when the bundle is not on disk yet

        return vl_convert.javascript_bundle()

    bundle = cached("vega-bundle", "", make_bundle)
    # Inside <script>, only "</script" (any case) could end the element early; keep it out.
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    """One environment per process: Jinja compiles each template once and reuses it (a notebook
    or a test session renders many reports). The loader still checks each template file's
    modification time, so an edited template is recompiled."""
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


HEADER_MARGIN = 4096
"""Bytes kept free for the header's budget sentences, which are written after the fit."""


@dataclass(frozen=True)
class Rendered:
    html: str
    fit: Fit
    """What each text keeps, and the file's size (``fit.file_bytes``)."""


def render_page(report: Report, data: page.PageData, fit: Fit | None) -> str:
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
        page_json=Markup(page.page_json(data)),
        # Base64 and fixed markup only: no user text, nothing to escape.
        blocks=Markup(page.block_elements(data["blocks"])),
        fit=fit,
        search_chars=page.SEARCH_CHARS,
    )


def render_report(report: Report, max_bytes: int | None = None) -> Rendered:
    """The page, with every text keeping as much detail as ``max_bytes`` allows (None: all)."""
    base = page.base_data(report)
    fixed = len(render_page(report, base, None).encode("utf-8")) + HEADER_MARGIN
    fitted = page.fit(report, base, fixed, max_bytes)
    for _ in range(8):
        html = render_page(report, fitted.data, replace(fitted.fit, file_bytes=fitted.fit.full_bytes))
        size = len(html.encode("utf-8"))
        html = render_page(report, fitted.data, replace(fitted.fit, file_bytes=size))
        size = len(html.encode("utf-8"))
        if not max_bytes or size <= max_bytes or not fitted.fit.fits:
            break
        # The estimate was short (it should not be): ask the fit for the difference and retry.
        fixed += size - max_bytes + HEADER_MARGIN
        fitted = page.fit(report, base, fixed, max_bytes)
    return Rendered(html=html, fit=replace(fitted.fit, file_bytes=size))


def render_html(report: Report, max_bytes: int | None = None) -> str:
    return render_report(report, max_bytes).html
