"""Chart specs: valid Vega-Lite that draws the page's data, with no URL and the theme's colours.

Each spec is compiled and rendered to SVG with vl-convert (the same Vega the page inlines),
filled with data the way ``report.js`` fills it, so a broken encoding or a label expression
that no longer reads the ``tokens`` parameter fails here.
"""

from __future__ import annotations

import json
import re

import pytest
import vl_convert

from reportgen import charts, theme

TOKENS = ["[CLS]", "お茶", "どうぞ", "[SEP]"]


def _filled(spec: dict, datasets: dict, tokens: list[str], title: str = "") -> dict:
    spec = json.loads(json.dumps(spec))
    spec["datasets"] = datasets
    for param in spec.get("params", []):
        if param["name"] == "tokens":
            param["value"] = tokens
        if param["name"] == charts.TITLE:
            param["value"] = title
    return spec


def _svg(spec: dict) -> str:
    return vl_convert.vegalite_to_svg(spec)


PER_TEXT = {
    "methods": charts.methods_spec,
    "waterfall": charts.waterfall_spec,
}


@pytest.mark.parametrize("kind", sorted(PER_TEXT))
def test_per_text_templates_read_tokens_and_carry_no_url(kind: str) -> None:
    spec = PER_TEXT[kind]()
    text = json.dumps(spec)
    assert "$schema" not in spec and "http" not in text
    assert sorted(p["name"] for p in spec["params"]) == sorted(["tokens", charts.TITLE])
    assert "datasets" not in spec  # data comes per text, never baked into the template


def test_no_chart_is_one_element_per_attention_cell() -> None:
    # The heatmap and the attention bars are painted on canvases by the page (issue 14): no
    # Vega template for them.
    assert not hasattr(charts, "heatmap_spec") and not hasattr(charts, "bars_spec")


def _scores(method: str, order: int, values: list[float], signed: bool) -> list[dict]:
    return [
        {"method": method, "order": order, "pos": j, "token": TOKENS[j], "value": v, "rel": v, "signed": signed}
        for j, v in enumerate(values)
    ]


def test_methods_chart_colours_signed_red_blue_and_never_negative_green() -> None:
    spec = charts.methods_spec()
    layers = spec["spec"]["layer"]
    scales = [layer["encoding"][c]["scale"] for layer in layers for c in ("color", "fill") if c in layer.get("encoding", {})]
    assert {"scheme": theme.DIVERGING_SCHEME, "domain": [-1, 1], "reverse": True} in scales
    assert {"scheme": theme.SEQUENTIAL_SCHEME, "domain": [0, 1]} in scales
    assert theme.SEQUENTIAL_SCHEME != theme.DIVERGING_SCHEME
    rows = _scores("IG", 0, [0.0, 0.5, -0.5, 0.0], True) + _scores("CLS", 1, [0.1, 0.6, 0.3, 0.2], False)
    svg = _svg(_filled(spec, {"scores": rows}, TOKENS, "Every method"))
    assert "どうぞ" in svg and "Every method" in svg
    # Each key (legend) is drawn once, above the rows, however many methods' rows there are.
    rows += _scores("GI", 2, [0.2, -0.1, 0.4, 0.0], True) + _scores("Rollout", 3, [0.3, 0.1, 0.2, 0.4], False)
    svg = _svg(_filled(spec, {"scores": rows}, TOKENS, "Every method"))
    drawn = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert drawn.count(charts.SIGNED_KEY) == 1 and drawn.count(charts.UNSIGNED_KEY) == 1, drawn


def test_never_negative_rows_spend_no_axis_on_negative_values() -> None:
    """The never-negative method's row runs from 0; the signed one's from -1 (axis labels)."""

    spec = charts.methods_spec()
    only_unsigned = _svg(_filled(spec, {"scores": _scores("CLS", 0, [0.1, 0.6, 0.3, 0.2], False)}, TOKENS))
    only_signed = _svg(_filled(spec, {"scores": _scores("IG", 0, [0.1, 0.6, -0.3, 0.2], True)}, TOKENS))

    def labels(svg: str) -> set[str]:
        return set(re.findall(r">(-?[01]\.[0-9])</text>", svg)) | set(re.findall(r">(−[01]\.[0-9])</text>", svg))

    assert not any(x.startswith(("-", "−")) for x in labels(only_unsigned)), labels(only_unsigned)
    assert any(x.startswith(("-", "−")) for x in labels(only_signed)), labels(only_signed)


