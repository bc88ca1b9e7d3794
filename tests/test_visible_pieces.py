"""A text cut into token spans is made visible exactly as the whole text is.

Found by the hostile-text property test: the tiny model's tokenizer cut a family emoji between
"👨" and "\\u200d👩", and the span starting with the zero-width joiner showed it as a stand-in,
while the same joiner inside the whole text is part of a visible emoji.
"""

from __future__ import annotations

import pytest

from browser import visit
from reportgen.visible import visible, visible_pieces, visible_plain
from test_hostile import render_texts  # noqa: F401  (a fixture)

FAMILY = "\U0001F468\u200d\U0001F469"


def test_pieces_split_inside_an_emoji_sequence_render_like_the_whole() -> None:
    pieces = ["§\U0001F468", "\u200d\U0001F469本", "x\u200d", "y"]
    shown = visible_pieces(pieces)
    assert "".join(shown) == str(visible("".join(pieces)))
    assert "\\u200d" not in shown[1]  # the joiner between two emoji stays part of the emoji
    assert "\\u200d" in shown[2]  # a joiner between letters is still shown


@pytest.mark.parametrize(
    "text", ["\x10}\x83§" + FAMILY + "本\x0f\x895\xa0=>GÚî[¶\U000c1dff\x8a\U0007e05b&", "§" + FAMILY + "本"]
)
def test_highlight_shows_split_emoji_as_the_whole_text(text: str, render_texts, browser) -> None:  # noqa: ANN001, F811
    path, _ = render_texts([text])
    with visit(browser, path, wait_charts=False, wait_texts=True) as page:
        got = page.visible_texts("p.highlight")
    assert got == [visible_plain(text)]
