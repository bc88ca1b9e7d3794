"""Open a reportgen report in headless Chromium and record what the page does.

A small helper shared by the browser tests (``from browser import ...``; ``tests/`` is on
``sys.path``). It answers the questions the offline and hostile-text guarantees ask:

* did the page open a dialog (``alert``/``confirm``/``prompt``)?  -> ``Visit.dialogs``
* did any script set the sentinel ``window[SENTINEL]``?            -> ``Visit.sentinel()``
* did a request for anything but a ``file:`` URL leave the page?  -> ``Visit.outside_requests``
  (each is recorded and aborted at the network layer, so nothing ever reaches a network)
* did the page even try one?                                      -> ``Visit.attempted_requests``
  (includes requests the page's Content-Security-Policy stopped before the network)
* did the Content-Security-Policy block something?                -> ``Visit.csp_violations``
* uncaught errors and console errors                              -> ``Visit.page_errors``, ``Visit.console_errors``
* what does a reader see?  ``Visit.visible_text(selector)`` (``innerText``), ``Visit.svg_texts``
  (chart axis labels), ``Visit.canvas_texts`` (text painted on canvases: heatmap and bar
  labels), ``Visit.hover_tooltips`` (vega-tooltip contents), ``Visit.hover_heatmap`` and
  ``Visit.hover_bars`` (the canvases' own tooltip), ``Visit.bar_panels`` (what each attention
  bar panel drew), ``Visit.chart_states``.
* texts are drawn on demand: ``Visit.open_text(i)`` opens text ``i`` as a deep link would and
  waits until its charts are drawn.

Usage::

    from browser import chromium, visit

    with chromium() as browser, visit(browser, Path("report.html")) as page:
        assert not page.dialogs and page.sentinel() is None and not page.outside_requests
        print(page.visible_text("p.highlight"))

The Chromium binary is ``$REPORTGEN_CHROMIUM`` or ``/usr/bin/chromium`` (the README's test
set-up installs it). Browser tests never skip: a missing browser is a failure, not a pass.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

CHROMIUM = os.environ.get("REPORTGEN_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SENTINEL = "__reportgen_pwned"
"""Hostile test strings set ``window[SENTINEL]`` if they ever run; the page itself never does."""
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

# Runs before any script of the page: records CSP violations as the page raises them, and the
# text painted on canvases (a canvas cannot be read back as text).
_INIT_SCRIPT = """
window.__reportgen_csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__reportgen_csp.push(e.violatedDirective + " " + e.blockedURI);
});
window.__reportgen_canvas = [];
window.__reportgen_canvas_off = [];
(function () {
  var fill = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y) {
    if (window.__reportgen_canvas.length < 100000) {
      text = String(text);
      window.__reportgen_canvas.push(text);
      // Where the text's baseline starts and ends on the canvas (its transform applied): a label
      // that runs off its canvas is cut off for the reader.
      var w = this.measureText(text).width, m = this.getTransform(), align = this.textAlign;
      var x0 = align === "right" || align === "end" ? x - w : align === "center" ? x - w / 2 : x;
      var c = this.canvas, off = [[x0, y], [x0 + w, y]].some(function (p) {
        var px = m.a * p[0] + m.c * p[1] + m.e, py = m.b * p[0] + m.d * p[1] + m.f;
        return px < -1 || py < -1 || px > c.width + 1 || py > c.height + 1;
      });
      if (off) window.__reportgen_canvas_off.push(text);
    }
    return fill.apply(this, arguments);
  };
})();
"""


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (playwright ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


# Text sections out of view skip layout (``content-visibility: auto``), and Chromium's
# ``innerText`` of skipped content is empty: lay every section out while reading what a reader
# sees there once scrolled to it. (Set through the CSSOM, which the page's CSP allows.)
REVEAL = "document.querySelectorAll('section.text').forEach(s => { s.style.contentVisibility = 'visible'; });"
UNREVEAL = "document.querySelectorAll('section.text').forEach(s => { s.style.contentVisibility = ''; });"


SCROLL_TO_WAITING = """(charts) => {
    const next = charts.find(c => c.dataset.state === 'waiting');
    if (next) next.scrollIntoView({block: 'center'});
    return charts.every(c => c.dataset.state === 'done' || c.dataset.state === 'error');
}"""
"""A JavaScript function of a list of chart elements, for ``wait_for_function`` polling: scrolls
to the first chart that waits below the window (as a reader reading down would; the page draws
it once near) and says whether every chart is drawn (or failed)."""


@dataclass
class Visit:
    """One opened page and everything it did; valid inside :func:`visit`'s ``with`` block."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    """``"alert: message"`` per dialog the page opened (each is dismissed at once)."""
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    """Every URL not file:, data:, blob: or about: that reached the network layer (then aborted)."""
    attempted_requests: list[str] = field(default_factory=list)
    """Every such URL the page asked for, including those its CSP blocked before the network."""
    csp_blocked_requests: list[str] = field(default_factory=list)
    local_requests: list[str] = field(default_factory=list)

    def sentinel(self) -> Any:
        """``window[SENTINEL]``: ``None`` unless some injected code set it."""
        return self.page.evaluate(f"() => window[{SENTINEL!r}] === undefined ? null : String(window[{SENTINEL!r}])")

    @property
    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("() => window.__reportgen_csp || []"))

    def visible_text(self, selector: str = "body") -> str:
        """What a reader sees in the first element matching ``selector`` (``innerText``), once
        scrolled there (see :data:`REVEAL`)."""
        return str(self.page.eval_on_selector(selector, f"e => {{ {REVEAL} const t = e.innerText; {UNREVEAL} return t; }}"))

    def visible_texts(self, selector: str) -> list[str]:
        return list(self.page.eval_on_selector_all(selector, f"es => {{ {REVEAL} const t = es.map(e => e.innerText); {UNREVEAL} return t; }}"))

    def chart_states(self) -> dict[str, str]:
        """``data-state`` of every ``.chart``, keyed ``"<section id>/<data-chart>/<n>"``."""
        states = self.page.eval_on_selector_all(
            ".chart",
            """es => es.map((e, n) => [(e.closest('section') ? e.closest('section').id : '') + '/'
                 + (e.dataset.chart || '') + '/' + n, e.dataset.state || ''])""",
        )
        return dict(states)

    def canvas_texts(self) -> list[str]:
        """Every string painted with ``fillText`` on any canvas of the page so far."""
        return list(self.page.evaluate("() => window.__reportgen_canvas || []"))

    def canvas_texts_off_canvas(self) -> list[str]:
        """Every such string whose baseline runs (partly) off its canvas."""
        return list(self.page.evaluate("() => window.__reportgen_canvas_off || []"))

    def open_text(self, index: int, timeout_ms: int = 120_000, parts: tuple[str, ...] = ("attention", "scores")) -> None:
        """Open text ``index`` (0-based input order) as a deep link would, open its ``parts``
        (the ``<details>`` a reader opens: ``attention``, ``scores``), and wait until they are drawn."""
        self.page.evaluate(f"() => {{ window.location.hash = 'text-{index}'; }}")
        self.page.wait_for_function(
            f"() => {{ const s = document.getElementById('text-{index}'); return s && s.dataset.state === 'drawn'; }}",
            timeout=timeout_ms,
        )
        self.open_parts(f"#text-{index}", parts, timeout_ms)

    def open_parts(self, section: str, parts: tuple[str, ...] = ("attention", "scores"), timeout_ms: int = 120_000) -> None:
        """Open the ``parts`` of the text section at selector ``section``; wait until every chart
        in them is drawn, scrolling to each chart that waits until it is near the window (as a
        reader reading down the part would)."""
        if not parts:
            return
        self.page.eval_on_selector(
            section, "(s, parts) => parts.forEach(p => { const d = s.querySelector(`details.more[data-part=\"${p}\"]`); if (d) d.open = true; })",
            list(parts),
        )
        self.page.wait_for_function(
            """([sel, parts]) => {
                const s = document.querySelector(sel);
                if (!s || s.dataset.state !== 'drawn') return false;
                return parts.every(p => {
                    const d = s.querySelector(`details.more[data-part="${p}"]`);
                    if (!d) return true;
                    if (d.dataset.drawn !== '1') return false;
                    return ("""
            + SCROLL_TO_WAITING
            + """)(Array.from(d.querySelectorAll('.chart')));
                });
            }""",
            arg=[section, list(parts)],
            timeout=timeout_ms,
            polling=50,
        )

    def hover_heatmap(self, selector: str, cells: int = 4) -> list[str]:
        """Hover the first ``cells`` x ``cells`` cells of each heatmap canvas in ``selector``;
        the heatmap tooltip's text at each."""
        seen = []
        for canvas in self.page.query_selector_all(f"{selector} canvas.hm-canvas"):
            box = canvas.bounding_box()
            if box is None:
                continue
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            for a in range(cells):
                for b in range(cells):
                    # Cells lie right of and below the label gutter (at most 90 of >= 150 px).
                    x = box["x"] + box["width"] * (0.62 + 0.36 * b / cells)
                    y = box["y"] + box["height"] * (0.62 + 0.36 * a / cells)
                    self.page.mouse.move(x, y)
                    tip = self.page.query_selector(".hm-tip")
                    if tip is not None and tip.is_visible():
                        seen.append(str(tip.inner_text()))
        return seen

    def bar_panels(self, selector: str) -> list[dict[str, Any]]:
        """Each attention bar panel (canvas) in ``selector``: its measure and view, and what it
        drew (token positions, values with None for a removed [CLS]/[SEP], axis top, labels)."""
        return list(self.page.eval_on_selector_all(
            f"{selector} canvas.bar-canvas",
            "cs => cs.map(c => Object.assign({measure: c.dataset.measure, view: c.dataset.view}, c.drawn))",
        ))

    def hover_bars(self, selector: str, bars: int = 6) -> list[str]:
        """Hover the first ``bars`` token columns of each attention bar panel in ``selector``; the
        tooltip's text at each."""
        seen = []
        for canvas in self.page.query_selector_all(f"{selector} canvas.bar-canvas"):
            canvas.scroll_into_view_if_needed()
            box, drawn = canvas.bounding_box(), canvas.evaluate("c => c.drawn")
            if box is None or not drawn:
                continue
            for b in range(min(bars, len(drawn["pos"]))):
                x = box["x"] + drawn["left"] + (b + 0.5) * drawn["step"]
                self.page.mouse.move(x, box["y"] + drawn["plotTop"] + drawn["plotHeight"] / 2)
                tip = self.page.query_selector(".hm-tip")
                if tip is not None and tip.is_visible():
                    seen.append(str(tip.inner_text()))
        return seen

    def svg_texts(self, selector: str = ".chart") -> list[str]:
        """The text of every SVG ``<text>`` inside ``selector``: axis labels, titles, legends."""
        return list(
            self.page.eval_on_selector_all(f"{selector} svg text", "es => es.map(e => e.textContent)")
        )

    def hover_tooltips(self, selector: str, limit: int = 40) -> list[str]:
        """Hover the first ``limit`` marks of the chart at ``selector``; the tooltip text of each.

        Vega-embed's tooltip handler (vega-tooltip) writes into ``#vg-tooltip-element``.
        """
        marks = self.page.query_selector_all(f"{selector} svg g.mark-rect path, {selector} svg g.mark-rect rect")
        seen = []
        for mark in marks[:limit]:
            try:
                mark.hover(force=True, timeout=2000)
            except Exception:  # noqa: BLE001 - a mark scrolled out of reach: skip it
                continue
            tip = self.page.query_selector("#vg-tooltip-element")
            if tip is not None and tip.is_visible():
                seen.append(str(tip.inner_text()))
        return seen