def test_every_chart_draws_the_title_the_page_gives_it() -> None:
    """The title is inside the chart (a screenshot of it alone names its view): each template
    reads it from the ``chartTitle`` parameter."""
    for make in (charts.methods_spec, charts.waterfall_spec, charts.deletion_spec, charts.corpus_spec):
        spec = make()
        assert spec["title"]["text"] == {"expr": charts.TITLE}, make.__name__
    spec = charts.methods_spec()
    rows = _scores("saliency", 0, [0.4, 0.1, 0.2], signed=False)
    svg = _svg(_filled(spec, {"scores": rows}, TOKENS, "layer 3 of 4, head 2 of 4"))
    assert "layer 3 of 4, head 2 of 4" in svg


def test_waterfall_colours_come_from_the_theme() -> None:
    spec = charts.waterfall_spec()
    text = json.dumps(spec)
    for colour in (theme.POSITIVE_COLOUR, theme.NEGATIVE_COLOUR, theme.TOTAL_COLOUR):
        assert colour in text
    assert theme.POSITIVE_COLOUR == "#d6604d" and theme.NEGATIVE_COLOUR == "#4393c3"
    steps = [
        {"step": 0, "label": "f(baseline)", "start": 0.7, "end": 0.7, "value": 0.7, "kind": "total"},
        {"step": 1, "label": "お茶", "start": 0.7, "end": 0.5, "value": -0.2, "kind": "down"},
        {"step": 2, "label": "f(x)", "start": 0.5, "end": 0.5, "value": 0.5, "kind": "total"},
    ]
    svg = _svg(_filled(spec, {"steps": steps}, ["f(baseline)", "お茶", "f(x)"]))
    assert "f(baseline)" in svg and "お茶" in svg
    assert theme.NEGATIVE_COLOUR in svg  # the "down" step is drawn blue


ROWS = [{"id": "#0", "text": 0, "prediction": 0.2, "gold": 0.25}, {"id": "#1", "text": 1, "prediction": 0.8, "gold": None}]


def test_predictions_chart_has_a_gold_layer_only_when_golds_exist() -> None:
    with_gold = charts.predictions_spec("prediction", with_gold=True)
    without = charts.predictions_spec("prediction", with_gold=False)
    assert len(with_gold["layer"]) == 2 and len(without["layer"]) == 1
    assert with_gold["layer"][1]["mark"]["color"] == theme.GOLD_COLOUR
    assert "datasets" not in with_gold and "values" not in json.dumps(with_gold)  # rows come from the page
    assert "#1" in _svg(_filled(with_gold, {"predictions": ROWS}, []))


def test_distribution_chart_bins_any_number_of_texts() -> None:
    spec = charts.distribution_spec("prediction", with_gold=True)
    rows = [{"id": f"#{i}", "text": i, "prediction": (i % 97) / 97, "gold": None if i % 3 else 0.5} for i in range(5000)]
    svg = _svg(_filled(spec, {"predictions": rows}, []))
    assert svg.count("<path") < 200, "one bar per bin, not per text"
    assert theme.GOLD_COLOUR in svg and "texts" in svg
    compiled = vl_convert.vegalite_to_vega(_filled(spec, {"predictions": rows[:3]}, []))
    assert any(d.get("name") == "predictions" for d in compiled["data"])


def test_deletion_and_agreement_specs_draw() -> None:
    curves = [{"method": "IG", "order": 0, "reference": False, "pct": p, "f": f} for p, f in [(0, 0.5), (50, 0.2)]]
    band = [{"pct": 0, "lo": 0.5, "hi": 0.5}, {"pct": 50, "lo": 0.3, "hi": 0.45}]
    assert "tokens removed" in _svg(_filled(charts.deletion_spec(), {"curves": curves, "band": band}, []))
    cells = [{"a": a, "b": b, "rho": 1.0 if a == b else -0.5, "texts": 2} for a in "xy" for b in "xy"]
    svg = _svg(_filled(charts.agreement_spec(["x", "y"]), {"agreement": cells}, []))
    assert "-0.50" in svg or "−0.50" in svg


def test_agreement_digits_are_white_only_on_the_dark_ends_of_the_scale() -> None:
    # Black digits on the darkest reds and blues could not be read; white ones on the light
    # middle neither. Each cell's digits take the colour that contrasts more.
    values = {("x", "x"): 1.0, ("x", "y"): 0.55, ("y", "x"): -0.9, ("y", "y"): 0.0}
    cells = [{"a": a, "b": b, "rho": rho, "texts": 2} for (a, b), rho in values.items()]
    svg = _svg(_filled(charts.agreement_spec(["x", "y"]), {"agreement": cells}, []))
    fills = {text.replace("\u2212", "-"): fill for fill, text in re.findall(r'<text[^>]*fill="([^"]+)"[^>]*>([^<]*)</text>', svg)}
    assert fills["1.00"] == fills["-0.90"] == "#ffffff"
    assert fills["0.55"] == fills["0.00"] == theme.INK_COLOUR
