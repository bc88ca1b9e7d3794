"""A text cut into token spans is made visible exactly as the whole text is.

Found by the hostile-text property test: the tiny model's tokenizer cut a family emoji between
"👨" and "\\u200d👩", and the span starting with the zero-width joiner showed it as a stand-in,
while the same joiner inside the whole text is part of a visible emoji.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from browser import visit
from reportgen.visible import _parts, _stand_in, _stand_ins, visible, visible_parts, visible_pieces, visible_plain
from test_hostile import render_texts  # noqa: F401  (a fixture)

FAMILY = "\U0001F468\u200d\U0001F469"


def test_pieces_split_inside_an_emoji_sequence_render_like_the_whole() -> None:
    pieces = ["§\U0001F468", "\u200d\U0001F469本", "x\u200d", "y"]
    shown = visible_pieces(pieces)
    assert "".join(shown) == str(visible("".join(pieces)))
    assert "\\u200d" not in shown[1]  # the joiner between two emoji stays part of the emoji
    assert "\\u200d" in shown[2]  # a joiner between letters is still shown


def test_every_character_given_a_stand_in_is_not_printable() -> None:
    # visible_parts passes printable text through untouched (str.isprintable, in C): that is
    # only right if no character the rule stands in for is printable. Every code point.
    stood_in = [c for c in map(chr, range(sys.maxunicode + 1)) if _stand_in(c) is not None]
    assert len(stood_in) > 2000 and not any(c.isprintable() for c in stood_in)


@given(st.text(st.characters(codec=None, categories=None), max_size=30) | st.text(max_size=30))
def test_the_printable_shortcut_gives_what_the_rule_gives(text: str) -> None:
    assert visible_parts(text) == _parts(text, _stand_ins(text))


@pytest.mark.parametrize(
    "text", ["\x10}\x83§" + FAMILY + "本\x0f\x895\xa0=>GÚî[¶\U000c1dff\x8a\U0007e05b&", "§" + FAMILY + "本"]
)
def test_highlight_shows_split_emoji_as_the_whole_text(text: str, render_texts, browser) -> None:  # noqa: ANN001, F811
    path, _ = render_texts([text])
    with visit(browser, path, wait_charts=False, wait_texts=True) as page:
        got = page.visible_texts("p.highlight")
    assert got == [visible_plain(text)]
