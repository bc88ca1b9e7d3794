"""User text made visible: invisible and control characters shown as stand-ins.

Owns the one rule for showing text that came from a user: escaped HTML, and every character a
browser would hide (or use to reorder the text around it) replaced by a visible stand-in.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from markupsafe import Markup, escape

# A browser shows NUL and other C0/C1 controls, bidi overrides, zero-width and other format
# characters as nothing (or lets them reorder the text around them), and the HTML parser
# itself rewrites NUL and CR. User text is therefore shown with each such character replaced
# by a visible stand-in: C0 controls and DEL as their Unicode "control pictures" (U+2400..),
# everything else spelled out as \uXXXX. Tab and newline stay (the text is pre-wrap).
# A zero-width joiner inside an emoji sequence and the tag characters of a flag sequence
# stay too: they are part of a visible emoji there.
_FLAG_TAGS = re.compile("\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F")
_ZWJ = "\u200d"


def _stand_in(char: str) -> str | None:
    code = ord(char)
    if char in "\t\n":
        return None
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if (
        unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp")
        or 0xFDD0 <= code <= 0xFDEF
        or (code & 0xFFFE) == 0xFFFE
    ):
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return None


def _emoji_like(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sk") or char == "\ufe0f"


def _stand_ins(text: str) -> list[str | None]:
    """Per character of ``text``: its stand-in, or None where it is shown as it is."""
    keep = set()
    for match in _FLAG_TAGS.finditer(text):
        keep.update(range(match.start() + 1, match.end()))
    out: list[str | None] = []
    for i, char in enumerate(text):
        shown = None if i in keep else _stand_in(char)
        if char == _ZWJ and 0 < i < len(text) - 1 and _emoji_like(text[i - 1]) and _emoji_like(text[i + 1]):
            shown = None
        out.append(shown)
    return out


def _parts(text: str, stand_ins: Sequence[str | None]) -> list[tuple[str, bool]]:
    parts: list[tuple[str, bool]] = []
    plain: list[str] = []
    for char, shown in zip(text, stand_ins):
        if shown is None:
            plain.append(char)
            continue
        if plain:
            parts.append(("".join(plain), False))
            plain = []
        parts.append((shown, True))
    if plain:
        parts.append(("".join(plain), False))
    return parts


def visible_parts(text: str) -> list[tuple[str, bool]]:
    """``text`` as runs of ``(shown, escaped)``: escaped runs are one stand-in each."""
    # Nearly every token and word is printable (no character of categories Cc, Cf, Cs, Zl, Zp
    # or unassigned, where the noncharacters are): nothing to stand in, and str.isprintable says
    # so in C, where the per-character rule costs a page of 1,000 texts about a second.
    if text.isprintable():
        return [(text, False)] if text else []
    return _parts(text, _stand_ins(text))


def visible_plain(text: object) -> str:
    """Plain text with every invisible or control character replaced by its stand-in
    (for attributes, ``<title>`` and chart data, where no markup is possible)."""
    return "".join(shown for shown, _ in visible_parts(str(text)))


def visible(text: object) -> Markup:
    """HTML for user text: escaped, with each invisible or control character shown as a
    stand-in inside ``<span class="ctl" title="U+XXXX NAME">``."""
    raw = str(text)
    return _markup(raw, visible_parts(raw))


def visible_parts_of_pieces(pieces: Sequence[str]) -> list[list[tuple[str, bool]]]:
    """:func:`visible_parts` of each consecutive piece of one text, decided *within the whole
    text* (see :func:`visible_pieces`): the page's highlight runs."""
    whole = "".join(pieces)
    decisions = _stand_ins(whole)
    out: list[list[tuple[str, bool]]] = []
    start = 0
    for piece in pieces:
        end = start + len(piece)
        out.append(_parts(piece, decisions[start:end]))
        start = end
    return out


def visible_pieces(pieces: Sequence[str]) -> list[Markup]:
    """Consecutive pieces of one text, each as :func:`visible` shows it *within the whole text*.

    The highlight cuts a text into token spans; a zero-width joiner between two emoji that a
    token boundary separates is still part of a visible emoji, so the decision is taken on the
    joined text, exactly as :func:`visible_plain` of the whole text takes it.
    """
    whole = "".join(pieces)
    decisions = _stand_ins(whole)
    out: list[Markup] = []
    start = 0
    for piece in pieces:
        end = start + len(piece)
        out.append(_markup(piece, _parts(piece, decisions[start:end])))
        start = end
    return out


def _markup(raw: str, parts: list[tuple[str, bool]]) -> Markup:
    out: list[str] = []
    index = 0
    for shown, escaped in parts:
        if escaped:
            char = raw[index]
            name = unicodedata.name(char, "")
            title = f"U+{ord(char):04X} {name}".strip()
            out.append(f'<span class="ctl" title="{escape(title)}">{escape(shown)}</span>')
            index += 1
        else:
            out.append(str(escape(shown)))
            index += len(shown)
    return Markup("".join(out))
