"""Hostile texts are shown literally and never executed (issue 6).

A corpus of hostile texts goes through the CLI into a report; headless Chromium opens it
with a dialog handler, a ``window`` sentinel and every non-``file:`` request recorded and
aborted, and checks that nothing ran, nothing was fetched, and each text appears literally in
what the reader sees (invisible and control characters as visible stand-ins). Property tests
(hypothesis) check the same trip for any Unicode string.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import pagedata
from browser import REVEAL, UNREVEAL, SENTINEL, Visit, visit
from conftest import ONE_THREAD
from reportgen.cli import app

S = SENTINEL
LONG = "あいうえお、かきくけこ。" * 400 + f"<img src=x onerror=\"window.{S}='long';alert('long')\">"
assert len(LONG) > 4_800

# (text, what the reader must see, how many characters are shown as stand-ins)
TXT_CORPUS: list[tuple[str, str, int]] = [
    (f"</script><script>window.{S}='script';alert('script')</script>", "", 0),
    (f"<img src=x onerror=\"window.{S}='img';alert('img')\">", "", 0),
    (f'<a href="javascript:window.{S}=\'link\'">javascript: link</a> javascript:alert(1)', "", 0),
    (f'<svg><script>window.{S}="svg"</script></svg><svg onload="alert(\'svg\')"></svg>', "", 0),
    ('<iframe src="http://127.0.0.1:9/frame"></iframe><link rel=stylesheet href="http://127.0.0.1:9/x.css">', "", 0),
    ('<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/"><base href="http://127.0.0.1:9/">', "", 0),
    ("<style>body{display:none}</style><b>bold</b><!-- comment --><![CDATA[x]]>", "", 0),
    ("{{ 7*7 }} {% raw %}{{ x }}{% endraw %} {% include 'base.html.j2' %} {# hidden #} {{ report }}", "", 0),
    (f"${{window.{S}='template'}} `${{alert('tpl')}}` ${{7*7}}", "", 0),
    ("&lt;b&gt; &amp;amp; &#60;script&#62; &#x3C; &nbsp; &copy; &", "", 0),
    (
        "bidi \u202eevil.exe\u202c and \u2066isolate\u2069 \u200fRLM \u200eLRM \u061cALM",
        "bidi \\u202eevil.exe\\u202c and \\u2066isolate\\u2069 \\u200fRLM \\u200eLRM \\u061cALM",
        7,
    ),
    (
        "zero\u200bwidth\u200cnon\u2060joiner\ufeffbom\u00adshy",
        "zero\\u200bwidth\\u200cnon\\u2060joiner\\ufeffbom\\u00adshy",
        5,
    ),
    (
        "nul\x00 bell\x07 esc\x1b[31mred del\x7f c1\x85\x9b vt\x0bff\x0c",
        "nul\u2400 bell\u2407 esc\u241b[31mred del\u2421 c1\\u0085\\u009b vt\u240bff\u240c",
        8,
    ),
    ("emoji \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 \U0001F3F3\ufe0f\u200d\U0001F308 "
     "\U0001F44D\U0001F3FD \U0001F1EF\U0001F1F5 \U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F "
     "\u2764\ufe0f\u200d\U0001F525", "", 0),
    ("line\u2028separator\u2029paragraph", "line\\u2028separator\\u2029paragraph", 2),
    ("tab\there 日本語のテキスト\u3000全角スペース  two spaces", "", 0),
    ("\"double\" 'single' \\backslash \\u202e spelled out </SCRIPT > </script\t>", "", 0),
    (LONG, "", 0),
]
# JSONL texts may hold line breaks; a CR would be rewritten to LF by the HTML parser, so it
# must be shown as a stand-in.
JSONL_CORPUS: list[tuple[str, str, int]] = [
    ("first line\nsecond line\r\nthird\rfourth", "first line\nsecond line\u240d\nthird\u240dfourth", 2),
    ('{"json": "inside"} \\" \\u0041 </script><script>alert("jsonl")</script>', "", 0),
]
CORPUS = [(t, shown or t, n) for t, shown, n in TXT_CORPUS + JSONL_CORPUS]
LONG_ID = [t for t, _, _ in CORPUS].index(LONG)
TITLE = f"<script>window.{S}='title'</script> \u202eTitle {{{{ 7*7 }}}}"
TITLE_SHOWN = f"<script>window.{S}='title'</script> \\u202eTitle {{{{ 7*7 }}}}"



def write_inputs(folder: Path) -> list[str]:
    """A .txt with a BOM and CRLF line endings, and a .jsonl."""
    txt = folder / "hostile.txt"
    txt.write_bytes(("\ufeff" + "\r\n".join(t for t, _, _ in TXT_CORPUS) + "\r\n").encode("utf-8"))
    jsonl = folder / "hostile.jsonl"
    jsonl.write_text("\n".join(json.dumps({"text": t}) for t, _, _ in JSONL_CORPUS) + "\n", encoding="utf-8")
    return [str(txt), str(jsonl)]


@pytest.fixture(scope="module")
def hostile_report(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    out, table = folder / "report.html", folder / "tokens.csv"
    result = CliRunner().invoke(
        app,
        ["run", *write_inputs(folder), "--model", str(tiny_model), "--out", str(out), "--csv", str(table), "--title", TITLE,
         *ONE_THREAD],
    )
    assert result.exit_code == 0, result.output
    return out, table


@pytest.fixture(scope="module")
def hostile_page(hostile_report: tuple[Path, Path], browser: object) -> Iterator[Visit]:
    """The hostile report opened once: the tests below share one load (and one Vega bundle
    evaluation); the first opens every text as a deep link does, the next reads what is drawn."""
    with visit(browser, hostile_report[0]) as page:
        yield page


def test_inputs_read_back_exactly(hostile_report: tuple[Path, Path]) -> None:
    # The CSV export holds every text as it was written (BOM and CRLF of the file removed).
    import csv

    _, table = hostile_report
    with table.open(encoding="utf-8", newline="") as handle:
        texts = {int(r["text_id"]): r["text"] for r in csv.DictReader(handle)}
    assert texts == {i: t for i, (t, _, _) in enumerate(CORPUS)}


def test_report_static_html_keeps_texts_inert(hostile_report: tuple[Path, Path]) -> None:
    html = hostile_report[0].read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>.*?</script>", html, flags=re.DOTALL | re.IGNORECASE)
    assert len(scripts) == 3, "only the page's data, the page logic and the Vega bundle (inert; the page runs it)"
    # ... and three hidden elements per text with its compressed blocks: base64, no user text.
    blocks = re.findall(r'<div id="(?:detail|view|attention)-\d+">[^<]*</div>', html)
    assert len(blocks) == 3 * len(CORPUS)
    assert all(re.fullmatch(r'<div id="(detail|view|attention)-\d+">[A-Za-z0-9+/=]*</div>', b) for b in blocks)
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.DOTALL | re.IGNORECASE)
    for tag in ("<script", "<img", "<iframe", "<svg", 'href="javascript', "<meta http-equiv=\"refresh", "<base", "<link", "<b>"):
        assert tag not in markup.lower(), tag
    assert markup.lower().count("<style") == 1, "only the page's own style element"
    # The page's data is strict JSON (JSON.parse refuses NaN and Infinity) and holds every token.
    data = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, flags=re.DOTALL).group(1)

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the page data")

    payload = json.loads(data, parse_constant=refuse)
    assert len(pagedata.blocks(html)) == len(payload["overview"]["id"]) == len(CORPUS)
    # The parser would rewrite or hide these; they only ever appear as stand-ins.
    assert "\x00" not in html and "\r" not in html and "\u202e" not in html and "\u2028" not in html


def test_hostile_texts_shown_literally_and_never_run(hostile_page: Visit) -> None:
    page = hostile_page
    assert page.dialogs == []
    assert page.sentinel() is None
    assert page.outside_requests == [] and page.attempted_requests == []
    assert page.csp_violations == []
    assert page.page_errors == []
    states = page.chart_states()
    assert states and set(states.values()) <= {"done", ""}, states  # drawn, or not yet in view

    assert page.visible_text("h1") == TITLE_SHOWN
    assert page.page.title() == TITLE_SHOWN
    snippets = page.visible_texts("table.texts td.snippet")
    assert len(snippets) == len(CORPUS)
    # Per text: what the reader sees in its highlight and how many stand-ins it holds (one query).
    highlights = page.page.evaluate(
        """n => { """ + REVEAL + """ const got = Array.from({length: n}, (_, i) => {
             const p = document.querySelector('#text-' + i + ' p.highlight');
             if (!p) return null;
             const more = p.querySelector('.show-dropped'), all = p.innerText;
             const text = more ? all.slice(0, all.length - more.innerText.length) : all;
             return [text, document.querySelectorAll('#text-' + i + ' p.highlight .ctl').length, !!more];
           }); """ + UNREVEAL + """ return got; }""",
        len(CORPUS),
    )
    for i, (text, shown, stand_ins) in enumerate(CORPUS):
        assert highlights[i] is not None, f"text {i}: no highlight"
        if highlights[i][2]:  # a truncated text's unseen end, in full once asked (test_long_line_truncated_and_marked)
            assert shown.startswith(highlights[i][0]) and len(highlights[i][0]) > 200, f"text {i}"
        else:
            assert highlights[i][0] == shown, f"text {i}: {text[:60]!r}"
        assert highlights[i][1] == stand_ins, f"text {i}"
        # The overview shows the start of each text (80 characters, then an ellipsis).
        start, whole = " ".join(snippets[i].removesuffix("…").split()), " ".join(shown.split())
        assert whole.startswith(start) and len(start) >= min(60, len(whole)), f"text {i}"
    assert page.page.query_selector("table.texts b, table.texts img, table.texts script, table.texts svg") is None

    # Drawing on demand opens no new path for markup: draw every text, as a deep link does.
    for i in range(len(CORPUS)):
        page.open_text(i)
    assert page.dialogs == [] and page.sentinel() is None
    assert page.outside_requests == [] and page.attempted_requests == [] and page.csp_violations == []
    assert page.page_errors == [] and page.console_errors == []
    assert set(page.chart_states().values()) <= {"done", "released", ""}


def test_long_line_truncated_and_marked(hostile_page: Visit) -> None:
    page = hostile_page
    section = f"#text-{LONG_ID}"
    assert "truncated from" in page.visible_text(f"{section} p.source .flag")
    # The unseen end shows its first 200 characters, then a button that shows all of it.
    start = page.visible_text(f"{section} p.highlight .dropped")
    more = page.page.locator(f"{section} p.highlight .show-dropped")
    assert len(start) == 200 and more.count() == 1
    label = more.text_content()
    more.click()
    dropped = page.visible_text(f"{section} p.highlight .dropped")
    assert len(dropped) > 4_000 and LONG.endswith(dropped) and dropped.startswith(start)
    assert f"the other {len(dropped) - 200:,} characters" in label
    assert page.page.locator(f"{section} p.highlight .show-dropped").count() == 0
    style = page.page.eval_on_selector(f"{section} .dropped", "e => getComputedStyle(e).textDecorationLine")
    assert style == "line-through"
    row = page.page.query_selector_all("table.texts tbody tr")[LONG_ID]
    assert "cut" in row.inner_text()


def test_hostile_tokens_in_chart_labels_and_tooltips(
    tiny_model: Path, tmp_path: Path, browser: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token whose label is a whole payload: axis labels and tooltips show it, never run it.

    The tiny tokenizer cuts markup into one-character pieces, so the pipeline's tokenisation is
    wrapped to give each payload text a single token covering all of it (as a tokenizer with
    long pieces would); everything after that is the real pipeline and page.
    """
    import reportgen.engine as engine

    payloads = [
        f"<img src=x onerror=\"window.{S}='tip';alert('tip')\">",
        f"<b onmouseover=\"window.{S}='hover'\">{{{{7*7}}}}</b>",
        "\u202e<i>rtl</i>\x00",
    ]
    real = engine.encode_texts  # each chunk's tokenisation (reportgen.engine.compute_chunk)

    def one_token_each(loaded, texts, max_length, *args, **kwargs):  # noqa: ANN001, ANN202
        encoded = real(loaded, texts, max_length, *args, **kwargs)
        tok = loaded.tokenizer
        out = []
        for item, enc in zip(texts, encoded):
            out.append(
                dataclasses.replace(
                    enc,
                    input_ids=(tok.cls_token_id, tok.unk_token_id, tok.sep_token_id),
                    tokens=(tok.cls_token, "\u2581" + item.text, tok.sep_token),
                    offsets=((0, 0), (0, len(item.text)), (0, 0)),
                    special=(True, False, True),
                    truncated=False,
                    full_length=3,
                )
            )
        return out

    monkeypatch.setattr(engine, "encode_texts", one_token_each)
    source = tmp_path / "payloads.jsonl"
    source.write_text("\n".join(json.dumps({"text": p}) for p in payloads), encoding="utf-8")
    out = tmp_path / "tokens.html"
    result = CliRunner().invoke(app, ["run", str(source), "--model", str(tiny_model), "--out", str(out), *ONE_THREAD])
    assert result.exit_code == 0, result.output

    shown = [p.replace("\u202e", "\\u202e").replace("\x00", "\u2400") for p in payloads]
    with visit(browser, out) as page:
        for i, label in enumerate(shown):
            page.open_text(i)
            heatmap = f'#text-{i} [data-chart="heatmap"]'
            # Heatmap labels are painted on a canvas, cut to 12 characters with an ellipsis.
            painted = page.canvas_texts()
            assert any(t.startswith(label[:4]) and label.startswith(t.rstrip("…")) for t in painted), (i, painted[-20:])
            tips = page.hover_heatmap(heatmap, cells=3)
            assert any(label in tip for tip in tips), (i, tips)
            # The bar charts (canvases too): labels are painted, tooltips show the label literally.
            bars = f'#text-{i} [data-chart="bars"]'
            labels = [x for panel in page.bar_panels(bars) for x in panel["labels"]]
            assert any(x.startswith(label[:4]) and label.startswith(x.rstrip("…")) for x in labels), (i, labels)
            assert any(label in tip for tip in page.hover_bars(bars, bars=3)), i
        assert page.dialogs == []
        assert page.sentinel() is None
        assert page.outside_requests == []
        assert page.page_errors == []
        assert page.page.query_selector("#vg-tooltip-element img, #vg-tooltip-element b") is None
        assert page.page.query_selector(".hm-tip *") is None, "the canvases' tooltip holds text only"


