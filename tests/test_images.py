"""Pictures for tickets: valid PNGs of the stated size, legible at 800 px, Japanese drawn as
glyphs (not boxes), wrapping that keeps every character, and a one-line refusal without a font."""

from __future__ import annotations

import dataclasses
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import handmade
from reportgen import images
from reportgen.cli import app
from reportgen.report import Span
from reportgen.visible import visible_plain

JAPANESE_A = "日本語の文章です"
JAPANESE_B = "漢字とカタカナ"


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """Check a PNG the hard way (signature, every chunk's CRC, IHDR, IDAT size); width, height, pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    pos, chunks, idat = 8, [], b""
    header = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append(kind)
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + width * channels), "pixel data matches the stated size"
    return width, height, raw


@pytest.fixture(scope="module")
def report():
    return handmade.report()


@pytest.fixture(scope="module")
def pngs(report) -> list[images.Image]:
    return images.render_images(report, "png")


def test_pngs_are_valid_images_of_the_stated_size(report, pngs: list[images.Image]) -> None:
    assert [i.name for i in pngs] == ["overview.png", "text-000.png", "text-001.png"]
    assert [i.text_id for i in pngs] == [None, 0, 1]
    for image in pngs:
        width, height, _ = read_png(image.content)
        assert (width, height) == (image.width, image.height) == images.png_size(image.content)
        # Legible when a tracker shrinks it to 800 px: at least 800 px wide, and the text of the
        # card stays at least 12 px tall at that width.
        assert width >= images.MIN_PNG_WIDTH
        assert images.TEXT_SIZE * images.SCALE * min(1.0, 800 / width) >= 12
    cards = [i for i in pngs if i.text_id is not None]
    assert len({c.width for c in cards}) == 1, "every card has the same width"
    # A longer text makes a taller card, the width stays.
    long = dataclasses.replace(report.texts[1], text=JAPANESE_A * 40, spans=(Span(JAPANESE_A * 40, None, None),), dropped="")
    taller = images.render(images.card_spec(report, long, images.ready_font()))
    assert taller[1] == cards[1].width and taller[2] > cards[1].height


def test_svgs_are_well_formed_with_their_size(report) -> None:
    svgs = images.render_images(report, "svg")
    assert [i.name for i in svgs] == ["overview.svg", "text-000.svg", "text-001.svg"]
    for image in svgs:
        root = ET.fromstring(image.content)
        assert root.tag.endswith("svg")
        assert (round(float(root.get("width"))), round(float(root.get("height")))) == (image.width, image.height)
    texts = "".join(ET.fromstring(svgs[1].content).itertext())
    assert "どうぞ" in texts and "texts.txt:1" in texts
    # Drawn again in the same process, the pictures are the same bytes: Vega's clip and gradient
    # ids (process-wide counters) are renumbered per picture.
    assert [i.content for i in images.render_images(report, "svg")] == [i.content for i in svgs]


def test_only_vegas_own_ids_are_renumbered() -> None:
    svg = (
        '<svg><defs><clipPath id="clip40"><rect/></clipPath><linearGradient id="gradient_7"/></defs>'
        '<g clip-path="url(#clip40)" aria-label="token: clip40 url(#clip40)"><path fill="url(#gradient_7)"/>'
        '<text>id="clip40" url(#clip40) clip9</text></g><g clip-path="url(#clip41)"/></svg>'
    )
    assert images.stable_ids(svg) == (
        '<svg><defs><clipPath id="clip1"><rect/></clipPath><linearGradient id="gradient_1"/></defs>'
        '<g clip-path="url(#clip1)" aria-label="token: clip40 url(#clip40)"><path fill="url(#gradient_1)"/>'
        '<text>id="clip40" url(#clip40) clip9</text></g><g clip-path="url(#clip2)"/></svg>'
    )


def test_japanese_is_drawn_with_glyphs_not_boxes() -> None:
    font = images.find_font()
    # Font metadata: the character map covers every character of the hand-made texts and probes.
    for text in (*handmade.TEXTS, JAPANESE_A, JAPANESE_B, images.PROBE):
        assert font.covers(text), text
    # Rendering: boxes (.notdef) all look alike, so two different strings of unassigned code
    # points give the same picture; Japanese strings give pictures unlike the boxes and unlike
    # each other, so vl-convert really draws their glyphs.
    family = font.css
    boxes = images.render_probe("\u0378" * 7, family)
    assert boxes == images.render_probe("\u0379" * 7, family), "the box rendering is what a missing glyph looks like"
    a, b = images.render_probe(JAPANESE_A[:7], family), images.render_probe(JAPANESE_B, family)
    blank = images.render_probe("", family)
    assert a != boxes and b != boxes and a != b and blank not in (a, b)
    images.check_rendering(font)  # the check the picture writer runs


def test_text_layout_wraps_and_keeps_every_character(report) -> None:
    font = images.find_font()
    mixed = "Thank you | for *your* order; we ship tomorrow.\n" + "改行の後、日本語の文章が続きます。「かぎかっこ」も句読点も、" * 2 + "\tタブ"
    text = dataclasses.replace(report.texts[0], text=mixed, spans=(Span(mixed, None, None),), dropped="")
    cells, cut = images.layout_text(text, "integrated_gradients", font)
    assert not cut
    lines = {}
    for cell in cells:
        lines.setdefault(cell.line, []).append(cell)
        assert cell.x >= 0 and cell.x + cell.width <= images.WIDTH + images.TEXT_SIZE
    joined = "".join(c.text for c in sorted(cells, key=lambda c: (c.line, c.x)))
    assert joined.replace(" ", "") == visible_plain(mixed).replace("\t", "").replace("\n", "").replace(" ", "")
    assert len(lines) >= 3, "the explicit line break and the wrap both start new lines"
    assert not any(min(row, key=lambda c: c.x).text[0] in "、。」" for row in lines.values()), "no line starts with closing punctuation"
    # Shaded runs follow the tokens of the hand-made text: お (up, red) and どうぞ (down, blue).
    cells, _ = images.layout_text(report.texts[0], "integrated_gradients", font)
    fills = {c.text: c.fill for c in cells}
    assert fills["お茶"].startswith("rgba(214, 96, 77") and fills["どうぞ"].startswith("rgba(67, 147, 195"), "by word"
    pieces = handmade.report(words="pieces")
    fills = {c.text: c.fill for c in images.layout_text(pieces.texts[0], "integrated_gradients", font)[0]}
    assert fills["お"].startswith("rgba(214, 96, 77") and fills["茶"].startswith("rgba(67, 147, 195"), "by token"
    # A very long text is cut at MAX_LINES with an ellipsis.
    long = dataclasses.replace(report.texts[0], text=JAPANESE_A * 200, spans=(Span(JAPANESE_A * 200, None, None),))
    cells, cut = images.layout_text(long, "integrated_gradients", font)
    assert cut and cells[-1].text == "…" and max(c.line for c in cells) == images.MAX_LINES - 1


def test_card_content(report) -> None:
    font = images.find_font()
    spec = images.card_spec(report, report.texts[0], font)
    assert spec["title"]["subtitle"][0] == "prediction 0.42 · gold 0.5 · error -0.08"
    assert "Integrated Gradients" in spec["title"]["subtitle"][1]
    assert "per word" in spec["title"]["subtitle"][1]
    labels = {p["name"]: p["value"] for p in spec["params"]}
    assert labels["toplabels"] == ["お茶", "を", "どうぞ"], "the words that raise, then lower"
    assert labels["steplabels"] == ["f(baseline)", "お茶", "を", "どうぞ", "f(x)"]
    assert images.signed_method(report) == "integrated_gradients"
    # Without words (--words pieces) the card lists and walks through tokens.
    pieces = handmade.report(words="pieces")
    labels = {p["name"]: p["value"] for p in images.card_spec(pieces, pieces.texts[0], font)["params"]}
    assert labels["toplabels"] == ["お", "を", "どうぞ", "茶"], "a bare ␣ is never a top token"
    assert labels["steplabels"] == ["f(baseline)", "お", "茶", "を", "␣", "どうぞ", "f(x)"]
    # The overview adds the corpus chart where there are words.
    overview = images.overview_spec(report, font)
    assert [p["name"] for p in overview["params"]] == ["rowlabels", "corpuslabels"] and len(overview["vconcat"]) == 2
    assert "vconcat" not in images.overview_spec(pieces, font)
    no_ig = handmade.report(methods=handmade.METHODS[:2])
    assert images.signed_method(no_ig) == "grad_input"


def test_no_japanese_font_is_a_one_line_error_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> None:
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    monkeypatch.setattr(images, "font_dirs", lambda: [empty])
    monkeypatch.delenv(images.FONT_ENV, raising=False)
    source = tmp_path / "in.txt"
    source.write_text(handmade.TEXTS[0] + "\n", encoding="utf-8")
    out, pics = tmp_path / "r.html", tmp_path / "pics"
    result = CliRunner().invoke(app, ["run", str(source), "--model", str(tiny_model), "--out", str(out), "--png", str(pics)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no font with Japanese glyphs found" in lines[0] and "fonts-ipafont-gothic" in lines[0]
    assert not out.exists() and not pics.exists()
    # A font file without Japanese glyphs named by $REPORTGEN_FONT is refused the same way.
    latin = next(Path("/usr/share/fonts").rglob("DejaVuSans.ttf"), None)
    if latin is not None:
        monkeypatch.setenv(images.FONT_ENV, str(latin))
        with pytest.raises(images.OutputError, match="not a readable font file with Japanese glyphs"):
            images.find_font()


def test_cli_refuses_to_overwrite_pictures_before_any_model_work(tmp_path: Path, tiny_model: Path) -> None:
    """Pictures already there stop the run at once (the run that writes them: test_summary.py)."""
    source = tmp_path / "in.txt"
    source.write_text("\n".join(handmade.TEXTS) + "\n", encoding="utf-8")
    out, pics = tmp_path / "r.html", tmp_path / "pics"
    pics.mkdir()
    (pics / "text-001.png").write_bytes(b"mine")
    args = ["run", str(source), "--model", str(tmp_path / "no-model-needed"), "--out", str(out), "--png", str(pics)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "text-001.png: already exists; pass --force" in result.output, result.output
    assert (pics / "text-001.png").read_bytes() == b"mine" and not out.exists()
    assert sorted(p.name for p in pics.iterdir()) == ["text-001.png"]
    # A file where the folder should be is refused too.
    result = CliRunner().invoke(app, [*args[:-1], str(pics / "text-001.png")])
    assert result.exit_code == 2 and "is a file; --png takes a folder" in result.output, result.output
