"""The report file itself: it parses, carries the Vega bundle once, names no outside URL, escapes texts."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ONE_THREAD
from pagedata import payload as page_data
from reportgen.cli import app
from reportgen.render import vega_bundle

HOSTILE = '<b id="bold">bold?</b> & <script>window.__pwned=1</script> {{ 7*7 }} ${alert(1)}'
VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "embed", "source", "track", "wbr"}


class _Tree(HTMLParser):
    """Checks nesting and collects scripts and every attribute that could load something."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.urls: list[str] = []
        self._script: dict[str, str | None] | None = None
        self._script_text: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster", "data") and value and not value.startswith("#"):
                self.urls.append(value)
        if tag in VOID:
            return
        self.stack.append(tag)
        if tag == "script":
            self._script, self._script_text = dict(attrs), []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._script_text)))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_text.append(data)
        else:
            self.text.append(data)


@pytest.fixture(scope="module")
def report_html(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("html")
    source = folder / "texts.txt"
    source.write_text("本日はご来店いただき、誠にありがとうございます。\n" + HOSTILE + "\n今日は来てくれてありがとう。\n", encoding="utf-8")
    out = folder / "report.html"
    # A fixed date: the "no 49 standing alone" check below failed whenever the clock read :49.
    result = CliRunner().invoke(
        app, ["run", str(source), "--model", str(tiny_model), "--out", str(out), *ONE_THREAD], env={"SOURCE_DATE_EPOCH": "1609459200"}
    )
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def parse(html: str) -> _Tree:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree


def test_html_parses_with_balanced_elements(report_html: str) -> None:
    tree = parse(report_html)
    assert tree.errors == []
    assert tree.stack == []
    assert report_html.startswith("<!DOCTYPE html>")


def test_vega_bundle_inlined_exactly_once(report_html: str) -> None:
    bundle = vega_bundle()
    assert report_html.count(bundle) == 1
    assert report_html.count("window.vegaEmbed=") == 1
    tree = parse(report_html)
    inert = [(attrs, body) for attrs, body in tree.scripts if attrs.get("type") == "text/plain"]
    others = [(attrs, body) for attrs, body in tree.scripts if attrs.get("type") != "text/plain"]
    assert len(others) == 2, "data block, page logic: nothing per chart"
    # The Vega bundle is an inert element right after the page logic, which runs it when it first
    # draws a chart; it is the bundle, whole.
    assert inert[0][0].get("id") == "vega-bundle" and inert[0][1].strip() == bundle.strip()
    assert len(inert) == 1, "the bundle is the only inert script"
    # Besides them, three hidden elements per text (not scripts: the parser pauses after each
    # script) holding its compressed blocks (base64 only): each text's detail and view first,
    # then every text's attention, all inside the hidden #report-blocks.
    n = len(page_data(report_html)["blocks"])
    holder = re.search(r'<div id="report-blocks" hidden>\n(.*?)</div>\n</body>', report_html, flags=re.DOTALL)
    assert holder is not None
    blocks = re.findall(r'<div id="([a-z]+-\d+)">([^<]*)</div>\n', holder.group(1))
    assert "".join(f'<div id="{i}">{b}</div>\n' for i, b in blocks) == holder.group(1), "nothing else in the holder"
    assert [i for i, _ in blocks] == [f"{k}-{t}" for t in range(n) for k in ("detail", "view")] + [f"attention-{t}" for t in range(n)]
    assert all(re.fullmatch(r"[A-Za-z0-9+/=]*", body) for _, body in blocks)
    assert all("src" not in attrs for attrs, _ in tree.scripts)


def test_no_external_urls(report_html: str) -> None:
    tree = parse(report_html)
    assert tree.urls == []
    outside_bundle = report_html.replace(vega_bundle(), "")
    assert re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", outside_bundle, flags=re.IGNORECASE) == []
    assert "@import" not in outside_bundle and "url(" not in outside_bundle
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', report_html)
    assert csp is not None and "default-src 'none'" in csp.group(1) and "connect-src 'none'" in csp.group(1)


def test_texts_are_escaped_everywhere(report_html: str) -> None:
    tree = parse(report_html)
    assert "window.__pwned" not in "".join(body for _, body in tree.scripts[1:] if "vegaEmbed" not in body)
    assert '<b id="bold">' not in report_html
    # User text travels only as data (the page sets it as textContent), never as markup.
    payload = page_data(report_html)
    assert HOSTILE in json.loads(_inflate(payload["overview"]["texts"]))
    shown = "".join(run if isinstance(run, str) else run[0] for span in _detail(payload, 1)["spans"] for run in span[1:])
    assert shown == HOSTILE
    # Never evaluated as a template: no "49" standing alone (numbers in the page may hold the digits).
    assert not re.search(r"(?<![\w.])49(?![\w.])", "".join(tree.text))
    # In the JSON data block the text survives as data, with < and > escaped so it cannot end the script.
    data_attrs, data = tree.scripts[0]
    assert data_attrs.get("type") == "application/json"
    assert "</script" not in data.lower()
    payload = page_data(report_html)
    tokens = "".join(tok for t in range(len(payload["blocks"])) for tok in _detail(payload, t)["tokens"])
    assert "script" in tokens
    assert any("<script>" in text for text in json.loads(_inflate(payload["overview"]["texts"])))


def _inflate(block: str) -> bytes:
    import base64
    import zlib

    return zlib.decompress(base64.b64decode(block))


def _detail(payload: dict, t: int) -> dict:
    return json.loads(_inflate(payload["blocks"][t][0]))


def test_report_is_compact(report_html: str) -> None:
    # Per-text data is three deflate blocks (detail, 8-bit view and attention); chart specs appear once.
    tree = parse(report_html)
    data = tree.scripts[0][1]
    payload = json.loads(data)
    assert {"overview", "methods", "waterfall", "deletion", "agreement"} <= set(payload["specs"])
    # Every mark in the page belongs to a spec embedded once; per-text data carries none.
    assert data.count('"mark"') == json.dumps(payload["specs"]).count('"mark"')
    payload = page_data(report_html)
    layers, heads = payload["layers"], payload["heads"]
    for t, (detail, view, attention) in enumerate(payload["blocks"]):
        text = _detail(payload, t)
        assert "mark" not in json.dumps(text)
        assert len(_inflate(attention)) == layers * heads * text["n"] ** 2, "one byte per weight"
        assert len(_inflate(view)) == text["n"] ** 2, "the opening heatmap: one byte per weight"