def test_csp_blocks_every_fetch_and_the_harness_sees_requests(
    hostile_report: tuple[Path, Path], browser: object, tiny_model: Path, tmp_path: Path
) -> None:
    """The page's own CSP stops fetches even from injected markup; without it the harness
    records the request, so the zero-request assertions above can fail.

    The markup is injected into a one-text report whose policy is the hostile report's, to the
    byte: the same page logic and policy, without drawing every chart of the hostile corpus."""
    hostile_html = hostile_report[0].read_text(encoding="utf-8")
    meta = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', hostile_html).group(0)
    assert hostile_html.index(meta) < hostile_html.index("<title>")
    policy = re.search(r'content="([^"]+)"', meta).group(1)
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["default-src"] == ["'none'"]
    assert directives.get("img-src") == ["data:"] and directives.get("connect-src") == ["'none'"]

    source = tmp_path / "one.txt"
    source.write_text(CORPUS[0][0] + "\n", encoding="utf-8")
    small = tmp_path / "one.html"
    result = CliRunner().invoke(
        app, ["run", str(source), "--model", str(tiny_model), "--out", str(small), "--methods", "cls_attention", *ONE_THREAD]
    )
    assert result.exit_code == 0, result.output
    html = small.read_text(encoding="utf-8")
    assert re.findall(r'<meta http-equiv="Content-Security-Policy"[^>]*>', html) == [meta]
    assert html.index(meta) < html.index("<title>")
    injected = (
        '<img src="http://127.0.0.1:9/pixel.png">'
        '<script>fetch("http://127.0.0.1:9/fetch").catch(function () {});</script>'
    )
    with_csp = tmp_path / "with_csp.html"
    with_csp.write_text(html.replace("<body>", "<body>" + injected, 1), encoding="utf-8")
    with visit(browser, with_csp, wait_charts=False) as page:
        page.page.wait_for_timeout(300)
        assert page.outside_requests == []
        assert "http://127.0.0.1:9/pixel.png" in page.csp_blocked_requests
        assert {v.split()[0] for v in page.csp_violations} >= {"img-src", "connect-src"}, page.csp_violations
    without_csp = tmp_path / "without_csp.html"
    without_csp.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", with_csp.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    with visit(browser, without_csp, wait_charts=False) as page:
        page.page.wait_for_timeout(300)
        assert any(u.startswith("http://127.0.0.1:9/") for u in page.outside_requests), page.outside_requests


