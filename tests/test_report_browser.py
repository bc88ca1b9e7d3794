"""The demo report in a real headless Chromium, opened from disk with every outside request blocked.

The report is the one ``reportgen demo`` wrote from the installed wheel (the ``demo_report``
fixture in conftest.py). Both tests read one opened page: the page draws every chart before it
answers any query, so a second visit would only draw them all again. The picker test puts every
picker back as it found it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from browser import Visit, chromium, visit

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def demo_page(demo_report: Path) -> Iterator[Visit]:
    with chromium() as browser, visit(browser, demo_report, timeout_ms=180_000) as page:
        yield page


def test_every_chart_renders_offline_without_errors(demo_page: Visit) -> None:
    page = demo_page
    states = page.chart_states()
    assert states and all(state == "done" for state in states.values()), states
    kinds = {key.split("/")[1] for key in states}
    assert {"predictions", "heatmap", "bars", "methods", "waterfall", "deletion", "agreement"} <= kinds
    drawn = page.page.eval_on_selector_all(".chart", "es => es.filter(e => e.querySelector('svg, canvas')).length")
    assert drawn == len(states), "every chart container holds an SVG or canvas"
    assert page.page_errors == [] and page.console_errors == []
    assert page.outside_requests == []
    assert page.csp_violations == []
    assert page.dialogs == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "report-top.png"))
    page.page.locator("#text-0").screenshot(path=str(ARTIFACTS / "report-text-0.png"))


def _rgba(css: str) -> tuple[int, int, int, float]:
    """A computed CSS colour, ``rgb(r, g, b)`` or ``rgba(r, g, b, a)``, as numbers."""
    parts = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)", css)
    assert parts is not None, css
    r, g, b, a = parts.groups()
    return int(r), int(g), int(b), float(a) if a is not None else 1.0


Colour = tuple[int, int, int, float]


def _shade(payload: dict[str, Any], rel: float | None) -> Colour:
    """A score's colour: the sign picks the hue, the size the opacity (no score: transparent)."""
    shade = payload["shade"]
    value = 0.0 if rel is None else rel
    r, g, b = shade["positive"] if value >= 0 else shade["negative"]
    return r, g, b, round(min(1.0, abs(value)) * shade["maxAlpha"], 3)


def _same_colours(seen: list[Colour], expected: list[Colour | None]) -> bool:
    """Token by token: same hue and opacity (to within the browser's 8-bit alpha); ``None``
    expects no colour at all (a span that stands for no token or word)."""
    if len(seen) != len(expected):
        return False
    return all(
        s[3] == 0.0 if e is None else s[:3] == e[:3] and abs(s[3] - e[3]) <= 0.005 for s, e in zip(seen, expected)
    )


def test_pickers_redraw_heatmap_and_recolour_text(demo_page: Visit) -> None:
    page = demo_page
    section = page.page.locator("#text-1")
    heatmap = section.locator('[data-chart="heatmap"]')

    # Another layer and head: the heatmap is drawn again, with other weights.
    layer, head = section.locator(".pick-layer").input_value(), section.locator(".pick-head").input_value()
    assert (layer, head) != ("0", "1")
    before = heatmap.inner_html()
    section.locator(".pick-layer").select_option("0")
    section.locator(".pick-head").select_option("1")
    page.page.wait_for_function(
        "() => document.querySelector('#text-1 [data-chart=\"heatmap\"]').dataset.state === 'done'"
    )
    assert heatmap.locator("svg").count() == 1
    assert heatmap.inner_html() != before, "another layer and head must draw other weights"

    # Another method: every token (or word, when the text shows words) takes that method's
    # colour, from the scores in the page's data.
    payload = json.loads(page.page.eval_on_selector("#report-data", "e => e.textContent"))
    text = payload["texts"][1]
    units = section.locator(".pick-unit")
    unit = units.input_value() if units.count() else text.get("unit", "pieces")
    words = text.get("words") if unit == "words" else None
    spans = section.locator(".highlight [data-pos], .highlight [data-word]")
    keys = spans.evaluate_all("es => es.map(e => [e.dataset.pos === undefined ? null : Number(e.dataset.pos),"
                              " e.dataset.word === undefined ? null : Number(e.dataset.word)])")
    assert keys, "the text's highlight has no token spans"

    def colours() -> list[Colour]:
        return [_rgba(c) for c in spans.evaluate_all("es => es.map(e => getComputedStyle(e).backgroundColor)")]

    def expected(method: str) -> list[Colour | None]:
        rel = (words["methods"] if words else text["methods"])[method]["rel"]
        return [None if key is None else _shade(payload, rel[key]) for key in (w if words else p for p, w in keys)]

    options = section.locator(".pick-method option").evaluate_all("os => os.map(o => o.value)")
    assert "integrated_gradients" in options and "cls_attention" in options
    current = section.locator(".pick-method").input_value()
    other = "integrated_gradients" if current != "integrated_gradients" else "cls_attention"
    assert expected(other) != expected(current), "the two methods must shade this text differently"
    first = colours()
    assert _same_colours(first, expected(current)), "the page opens with the chosen method's colours"
    section.locator(".pick-method").select_option(other)
    assert _same_colours(colours(), expected(other)), "the text is recoloured by the method picked"

    # Back to what the page opened with: the server's colours again, and the first heatmap.
    section.locator(".pick-method").select_option(current)
    assert _same_colours(colours(), list(first))
    section.locator(".pick-layer").select_option(layer)
    section.locator(".pick-head").select_option(head)
    page.page.wait_for_function(
        "() => document.querySelector('#text-1 [data-chart=\"heatmap\"]').dataset.state === 'done'"
    )
    assert page.page_errors == []
