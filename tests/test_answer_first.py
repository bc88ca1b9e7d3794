"""Issue 10 in a real headless Chromium, on the demo report: each text answers first (its
prediction with what is predicted, the text shaded by a signed method with its colour key
beside it, what moved the score, the walk to f(x), its verdict), every chart names what it
shows inside itself (and follows the layer/head picker), and the report prints on about one A4
page per text.

One visit of the demo report is shared by the tests that read it; the print test opens its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from browser import Visit, visit
from pagedata import detail, payload

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TEXT = 1  # a demo text whose default (signed) method both raises and lowers the score (checked below)


@pytest.fixture(scope="module")
def demo_page(demo_report: Path, browser: object) -> Iterator[Visit]:
    with visit(browser, demo_report, wait_texts=True) as page:
        page.open_text(TEXT)
        yield page


def _both_signs(values: list[float | None]) -> bool:
    return any(v is not None and v > 0.02 for v in values) and any(v is not None and v < -0.02 for v in values)


def test_the_default_highlight_is_signed_and_shows_both_signs(demo_report: Path, demo_page: Visit) -> None:
    data = payload(demo_report.read_text(encoding="utf-8"))
    names = [m for m, _ in data["methodTitles"]]
    method = data["highlight"]
    assert data["methodSigned"][names.index(method)] == 1, "the demo's default highlight is a signed method"
    text = detail(data, TEXT)
    unit = demo_page.page.locator(f"#text-{TEXT} .pick-unit").input_value() if text["words"] else "pieces"
    rel = (text["words"]["methods"] if unit == "words" else text["methods"])[method]["rel"]
    assert _both_signs(rel), "this text must have scores of both signs for the test to mean anything"
    colours = demo_page.page.eval_on_selector_all(
        f"#text-{TEXT} .highlight [data-pos], #text-{TEXT} .highlight [data-word]", "es => es.map(e => getComputedStyle(e).backgroundColor)"
    )
    hues = set()
    for css in colours:
        parts = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)", css)
        assert parts is not None, css
        r, g, b, a = parts.groups()
        if a is not None and float(a) < 0.02:
            continue
        hues.add((int(r), int(g), int(b)))
    shade = data["shade"]
    assert tuple(shade["positive"]) in hues and tuple(shade["negative"]) in hues, hues


def test_the_answer_comes_first_with_its_colour_key_beside_the_text(demo_report: Path, demo_page: Visit) -> None:
    page = demo_page.page
    section = f"#text-{TEXT}"
    heading = demo_page.visible_text(f"{section} h2")
    assert re.search(r"#1 · politeness -?\d\.\d{4} on 0–1", heading), heading
    # Order: heading, shaded text (with its key beside it), movers with values, the walk to f(x),
    # the verdict against random, then the parts the reader opens.
    order = page.eval_on_selector(section, """s => ['h2', 'p.highlight', '.key', '.movers:not([hidden])', '.walk', '.text-verdict',
        'details.more[data-part=attention]', 'details.more[data-part=scores]'].map(q => {
            const e = s.querySelector(q); return e ? e.getBoundingClientRect().top : null; })""")
    assert None not in order, order
    assert order[0] < order[1] and order[1] <= order[3] and order[3] < order[4] < order[5] < order[6] < order[7], order
    beside = page.eval_on_selector(section, """s => { const t = s.querySelector('p.highlight').getBoundingClientRect(),
        k = s.querySelector('.key').getBoundingClientRect(); return [t.right <= k.left, k.top < t.bottom]; }""")
    assert beside == [True, True], "the key sits beside the shaded text"
    key = demo_page.visible_text(f"{section} .key")
    data = payload(demo_report.read_text(encoding="utf-8"))
    title = dict(data["methodTitles"])[data["highlight"]]
    assert title in key and "pushes it up" in key and "pulls the score down" in key, key
    movers = demo_page.visible_text(f"{section} .movers:not([hidden])")
    assert re.search(r"[+-]\d", movers), "the movers carry their values"
    walk = demo_page.visible_text(f"{section} .walk")
    assert "f(baseline)" in walk and "f(x)" in walk and "Integrated Gradients" in walk
    verdict = demo_page.visible_text(f"{section} .text-verdict")
    assert title in verdict and "random" in verdict
    # A never-negative method: the key says so, and the shading is green, never red or blue.
    page.select_option(f"{section} .pick-method", "cls_attention")
    key = demo_page.visible_text(f"{section} .key")
    assert "never negative" in key and "[CLS] attention" in key
    colours = page.eval_on_selector_all(f"{section} .highlight [data-pos]", "es => es.map(e => getComputedStyle(e).backgroundColor)")
    seq = ", ".join(str(c) for c in data["shade"]["sequential"])
    assert any(seq in c for c in colours) and not any(", ".join(map(str, data["shade"]["negative"])) in c for c in colours)
    page.select_option(f"{section} .pick-method", data["highlight"])
    assert demo_page.page_errors == [] and demo_page.console_errors == [] and demo_page.csp_violations == []


def _titles(page: Visit, section: str) -> dict[str, str]:
    """Each chart's title as drawn inside it: the Vega title text, or the canvas charts' titles
    (the heatmap's panels, the bar charts)."""
    return dict(page.page.eval_on_selector_all(
        f"{section} .chart",
        """es => es.map(e => [e.dataset.chart, e.dataset.chart === 'heatmap' || e.dataset.chart === 'bars'
              ? Array.from(e.querySelectorAll('.hm-title')).map(t => t.textContent).join(' | ')
              : Array.from(e.querySelectorAll('svg .role-title-text text, svg .role-title text')).map(t => t.textContent).join(' ')])""",
    ))


def test_every_chart_names_its_view_and_follows_the_pickers(demo_page: Visit) -> None:
    section = f"#text-{TEXT}"
    titles = _titles(demo_page, section)
    assert set(titles) == {"heatmap", "bars", "methods", "waterfall", "deletion", "agreement"}
    last = "layer 4 (last) of 4, mean of 4 heads"
    assert last in titles["bars"] and "[CLS] attention" in titles["bars"], titles["bars"]
    assert titles["heatmap"].count(last) == 2 and "raw" in titles["heatmap"] and "renormalised" in titles["heatmap"]
    assert "Every method's scores" in titles["methods"]
    assert "Integrated Gradients" in titles["waterfall"] and "f(x)" in titles["waterfall"]
    assert "Deletion curves" in titles["deletion"] and "Agreement" in titles["agreement"]
    ARTIFACTS.mkdir(exist_ok=True)
    demo_page.page.locator(f"{section} [data-chart=bars]").screenshot(path=str(ARTIFACTS / "bars-titled.png"))
    demo_page.page.select_option(f"{section} .pick-layer", index=1)  # value 1: layer 2
    demo_page.page.select_option(f"{section} .pick-head", index=3)  # after "mean": value 2, head 3
    picked = "layer 2 of 4, head 3 of 4"
    demo_page.page.wait_for_function(
        "([s, p]) => { const e = document.querySelector(s + ' [data-chart=bars]'); return e.dataset.state === 'done' && e.dataset.title.includes(p); }",
        arg=[section, picked],
    )
    titles = _titles(demo_page, section)
    assert picked in titles["bars"] and last not in titles["bars"], titles["bars"]
    assert titles["heatmap"].count(picked) == 2, titles["heatmap"]
    assert demo_page.page_errors == [] and demo_page.console_errors == []


def _pages(pdf: bytes) -> int:
    """Pages of a PDF: its ``/Type /Page`` objects (not ``/Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def test_the_demo_prints_on_at_most_1_2_a4_pages_per_text(demo_report: Path, browser: object) -> None:
    with visit(browser, demo_report, wait_texts=True) as page:
        texts = page.page.eval_on_selector_all("section.text", "ss => ss.length")
        page.page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
        page.page.emulate_media(media="print")
        # What print shows per text: the answer part (drawn with the text), not the closed parts.
        shown = page.page.eval_on_selector_all("section.text", """ss => ss.map(s => [
            getComputedStyle(s.querySelector('.walk')).display !== 'none' && s.querySelector('.walk-row') !== null,
            getComputedStyle(s.querySelector('.key')).display !== 'none',
            Array.from(s.querySelectorAll('details.more')).every(d => getComputedStyle(d).display === 'none')])""")
        assert shown and all(all(row) for row in shown), shown
        # The overview comes first.
        first = page.page.evaluate("() => document.querySelector('main > section').id")
        assert first == "overview"
        pdf = page.page.pdf(format="A4", print_background=True)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "demo-print.pdf").write_bytes(pdf)
        pages = _pages(pdf)
        assert texts == 25 and 0 < pages <= 1.2 * texts, f"{pages} A4 pages for {texts} texts"


def test_movers_list_no_bare_marker_or_punctuation(demo_report: Path) -> None:
    """The movers name what the reader can act on: "。" or a lone "␣" is never listed."""
    from reportgen.report import uninformative

    data = payload(demo_report.read_text(encoding="utf-8"))
    listed = [
        label
        for t in range(len(data["blocks"]))
        for group in (detail(data, t) or {"movers": []})["movers"]
        for label, _ in group["up"] + group["down"]
    ]
    assert listed, "the demo lists movers"
    assert [label for label in listed if uninformative(label, label)] == []
