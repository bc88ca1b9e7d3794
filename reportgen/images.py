"""Pictures for tickets: one compact card per text and an overview, drawn by vl-convert.

A tracker or chat that will not preview an HTML attachment still shows a picture. Each text gets
a card (:func:`card_spec`): its header (prediction with its name, gold and error), the text
shaded by the report's signed explanation (Integrated Gradients when it ran, else gradient ×
input, else the report's highlight method; red raises the prediction, blue lowers it), the
tokens that raise and lower it most with their values, and the Integrated Gradients waterfall.
``overview`` shows every text's prediction (and gold score). Cards are Vega-Lite specs rendered
with ``vl-convert`` (no browser), as PNG at :data:`SCALE` times their CSS size, or as SVG.

Japanese must render as glyphs, not boxes. :func:`find_font` looks for a font with Japanese
glyphs (IPA, Noto CJK, Takao, ...) in the system font folders (or ``$REPORTGEN_FONT``), proves
from its character map that it covers kana and kanji, registers its folder with vl-convert,
and :func:`check_rendering` renders a Japanese probe string to prove vl-convert draws glyphs
with it (the probe must differ from the same number of ``.notdef`` boxes and from nothing).
Without such a font, pictures are refused with a one-line :class:`~reportgen.errors.OutputError`.
The same font's advance widths lay the shaded text out, so tokens wrap exactly.

User text reaches the specs only as data (never as an expression); labels go through
:func:`~reportgen.visible.visible_plain` so control characters show as stand-ins.
"""

from __future__ import annotations

import functools
import math
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import theme
from .errors import OutputError
from .report import TOP_MOVERS, Movers, Report, Span, TextReport, signed_default_method, top_movers
from .visible import visible_plain

FORMATS = ("png", "svg")
SCALE = 2.0
"""PNG pixels per CSS pixel: a card is about 1,350 px wide, legible when shrunk to 800 px."""
MIN_PNG_WIDTH = 800
"""No PNG is narrower than this: a tracker that shrinks pictures to 800 px keeps every label."""
WIDTH = 640
"""CSS width of a card's content."""
GUTTER = 130
"""Left of every chart's plot area: the y-axis labels. Every y axis takes exactly this much, so
the text (drawn from the card's left edge, into the gutter) and the charts line up."""
TEXT_SIZE = 17
LINE_HEIGHT = 30
MAX_LINES = 14
"""Longer texts are cut on the card (the report has all of it), marked with an ellipsis."""
TOP_TOKENS = 5
"""Tokens listed per direction (raise, lower)."""
OVERVIEW_GUTTER = 240
"""The overview's label column (each text's start, each corpus word)."""
CORPUS_WORDS = 8
"""Words per direction in the overview's corpus chart."""
WATERFALL_TOKENS = 12
"""The waterfall shows this many largest-|score| tokens (in text order); the rest are combined."""
DROPPED_INK = "#9ca3af"
TEXT_INK = "#111827"

FONT_ENV = "REPORTGEN_FONT"
"""A font file to use instead of searching the system font folders."""
PROBE = "日本語のテキストをカタカナと漢字で表示します。"
"""Kana and kanji every usable font must cover (checked in its character map)."""
GLYPH_PROBE = "漢字かなカナ語"
"""Rendered once per process to prove vl-convert draws Japanese glyphs with the font."""
NOTDEF_PROBE = "\u0378" * len(GLYPH_PROBE)
"""Unassigned code points: every font draws them as its ``.notdef`` box."""

PREFERRED_FONTS = (
    "notosanscjk-regular.ttc",
    "notosanscjkjp-regular.otf",
    "notosansjp-regular.otf",
    "notosansjp-regular.ttf",
    "sourcehansans-regular.ttc",
    "sourcehansansjp-regular.otf",
    "ipaexg.ttf",
    "ipagp.ttf",
    "ipag.ttf",
    "fonts-japanese-gothic.ttf",
    "takaopgothic.ttf",
    "takaogothic.ttf",
    "vl-pgothic-regular.ttf",
    "vl-gothic-regular.ttf",
    "hiraginosans-w3.ttc",
    "yugothr.ttc",
    "meiryo.ttc",
    "msgothic.ttc",
    "droidsansfallbackfull.ttf",
    "notoserifcjk-regular.ttc",
    "ipaexm.ttf",
    "ipamp.ttf",
    "ipam.ttf",
    "fonts-japanese-mincho.ttf",
)
"""Font files known to cover Japanese, best first (matched case-insensitively)."""
_HINTS = re.compile(r"cjk|jp|japan|gothic|mincho|ipa|takao|han|hei|ming|kai|fallback", re.IGNORECASE)
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc")


