"""The demo report in a real headless Chromium, opened from disk with every outside request blocked."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from browser import chromium, visit
from reportgen.cli import app

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def demo_report(sample_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "report.html"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_every_chart_renders_offline_without_errors(demo_report: Path) -> None:
    with chromium() as browser, visit(browser, demo_report, timeout_ms=180_000) as page:
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


def test_pickers_redraw_heatmap_and_recolour_text(demo_report: Path) -> None:
    with chromium() as browser, visit(browser, demo_report, timeout_ms=180_000) as page:
        section = page.page.locator("#text-1")
        heatmap = section.locator('[data-chart="heatmap"]')
        before = heatmap.inner_html()
        section.locator(".pick-layer").select_option("0")
        section.locator(".pick-head").select_option("1")
        page.page.wait_for_function(
            "() => document.querySelector('#text-1 [data-chart=\"heatmap\"]').dataset.state === 'done'"
        )
        assert heatmap.locator("svg").count() == 1
        assert heatmap.inner_html() != before, "another layer and head must draw other weights"

        first = section.locator(".highlight .tok").first
        colour = first.evaluate("e => e.style.backgroundColor")
        options = section.locator(".pick-method option").evaluate_all("os => os.map(o => o.value)")
        assert "integrated_gradients" in options and "cls_attention" in options
        current = section.locator(".pick-method").input_value()
        other = "integrated_gradients" if current != "integrated_gradients" else "cls_attention"
        section.locator(".pick-method").select_option(other)
        colours = section.locator(".highlight .tok").evaluate_all("es => es.map(e => e.style.backgroundColor)")
        assert colours[0] != colour or len(set(colours)) > 1
        assert page.page_errors == []