@contextmanager
def visit(
    browser: Any,
    report: Path,
    *,
    wait_charts: bool = True,
    wait_texts: bool = False,
    timeout_ms: int = 120_000,
    viewport: dict[str, int] | None = None,
) -> Iterator[Visit]:
    """Open ``report`` (a file) in a fresh browser context and record what it does.

    With ``wait_charts`` it waits until the page marks ``body[data-charts=done]`` (the overview
    and the texts in view are drawn); with ``wait_texts`` only until ``body[data-texts=done]``
    (the sections of the overview's current page hold their texts).
    """
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, java_script_enabled=True)
    page = context.new_page()
    result = Visit(page=page)

    def on_dialog(dialog: Any) -> None:
        result.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_route(route: Any) -> None:
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            result.outside_requests.append(url)
            route.abort()

    def on_request(request: Any) -> None:
        url = request.url
        if url.startswith(LOCAL_SCHEMES):
            result.local_requests.append(url[:120])
        else:
            result.attempted_requests.append(url)

    def on_failed(request: Any) -> None:
        if request.failure == "csp":
            result.csp_blocked_requests.append(request.url)

    def on_console(message: Any) -> None:
        if message.type == "error":
            result.console_errors.append(message.text)

    context.route("**/*", on_route)
    page.on("dialog", on_dialog)
    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.on("pageerror", lambda err: result.page_errors.append(str(err)))
    page.on("console", on_console)
    page.add_init_script(_INIT_SCRIPT)
    try:
        page.goto(Path(report).resolve().as_uri(), wait_until="load", timeout=timeout_ms)
        if wait_charts:
            page.wait_for_function("() => document.body.dataset.charts === 'done'", timeout=timeout_ms)
        if wait_texts:
            page.wait_for_function("() => document.body.dataset.texts === 'done'", timeout=timeout_ms)
        yield result
    finally:
        context.close()
