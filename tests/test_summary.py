"""The Markdown ticket summary: what it says, hostile text kept inside its table cell, and picture
links relative to the summary file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

import handmade
from reportgen.cli import app
from reportgen.report import Mover, Movers
from reportgen.summary import escape_markdown, summary_markdown

HOSTILE = "a|b\nc\r\n|<img src=x>*e*_u_`c`[l](j:x)![i](x)~~s~~$x$&lt;\\|"


def parse(markdown: str) -> list:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown)


def table_rows(tokens: list) -> list[list[str]]:
    """The body rows of the (only) table, each as its cells' inline source."""
    rows, row, inside = [], None, False
    for token in tokens:
        if token.type == "tbody_open":
            inside = True
        elif token.type == "tbody_close":
            inside = False
        elif inside and token.type == "tr_open":
            row = []
        elif inside and token.type == "inline" and row is not None:
            row.append(token)
        elif inside and token.type == "tr_close":
            rows.append(row)
            row = None
    return rows


@pytest.fixture(scope="module")
def hostile_report():
    report = handmade.report(words="pieces")
    first = report.texts[0]
    hostile_movers = (Movers("pieces", "integrated_gradients", (Mover("|<b>*", 0.3, 1),), (Mover("[a](b)", -0.2, 2),)),)
    texts = (dataclasses.replace(first, text=HOSTILE, movers=hostile_movers), *report.texts[1:])
    run = dataclasses.replace(report.run, title="Title | with <b>pipes</b>")
    model = dataclasses.replace(report.model, path="models/[x](y)|z")
    return dataclasses.replace(report, texts=texts, run=run, model=model)


def test_hostile_text_stays_in_its_cell(hostile_report) -> None:
    markdown = summary_markdown(hostile_report)
    tokens = parse(markdown)
    rows = table_rows(tokens)
    assert len(rows) == len(hostile_report.texts)
    assert all(len(r) == len(rows[0]) for r in rows), "a pipe in the text made an extra cell"
    cell = rows[0][1]
    kinds = {child.type for child in cell.children}
    assert kinds <= {"text"}, f"user text became markup: {kinds}"
    shown = "".join(child.content for child in cell.children)
    assert shown == "a|b⏎c⏎|<img src=x>*e*_u_`c`[l](j:x)![i](x)~~s~~$x$&lt;\\|", "shown literally, whole"
    # Nothing anywhere in the document is HTML or a link, except what the summary made itself.
    everything = [child for t in tokens if t.type == "inline" for child in t.children]
    assert not [c for c in everything if c.type in ("html_inline", "image", "link_open", "code_inline", "em_open", "s_open")]
    assert not [t for t in tokens if t.type == "html_block"]
    assert "\\|\\<b\\>\\* +0.3" in markdown and "\\[a\\]\\(b\\) -0.2" in markdown, "hostile token labels are escaped too"


def test_escape_markdown_is_one_line_and_literal() -> None:
    escaped = escape_markdown("x|y\n\u2028z\x00", limit=None)
    assert "\n" not in escaped and "\u2028" not in escaped and "\\|" in escaped and "␀" in escaped
    assert escape_markdown("あいうえおかきくけこ", limit=5) == "あいうえ…"


def test_summary_says_what_a_ticket_needs() -> None:
    report = handmade.report()
    markdown = summary_markdown(report)
    assert markdown.startswith("## hand\\-made") or markdown.startswith("## hand-made")
    assert "model (AlbertForSequenceClassification, 2 layers, 3 heads, 1,000 parameters, regression)" in markdown
    assert "- **Texts:** 2 texts, 1 truncated to 512 tokens" in markdown
    assert "Most faithful explanation: **Gradient × input** (comprehensiveness 0.600, sufficiency 0.100; beats the random order on 100% of texts)" in markdown
    rows = table_rows(parse(markdown))
    cells = [["".join(c.content for c in cell.children) for cell in row] for row in rows]
    assert cells[0][:5] == ["0", "お茶を どうぞ", "0.42", "0.5", "-0.08"]
    assert cells[0][5] == "お茶 +0.1, を +0.01" and cells[0][6] == "どうぞ -0.38", "words, by Integrated Gradients"
    assert cells[1][1].endswith("✂") and cells[1][3] == "" and cells[1][4] == ""
    assert "**Across texts** (Integrated Gradients" in markdown and "raise は +0.2 (1)" in markdown
    pieces = summary_markdown(handmade.report(words="pieces"))
    cells = [["".join(c.content for c in cell.children) for cell in row] for row in table_rows(parse(pieces))]
    assert cells[0][5] == "お +0.25, を +0.01" and "Across texts" not in pieces


def test_picture_links_are_relative_to_the_summary(tmp_path: Path) -> None:
    report = handmade.report()
    pictures = [tmp_path / "pics dir" / name for name in ("overview.png", "text-000.png", "text-001.png")]
    beside = summary_markdown(report, pictures, tmp_path / "summary.md")
    assert "![Predictions of every text](pics%20dir/overview.png)" in beside
    assert "[card](pics%20dir/text-001.png)" in beside
    below = summary_markdown(report, pictures, tmp_path / "notes" / "summary.md")
    assert "[card](../pics%20dir/text-000.png)" in below


def test_cli_writes_pictures_and_a_summary_linking_them(tmp_path: Path, tiny_model: Path) -> None:
    from test_images import read_png

    source = tmp_path / "in.txt"
    source.write_text("\n".join(handmade.TEXTS) + "\n", encoding="utf-8")
    summary, pics = tmp_path / "ticket" / "summary.md", tmp_path / "pics"
    result = CliRunner().invoke(
        app,
        [
            "run", str(source), "--model", str(tiny_model), "--out", str(tmp_path / "r.html"), "--summary", str(summary),
            "--png", str(pics), "--methods", "cls_attention,grad_input",
        ],
    )
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in pics.iterdir())
    assert written == ["overview.png", "text-000.png", "text-001.png"], "every picture, no temporary file left"
    for name in written:
        assert str(pics / name) in result.output
        assert read_png((pics / name).read_bytes())[0] >= 800
    markdown = summary.read_text(encoding="utf-8")
    targets = [t.attrGet("src") or t.attrGet("href") for tok in parse(markdown) if tok.type == "inline" for t in tok.children if t.type in ("image", "link_open")]
    assert len(targets) == 1 + len(handmade.TEXTS)
    for target in targets:
        assert target.startswith("../pics/") and (summary.parent / target).resolve().is_file(), target
    assert "raise (Gradient × input)" in markdown