# --- property tests: any Unicode string survives the trip into the page's visible text ----------

_HIDDEN = ("Cc", "Cf", "Cs", "Zl", "Zp")


def _emoji_like(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sk") or char == "\ufe0f"


def hidden_left(shown: str) -> list[str]:
    """Characters a browser would hide that are still in ``shown``: none may be, except a
    zero-width joiner between two emoji and the tag characters of a flag (parts of an emoji)."""
    left = []
    for i, c in enumerate(shown):
        if unicodedata.category(c) not in _HIDDEN or c in "\t\n":
            continue
        if c == "\u200d" and 0 < i < len(shown) - 1 and _emoji_like(shown[i - 1]) and _emoji_like(shown[i + 1]):
            continue
        if "\U000E0020" <= c <= "\U000E007F" and "\U0001F3F4" in shown[:i]:
            continue
        left.append(c)
    return left


def from_visible(shown: str) -> str:
    """Undo the stand-ins: control pictures and spelled-out \\uXXXX / \\UXXXXXXXX."""
    shown = re.sub(r"\\U([0-9a-f]{8})|\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1) or m.group(2), 16)), shown)
    return "".join(chr(ord(c) - 0x2400) if "\u2400" <= c <= "\u241f" else "\x7f" if c == "\u2421" else c for c in shown)


def shown_in_page(html: str) -> list[str]:
    """Each text's highlight as the page builds it from its data: runs set as textContent,
    stand-ins as their visible replacement (what ``p.highlight`` holds, character for character)."""
    import base64
    import zlib

    out = []
    for detail, _, _ in pagedata.blocks(html):
        text = json.loads(zlib.decompress(base64.b64decode(detail)))
        runs = [run for span in text["spans"] for run in span[1:]] + text["dropped"]
        out.append("".join(run if isinstance(run, str) else run[0] for run in runs))
    return out


@pytest.fixture(scope="module")
def render_texts(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """Texts -> a .jsonl file -> the CLI (in process) -> the report's HTML."""
    folder = tmp_path_factory.mktemp("prop")
    counter = iter(range(10**9))
    # The explanation methods add nothing to this trip (the text is the same whatever shades
    # it) and each adds charts for the browser to draw: one cheap method. Faithfulness only adds
    # numbers (the words and their chips, where text is shown, stay on).
    fast = ["--methods", "cls_attention", "--faithfulness", "off", *ONE_THREAD]

    def render(texts: list[str]) -> tuple[Path, str]:
        source = folder / f"in{next(counter)}.jsonl"
        source.write_text("\n".join(json.dumps({"text": t}) for t in texts), encoding="utf-8")
        out = source.with_suffix(".html")
        result = CliRunner().invoke(app, ["run", str(source), "--model", str(tiny_model), "--out", str(out), *fast])
        assert result.exit_code == 0, result.output
        return out, out.read_text(encoding="utf-8")

    return render


# Any Unicode text (no lone surrogates: they are not text, and the reader refuses them),
# biased towards the characters that matter here.
_SPECIAL = st.sampled_from(
    list("\x00\x07\x1b\x7f\x85\x9b\r\t\n \u00a0\u3000\u200b\u200c\u200d\u2060\ufeff\u202a\u202e\u2066\u2069\u2028\u2029"
         "<>&\"'`${}%#\\;/=日本語ァ\u2400\u2421")
    + ["\U0001F468\u200d\U0001F469", "</script>", "{{", "{%", "${", "&amp;", "\u0301", "\U000E0041", "\\u202e"]
)
_PIECE = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=4), _SPECIAL)
_TEXT = st.lists(_PIECE, min_size=1, max_size=10).map("".join).filter(lambda t: t.strip() != "")
# Several texts per report: each example is one whole run (and a page opened in Chromium), so
# many texts per run test as many texts at a fraction of the runs.
TEXTS = st.lists(_TEXT, min_size=1, max_size=12)
_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(max_examples=16, **_SETTINGS)
@given(texts=TEXTS)
def test_any_text_reaches_the_page_intact(texts: list[str], render_texts) -> None:  # noqa: ANN001
    _, html = render_texts(texts)
    found = shown_in_page(html)
    assert len(found) == len(texts)
    for text, shown in zip(texts, found):
        assert hidden_left(shown) == [], (text, shown)
        if "\\" not in text and not any("\u2400" <= c <= "\u2421" for c in text):
            # Without literal stand-ins in the text, the stand-ins read back to the text exactly.
            assert from_visible(shown) == text
        else:
            assert len(shown) >= len(text)


@settings(max_examples=5, **_SETTINGS)
@given(texts=TEXTS)
def test_any_text_visible_in_chromium(texts: list[str], render_texts, browser: object) -> None:  # noqa: ANN001
    from reportgen.visible import visible_plain

    path, _ = render_texts(texts)
    with visit(browser, path, wait_charts=False, wait_texts=True) as page:
        got = page.visible_texts("p.highlight")
        assert page.dialogs == [] and page.sentinel() is None and page.outside_requests == []
    assert got == [visible_plain(t) for t in texts]
    assert all(hidden_left(g) == [] for g in got)