# --- The font --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Font:
    """A font file with Japanese glyphs: its family name and its advance widths."""

    path: Path
    family: str
    units_per_em: int
    advances: Mapping[int, int]
    """Code point -> advance width in font units, for every code point the font covers."""

    def covers(self, text: str) -> bool:
        return all(ord(c) in self.advances for c in text if not c.isspace())

    def width(self, text: str, size: float) -> float:
        """Width of ``text`` at ``size`` px (characters the font lacks count one em)."""
        units = sum(self.advances.get(ord(c), self.units_per_em) for c in text)
        return units * size / self.units_per_em

    @property
    def css(self) -> str:
        """The CSS font-family list the specs use (the family, then the generic fallback)."""
        return f'"{self.family}", sans-serif'


def font_dirs() -> list[Path]:
    """Where fonts are looked for: the user's folders, then the system's (Linux, macOS, Windows)."""
    home = Path.home()
    dirs = [home / ".local" / "share" / "fonts", home / ".fonts"]
    for data in (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(os.pathsep):
        if data:
            dirs.append(Path(data) / "fonts")
    dirs += [Path("/usr/share/fonts"), home / "Library" / "Fonts", Path("/Library/Fonts"), Path("/System/Library/Fonts")]
    if os.environ.get("WINDIR"):
        dirs.append(Path(os.environ["WINDIR"]) / "Fonts")
    unique: list[Path] = []
    for folder in dirs:
        if folder not in unique:
            unique.append(folder)
    return unique


def _font_files(dirs: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for root, _, names in os.walk(folder):
            found += [Path(root) / n for n in sorted(names) if n.lower().endswith(_FONT_SUFFIXES)]
    return found


def load_font(path: Path) -> Font | None:
    """The font at ``path`` if it covers :data:`PROBE`, else None (unreadable files too)."""
    try:
        from fontTools.ttLib import TTFont

        tt = TTFont(str(path), fontNumber=0, lazy=True)
        cmap = tt.getBestCmap() or {}
        if not all(ord(c) in cmap for c in PROBE):
            return None
        metrics = tt["hmtx"].metrics
        advances = {cp: int(metrics[glyph][0]) for cp, glyph in cmap.items() if glyph in metrics}
        family = str(tt["name"].getBestFamilyName() or "").replace('"', "").strip()
        units = int(tt["head"].unitsPerEm)
    except Exception:  # noqa: BLE001 - a broken or exotic font file is simply not a candidate
        return None
    if not family or units <= 0:
        return None
    return Font(path=path.resolve(), family=family, units_per_em=units, advances=advances)


@functools.lru_cache(maxsize=None)
def _find_font(override: str | None, dirs: tuple[Path, ...]) -> Font:
    if override:
        font = load_font(Path(override))
        if font is None:
            raise OutputError(f"{FONT_ENV}={override}: not a readable font file with Japanese glyphs (kana and kanji)")
        return font
    files = _font_files(dirs)
    by_name: dict[str, Path] = {}
    for file in files:
        by_name.setdefault(file.name.lower(), file)
    candidates = [by_name[name] for name in PREFERRED_FONTS if name in by_name]
    candidates += [f for f in files if f not in candidates and _HINTS.search(f.name)]
    for candidate in candidates:
        font = load_font(candidate)
        if font is not None:
            return font
    looked = ", ".join(str(d) for d in dirs if d.is_dir()) or ", ".join(str(d) for d in dirs[:3])
    raise OutputError(
        f"--png/--svg: no font with Japanese glyphs found (looked in {looked}); install one "
        f"(Debian/Ubuntu: sudo apt-get install fonts-ipafont-gothic, as scripts/setup.sh does) "
        f"or set {FONT_ENV} to a .ttf/.otf/.ttc file"
    )


def find_font() -> Font:
    """The font for pictures (``$REPORTGEN_FONT``, else the best one found); one-line error if none."""
    return _find_font(os.environ.get(FONT_ENV) or None, tuple(font_dirs()))


@functools.lru_cache(maxsize=None)
def _register(folder: str) -> None:
    import vl_convert

    vl_convert.register_font_directory(folder)


def _probe_spec(text: str, family: str) -> dict[str, Any]:
    return {
        "width": 260,
        "height": 44,
        "data": {"values": [{"t": text}]},
        "mark": {"type": "text", "fontSize": 32, "font": family, "align": "left", "x": 0},
        "encoding": {"text": {"field": "t"}},
        "config": {"view": {"stroke": None}},
    }


def render_probe(text: str, family: str) -> bytes:
    """``text`` drawn in ``family`` as a PNG (for the glyph checks)."""
    import vl_convert

    return vl_convert.vegalite_to_png(_probe_spec(text, family), scale=1, allowed_base_urls=[])


@functools.lru_cache(maxsize=None)
def check_rendering(font: Font) -> None:
    """Prove that vl-convert draws Japanese glyphs with ``font``: not boxes, not nothing."""
    _register(str(font.path.parent))
    glyphs = render_probe(GLYPH_PROBE, font.css)
    if glyphs == render_probe(NOTDEF_PROBE, font.css) or glyphs == render_probe("", font.css):
        raise OutputError(
            f"{font.path}: vl-convert draws Japanese text in {font.family!r} as boxes or not at all; "
            f"set {FONT_ENV} to another font file"
        )


def ready_font() -> Font:
    """:func:`find_font`, registered with vl-convert and checked by rendering."""
    font = find_font()
    check_rendering(font)
    return font


# --- What a card shows -----------------------------------------------------------------------


def signed_method(report: Report) -> str:
    """The report's signed default method (Integrated Gradients when it ran, else gradient ×
    input, else another signed method, else the highlight): what cards shade and list."""
    return report.signed_default or signed_default_method(report)


def card_unit(text: TextReport) -> str:
    """``"words"`` where the report shows the text by words first (Japanese), else ``"pieces"``."""
    return "words" if text.default_unit == "words" and text.words is not None else "pieces"


def prediction_name(report: Report) -> str:
    """What the regression output is called: ``ModelInfo.target_name`` (config or
    ``--target-name``), else its label when the config names it, else "prediction"."""
    if report.model.target_name:
        return report.model.target_name
    labels = report.model.labels
    if report.model.task == "regression" and labels and not re.fullmatch(r"LABEL_\d+", labels[0]):
        return labels[0]
    return "prediction"


def prediction_line(report: Report, text: TextReport) -> str:
    """``politeness 0.812 · gold 0.750 · error +0.062`` (or the class and its probability)."""
    if report.model.task == "classification":
        line = f"predicted {text.predicted_label} (p = {text.prediction:.3f})"
    else:
        line = f"{prediction_name(report)} {text.prediction:.4g}"
        if report.model.target_range is not None:
            lo, hi = report.model.target_range
            line += f" (on {lo:g}–{hi:g})"
    if text.gold is not None:
        line += f" · gold {text.gold:.4g}"
        if text.error is not None:
            line += f" · error {text.error:+.3g}"
    return line


def movers(text: TextReport, method: str, count: int = TOP_TOKENS) -> Movers:
    """The words (or, without words, tokens) that raise the output most and lower it most.

    The report's own top movers when they are by ``method`` and hold ``count`` (they list up
    to ``TOP_MOVERS`` each way), else computed the same way (:func:`reportgen.report.top_movers`).
    """
    unit = card_unit(text)
    found = text.movers_for(unit)
    if found is not None and found.method == method and count <= TOP_MOVERS:
        return Movers(unit, method, found.up[:count], found.down[:count])
    if unit == "words" and text.words is not None:
        values = text.words.scores_for(method).values
        up, down = top_movers(values, [w.surface for w in text.words.words], [False] * len(values), count)
    else:
        values = text.scores_for(method).values
        up, down = top_movers(values, [t.label for t in text.tokens], [t.special for t in text.tokens], count)
    return Movers(unit, method, up, down)


def _clip(label: str, limit: int) -> str:
    label = visible_plain(label).replace("\n", "⏎").replace("\t", " ")
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _number(value: float) -> str:
    return f"{value:+.3g}"


@dataclass(frozen=True)
class Cell:
    x: float
    width: float
    line: int
    text: str
    fill: str | None
    ink: str


def span_relative(text: TextReport, method: str, span: Span) -> float | None:
    """The span's score relative to the method's report-wide scale: by its word where the card
    shows words, else by its token; None where nothing scores it."""
    if card_unit(text) == "words" and text.words is not None:
        value = None if span.word is None else text.words.scores_for(method).relative[span.word]
    else:
        value = None if span.position is None else text.scores_for(method).relative[span.position]
    return value if value is not None and math.isfinite(value) else None


NO_LINE_START = set("、。，．,.)]}）」』】〕〉》ー ゃゅょっぁぃぅぇぉャュョッァィゥェォ!?！？:;：；…")
"""Characters that never start a wrapped line (they hang past the edge instead, by up to one em)."""


def layout_text(text: TextReport, method: str, font: Font) -> tuple[list[Cell], bool]:
    """The text as positioned runs, wrapped at :data:`WIDTH`; True when cut at :data:`MAX_LINES`.

    Each run keeps the shading of the token it belongs to (``theme.shade`` of the method's
    report-relative score); text no token covers is unshaded, the truncated end is grey. Lines
    break between words where the text has spaces (a word longer than half a line may be split),
    anywhere in Japanese, never before closing punctuation, and at the text's own line breaks.
    """
    segments: list[tuple[str, str | None, str]] = []
    for span in text.spans:
        relative = span_relative(text, method, span)
        fill = theme.shade(relative) if relative is not None and relative != 0 else None
        segments.append((span.text, fill, TEXT_INK))
    if text.dropped:
        segments.append((text.dropped, None, DROPPED_INK))
    chars = [(c, k) for k, (raw, _, _) in enumerate(segments) for c in visible_plain(raw).replace("\t", "    ")]

    placed: list[tuple[float, float, int, str, int]] = []  # x, width, line, char, segment
    x, line, wrapped = 0.0, 0, False
    i = 0
    while i < len(chars) and line < MAX_LINES:
        char, segment = chars[i]
        if char == "\n":
            x, line, wrapped, i = 0.0, line + 1, False, i + 1
            continue
        if char == " " and x == 0 and wrapped:
            i += 1  # a wrapped line does not start with the space it broke at
            continue
        if not char.isspace() and (i == 0 or chars[i - 1][0].isspace()):
            end = i
            while end < len(chars) and not chars[end][0].isspace():
                end += 1
            word = font.width("".join(c for c, _ in chars[i:end]), TEXT_SIZE)
            if x > 0 and x + word > WIDTH and word <= WIDTH / 2:
                x, line, wrapped = 0.0, line + 1, True
                continue
        width = font.width(char, TEXT_SIZE)
        if x > 0 and x + width > WIDTH and not (char in NO_LINE_START and x + width <= WIDTH + TEXT_SIZE):
            x, line, wrapped = 0.0, line + 1, True
            continue
        placed.append((x, width, line, char, segment))
        x += width
        i += 1
    cut = i < len(chars)

    runs: list[list[Any]] = []  # [x, width, line, text, segment]: one per segment per line
    for px, width, pline, char, segment in placed:
        same = runs and segments[runs[-1][4]][1:] == segments[segment][1:]  # same shading and ink
        if runs and runs[-1][2] == pline and same and abs(runs[-1][0] + runs[-1][1] - px) < 0.01:
            runs[-1][1] += width
            runs[-1][3] += char
        else:
            runs.append([px, width, pline, char, segment])
    cells = [Cell(rx, rw, rl, rt, segments[rs][1], segments[rs][2]) for rx, rw, rl, rt, rs in runs]
    if cut:
        last_line = max((c.line for c in cells), default=0)
        end_x = max((c.x + c.width for c in cells if c.line == last_line), default=0.0)
        cells.append(Cell(min(end_x + 2, WIDTH), TEXT_SIZE, last_line, "…", None, DROPPED_INK))
    return cells, cut


def waterfall_steps(text: TextReport, limit: int = WATERFALL_TOKENS) -> tuple[list[dict[str, Any]], int]:
    """f(baseline), the ``limit`` largest-|IG| tokens in text order, the rest combined, f(x).

    Returns the steps and how many tokens were combined.
    """
    ig = text.integrated_gradients
    if ig is None:
        return [], 0
    if card_unit(text) == "words" and text.words is not None:
        # Word scores of an additive method add up to the token scores (words.ADDITIVE_RULE).
        word_values = text.words.scores_for("integrated_gradients").values
        units = [(w.index, w.surface, float(word_values[w.index])) for w in text.words.words if math.isfinite(word_values[w.index])]
    else:
        values = text.scores_for("integrated_gradients").values
        units = [(t.position, t.label, float(values[t.position])) for t in text.tokens if not t.special]
    keep = {index for index, _, _ in sorted(units, key=lambda u: (-abs(u[2]), u[0]))[:limit]}
    steps: list[dict[str, Any]] = [_level("f(baseline)", ig.baseline_prediction)]
    running = ig.baseline_prediction
    for index, label, value in units:
        if index in keep:
            steps.append(_step(_clip(label, 10), running, value))
            running += value
    others = [value for index, _, value in units if index not in keep]
    if others:
        steps.append(_step(f"{len(others)} others", running, sum(others)))
    steps.append(_level("f(x)", ig.explained))
    for index, step in enumerate(steps):
        step["step"] = index
    return steps, len(others)


def _level(label: str, value: float) -> dict[str, Any]:
    return {"label": label, "start": value, "end": value, "value": value, "kind": "total"}


def _step(label: str, start: float, value: float) -> dict[str, Any]:
    return {"label": label, "start": start, "end": start + value, "value": value, "kind": "up" if value >= 0 else "down"}


# --- The specs -------------------------------------------------------------------------------


def _config(font: Font) -> dict[str, Any]:
    return {
        "font": font.css,
        "background": "white",
        "padding": 18,
        "view": {"stroke": None},
        "title": {"anchor": "start", "fontSize": 20, "subtitleFontSize": 15, "subtitleColor": "#374151", "offset": 14},
        "axis": {"labelFontSize": 14, "titleFontSize": 13, "labelColor": TEXT_INK, "titleColor": "#374151", "titleFontWeight": "normal"},
        "header": {"labelFontSize": 14},
        "concat": {"spacing": 26},
    }


def _text_chart(cells: Sequence[Cell]) -> dict[str, Any]:
    lines = max((c.line for c in cells), default=0) + 1
    height = lines * LINE_HEIGHT
    rows = [
        {
            "x": round(c.x, 2),
            "x2": round(c.x + c.width, 2),
            "y": c.line * LINE_HEIGHT + LINE_HEIGHT / 2,
            "top": c.line * LINE_HEIGHT + 3,
            "bottom": (c.line + 1) * LINE_HEIGHT - 3,
            "t": c.text,
            "fill": c.fill,
            "ink": c.ink,
        }
        for c in cells
    ]
    # The view starts after the gutter (the charts below align their plot areas there); the text
    # starts at the card's left edge, so x = 0 maps to -GUTTER.
    x = {
        "field": "x",
        "type": "quantitative",
        "axis": None,
        "scale": {"domain": [0, WIDTH], "range": [-GUTTER, WIDTH - GUTTER], "nice": False, "zero": False},
    }
    y_scale = {"domain": [0, height], "nice": False, "zero": False, "reverse": True}
    return {
        "width": WIDTH - GUTTER,
        "height": height,
        "data": {"values": rows},
        "layer": [
            {
                "transform": [{"filter": "datum.fill != null"}],
                "mark": {"type": "rect", "cornerRadius": 2},
                "encoding": {
                    "x": x,
                    "x2": {"field": "x2"},
                    "y": {"field": "top", "type": "quantitative", "axis": None, "scale": y_scale},
                    "y2": {"field": "bottom"},
                    "color": {"field": "fill", "type": "nominal", "scale": None},
                },
            },
            {
                "mark": {"type": "text", "align": "left", "baseline": "middle", "fontSize": TEXT_SIZE},
                "encoding": {
                    "x": x,
                    "y": {"field": "y", "type": "quantitative", "axis": None, "scale": y_scale},
                    "text": {"field": "t"},
                    "color": {"field": "ink", "type": "nominal", "scale": None},
                },
            },
        ],
    }


def _top_chart(report: Report, text: TextReport, method: str) -> tuple[dict[str, Any], list[str]] | None:
    signed = report.method(method).signed
    found = movers(text, method, TOP_TOKENS if signed else 2 * TOP_TOKENS)
    chosen = list(found.up) + list(found.down)
    noun = "words" if found.unit == "words" else "tokens"
    if not chosen:
        return None
    rows = [
        {"row": i, "value": t.value, "shown": _number(t.value) if signed else f"{t.value:.3g}", "kind": "up" if t.value >= 0 else "down"}
        for i, t in enumerate(chosen)
    ]
    labels = [_clip(t.label, 9) for t in chosen]
    lo = min(0.0, min(t.value for t in chosen))
    hi = max(0.0, max(t.value for t in chosen))
    span = (hi - lo) or 1.0
    domain = [lo - 0.3 * span if lo < 0 else 0.0, hi + 0.3 * span if hi > 0 else 0.0]
    title = report.method(method).title
    heading = (
        f"{noun} that raise (red) and lower (blue) the {prediction_name(report)} most"
        if signed
        else f"{noun} with the highest {title}"
    )
    x = {"field": "value", "type": "quantitative", "title": f"{title} score", "scale": {"domain": domain, "nice": False}}
    y = {
        "field": "row",
        "type": "ordinal",
        "title": None,
        "axis": {
            "labelExpr": "toplabels[datum.value]", "labelLimit": GUTTER - 12, "labelFontSize": 15, "ticks": False,
            "domain": False, "minExtent": GUTTER, "maxExtent": GUTTER,
        },
    }
    colour = {
        "field": "kind",
        "type": "nominal",
        "legend": None,
        "scale": {"domain": ["up", "down"], "range": [theme.POSITIVE_COLOUR, theme.NEGATIVE_COLOUR]},
    }
    return {
        "title": {"text": heading, "fontSize": 15, "fontWeight": "normal"},
        "width": WIDTH - GUTTER,
        "height": {"step": 26},
        "data": {"values": rows},
        "encoding": {"y": y},
        "layer": [
            {"mark": {"type": "bar", "cornerRadius": 2}, "encoding": {"x": x, "color": colour}},
            *_value_labels(14),
        ],
    }, labels



def _value_labels(font_size: int) -> list[dict[str, Any]]:
    """Text layers that print each bar's ``shown`` value just past its end, on the side it points to."""
    return [
        {
            "transform": [{"filter": f"datum.value {test} 0"}],
            "mark": {"type": "text", "align": align, "dx": dx, "fontSize": font_size},
            "encoding": {"x": {"field": "value", "type": "quantitative"}, "text": {"field": "shown"}},
        }
        for test, align, dx in ((">=", "left", 5), ("<", "right", -5))
    ]

def _waterfall_chart(report: Report, text: TextReport) -> tuple[dict[str, Any], list[str]] | None:
    steps, combined = waterfall_steps(text)
    if not steps:
        return None
    explained = (
        "model output" if report.model.task == "regression" else f"logit of {text.predicted_label}"
    )
    heading: dict[str, Any] = {"text": f"Integrated Gradients: f(baseline) → f(x), {explained}"}
    if combined:
        noun = "words" if card_unit(text) == "words" else "tokens"
        heading["subtitle"] = f"the {WATERFALL_TOKENS} largest {noun} in text order; the other {combined} combined"
    colour = {
        "field": "kind",
        "type": "nominal",
        "legend": None,
        "scale": {"domain": ["up", "down", "total"], "range": [theme.POSITIVE_COLOUR, theme.NEGATIVE_COLOUR, theme.TOTAL_COLOUR]},
    }
    x = {
        "field": "step",
        "type": "ordinal",
        "title": None,
        "axis": {"labelExpr": "steplabels[datum.value]", "labelAngle": -40, "labelLimit": 120, "labelFontSize": 14, "ticks": False},
    }
    return {
        "title": {**heading, "fontSize": 15, "fontWeight": "normal", "subtitleFontSize": 13, "limit": WIDTH},
        "width": WIDTH - GUTTER,
        "height": 190,
        "data": {"values": steps},
        "encoding": {"x": x},
        "layer": [
            {
                "transform": [{"filter": "datum.kind != 'total'"}],
                "mark": {"type": "bar", "cornerRadius": 1},
                "encoding": {
                    "y": {
                        "field": "start", "type": "quantitative", "title": None, "scale": {"zero": False},
                        "axis": {"minExtent": GUTTER, "maxExtent": GUTTER, "format": ".3~g"},
                    },
                    "y2": {"field": "end"},
                    "color": colour,
                },
            },
            {
                "transform": [{"filter": "datum.kind == 'total'"}],
                "mark": {"type": "tick", "thickness": 3},
                "encoding": {"y": {"field": "end", "type": "quantitative"}, "color": colour},
            },
        ],
    }, [s["label"] for s in steps]


def card_spec(report: Report, text: TextReport, font: Font) -> dict[str, Any]:
    """The Vega-Lite spec of one text's card (see the module docstring)."""
    method = signed_method(report)
    column = report.method(method)
    cells, cut = layout_text(text, method, font)
    subtitle = [prediction_line(report, text)]
    by = f"{column.title}{' per word' if card_unit(text) == 'words' else ''}"
    how = (
        f"shaded by {by}: red raises the {prediction_name(report)}, blue lowers it"
        if column.signed
        else f"shaded by {by}: darker means more"
    )
    subtitle.append(how)
    notes = []
    if text.truncated:
        notes.append(f"truncated to {len(text.tokens)} of {text.full_length} tokens (grey: not seen by the model)")
    if cut:
        notes.append("text cut for the picture; the report shows all of it")
    if text.integrated_gradients is not None and text.integrated_gradients.warn:
        notes.append(f"Integrated Gradients off by {text.integrated_gradients.delta_relative:.0%} (raise --ig-steps)")
    if notes:
        subtitle.append("; ".join(notes))
    parts: list[dict[str, Any]] = [_text_chart(cells)]
    params = []
    top = _top_chart(report, text, method)
    if top is not None:
        chart, labels = top
        parts.append(chart)
        params.append({"name": "toplabels", "value": labels})
    waterfall = _waterfall_chart(report, text)
    if waterfall is not None:
        chart, labels = waterfall
        parts.append(chart)
        params.append({"name": "steplabels", "value": labels})
    return {
        "config": _config(font),
        "title": {"text": f"#{text.text_id}  {_clip(text.source, 60)}", "subtitle": subtitle, "limit": WIDTH},
        "params": params,
        "vconcat": parts,
        "align": "none",
        "resolve": {"scale": {"color": "independent"}},
    }


def overview_spec(report: Report, font: Font) -> dict[str, Any]:
    """Every text's prediction as a bar (the gold score as a tick), labelled with the text's start."""
    classification = report.model.task == "classification"
    rows = []
    labels = []
    for i, text in enumerate(report.texts):
        start = _clip(text.text, 18)
        labels.append(f"#{text.text_id} {'[' + _clip(str(text.predicted_label), 12) + '] ' if classification else ''}{start}")
        rows.append({"row": i, "prediction": text.prediction, "shown": f"{text.prediction:.3g}", **({"gold": text.gold} if text.gold is not None else {})})
    name = "probability of the predicted class" if classification else prediction_name(report)
    values = [t.prediction for t in report.texts] + [t.gold for t in report.texts if t.gold is not None]
    lo, hi = min([0.0, *values]), max([0.0, *values])
    span = (hi - lo) or 1.0
    domain = [lo - 0.12 * span if lo < 0 else 0.0, hi + 0.12 * span if hi > 0 else 0.0]
    y = {
        "field": "row",
        "type": "ordinal",
        "title": None,
        "axis": {
            "labelExpr": "rowlabels[datum.value]", "labelLimit": OVERVIEW_GUTTER - 10, "labelFontSize": 14, "ticks": False,
            "minExtent": OVERVIEW_GUTTER, "maxExtent": OVERVIEW_GUTTER,
        },
    }
    x = {"field": "prediction", "type": "quantitative", "title": name, "scale": {"domain": domain, "nice": False}}
    layers: list[dict[str, Any]] = [
        {"mark": {"type": "bar", "color": theme.PREDICTION_COLOUR, "cornerRadius": 2}, "encoding": {"x": x}},
        {
            "mark": {"type": "text", "align": "left", "dx": 5, "fontSize": 13},
            "encoding": {"x": {"field": "prediction", "type": "quantitative"}, "text": {"field": "shown"}},
        },
    ]
    subtitle = [f"{len(report.texts)} text{'s' if len(report.texts) != 1 else ''} · model: {_clip(report.model.path, 70)}"]
    if report.has_gold:
        layers.append(
            {
                "transform": [{"filter": "isValid(datum.gold)"}],
                "mark": {"type": "tick", "color": theme.GOLD_COLOUR, "thickness": 3},
                "encoding": {"x": {"field": "gold", "type": "quantitative"}},
            }
        )
        subtitle.append("bar: prediction · orange tick: gold score")
    predictions = {
        "width": WIDTH - OVERVIEW_GUTTER,
        "height": {"step": 26},
        "data": {"values": rows},
        "encoding": {"y": y},
        "layer": layers,
    }
    top = {"config": _config(font), "title": {"text": _clip(report.run.title, 70), "subtitle": subtitle, "limit": WIDTH}}
    corpus = _corpus_chart(report)
    if corpus is None:
        return {**top, "params": [{"name": "rowlabels", "value": labels}], **predictions}
    chart, corpus_labels = corpus
    return {
        **top,
        "params": [{"name": "rowlabels", "value": labels}, {"name": "corpuslabels", "value": corpus_labels}],
        "vconcat": [predictions, chart],
        "align": "none",
        "resolve": {"scale": {"color": "independent"}},
    }


def _corpus_chart(report: Report) -> tuple[dict[str, Any], list[str]] | None:
    """The corpus view: the words that raise and lower the score most across the texts."""
    corpus = report.corpus
    if corpus is None:
        return None
    chosen = list(corpus.raising(k=CORPUS_WORDS)) + list(corpus.lowering(k=CORPUS_WORDS))
    if not chosen:
        return None
    rows = [
        {"row": i, "value": w.mean, "shown": f"{w.mean:+.3g}", "kind": "up" if w.mean >= 0 else "down"}
        for i, w in enumerate(chosen)
    ]
    labels = [f"{_clip(w.lemma, 12)} ({w.n_texts})" for w in chosen]
    lo, hi = min(0.0, *(w.mean for w in chosen)), max(0.0, *(w.mean for w in chosen))
    span = (hi - lo) or 1.0
    domain = [lo - 0.3 * span if lo < 0 else 0.0, hi + 0.3 * span if hi > 0 else 0.0]
    least = corpus.default_min_texts
    chart = {
        "title": {
            "text": f"words that raise and lower the {prediction_name(report)} across the texts",
            "subtitle": f"{report.method(corpus.method).title}, mean per occurrence; (n): texts with the word, at least {least}",
            "fontSize": 15, "fontWeight": "normal", "subtitleFontSize": 13,
        },
        "width": WIDTH - OVERVIEW_GUTTER,
        "height": {"step": 24},
        "data": {"values": rows},
        "encoding": {
            "y": {
                "field": "row", "type": "ordinal", "title": None,
                "axis": {
                    "labelExpr": "corpuslabels[datum.value]", "labelLimit": OVERVIEW_GUTTER - 10, "labelFontSize": 14,
                    "ticks": False, "minExtent": OVERVIEW_GUTTER, "maxExtent": OVERVIEW_GUTTER,
                },
            }
        },
        "layer": [
            {
                "mark": {"type": "bar", "cornerRadius": 2},
                "encoding": {
                    "x": {"field": "value", "type": "quantitative", "title": "mean score", "scale": {"domain": domain, "nice": False}},
                    "color": {
                        "field": "kind", "type": "nominal", "legend": None,
                        "scale": {"domain": ["up", "down"], "range": [theme.POSITIVE_COLOUR, theme.NEGATIVE_COLOUR]},
                    },
                },
            },
            *_value_labels(13),
        ],
    }
    return chart, labels


# --- Rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """One rendered picture: its file name, bytes and pixel size."""

    name: str
    content: bytes
    width: int
    height: int
    text_id: int | None
    """None for the overview."""


def file_names(text_ids: Sequence[int], fmt: str = "png") -> list[str]:
    """The files a run writes into the picture folder: ``overview`` and ``text-NNN`` per text."""
    digits = max(3, len(str(max(text_ids, default=0))))
    return [f"overview.{fmt}"] + [f"text-{i:0{digits}d}.{fmt}" for i in text_ids]


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def svg_size(data: bytes) -> tuple[int, int]:
    """Width and height attributes of an SVG's root element (rounded up)."""
    head = data[:2000].decode("utf-8", "replace")
    match = re.search(r'<svg[^>]*\bwidth="([\d.]+)"[^>]*\bheight="([\d.]+)"', head)
    if not match:
        raise ValueError("no SVG size")
    return math.ceil(float(match.group(1))), math.ceil(float(match.group(2)))


_TAG = re.compile(r"<[^<>]*>")
_VEGA_ID = re.compile(r'\b(id|clip-path|fill|stroke)="(url\(#)?(clip|gradient_)(\d+)(\)?)"')


def stable_ids(svg: str) -> str:
    """``svg`` with Vega's clip-path and gradient ids numbered from 1 in order of appearance.

    Vega numbers them with counters that live as long as vl-convert's JavaScript runtime, so the
    same picture drawn later in a process (a report saved twice, ``run`` then ``render``) would
    get other ids and other bytes; renumbered, a picture's bytes depend on the picture only.
    Only whole ``id``/``clip-path``/``fill``/``stroke`` attributes inside tags are touched: user
    text (text nodes, labels) is never rewritten.
    """
    numbers: dict[tuple[str, str], int] = {}

    def renumber(match: re.Match[str]) -> str:
        name, url, kind, number, close = match.groups()
        if (kind, number) not in numbers:
            numbers[(kind, number)] = 1 + sum(1 for k in numbers if k[0] == kind)
        return f'{name}="{url or ""}{kind}{numbers[(kind, number)]}{close}"'

    return _TAG.sub(lambda tag: _VEGA_ID.sub(renumber, tag.group(0)), svg)


def render(spec: dict[str, Any], fmt: str = "png") -> tuple[bytes, int, int]:
    """One spec as PNG (at least :data:`MIN_PNG_WIDTH` wide) or SVG; no URL is ever fetched."""
    import vl_convert

    if fmt == "svg":
        content = stable_ids(vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])).encode("utf-8")
        return (content, *svg_size(content))
    if fmt != "png":
        raise ValueError(f"unknown picture format {fmt!r}; expected one of {', '.join(FORMATS)}")
    scale = SCALE
    content = vl_convert.vegalite_to_png(spec, scale=scale, allowed_base_urls=[])
    width, height = png_size(content)
    if width < MIN_PNG_WIDTH:
        scale *= MIN_PNG_WIDTH / width
        content = vl_convert.vegalite_to_png(spec, scale=scale, allowed_base_urls=[])
        width, height = png_size(content)
    return content, width, height


def render_images(report: Report, fmt: str = "png", font: Font | None = None) -> list[Image]:
    """``overview`` and one card per text, as :class:`Image` in :func:`file_names` order."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown picture format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if font is None:
        font = ready_font()
    else:
        check_rendering(font)
    names = file_names([t.text_id for t in report.texts], fmt)
    specs: list[tuple[dict[str, Any], int | None]] = [(overview_spec(report, font), None)]
    specs += [(card_spec(report, text, font), text.text_id) for text in report.texts]
    images = []
    for name, (spec, text_id) in zip(names, specs):
        content, width, height = render(spec, fmt)
        images.append(Image(name, content, width, height, text_id))
    return images


__all__ = [
    "FORMATS",
    "Font",
    "Image",
    "card_spec",
    "check_rendering",
    "file_names",
    "find_font",
    "font_dirs",
    "load_font",
    "overview_spec",
    "png_size",
    "ready_font",
    "render",
    "render_images",
    "render_probe",
    "movers",
    "signed_method",
]
