"""The report's colours, in one place: the charts, the text highlight and the page script read them.

Two kinds of colour carry meaning. The diverging pair says *direction* (red: the score pushes
the output up, or draws attention; blue: it pushes the output down), at a depth given by the
score divided by its method's report-wide scale. The token pair tells special tokens
([CLS]/[SEP]) from content tokens in the attention bar charts.
"""

from __future__ import annotations

POSITIVE_RGB = (214, 96, 77)
"""Red: the score pushes the output up (or the token draws attention)."""
NEGATIVE_RGB = (67, 147, 195)
"""Blue: the score pushes the output down."""
MAX_ALPHA = 0.85
"""Opacity of the text highlight at the end of a method's scale."""
TOTAL_COLOUR = "#374151"
"""Levels that are totals, not contributions: f(baseline) and f(x) in the waterfall."""
SPECIAL_COLOUR = "#9e9e9e"
CONTENT_COLOUR = "#2b6cb0"
GOLD_COLOUR = "#c05621"
REFERENCE_COLOUR = "#9e9e9e"
"""The random-order band of the deletion curves."""
DIVERGING_SCHEME = "redblue"
"""Vega's scheme for signed values (reversed so that positive is red), matching the two RGBs."""
SEQUENTIAL_SCHEME = "blues"
"""Vega's name of the heatmap's colour scheme (the stops below)."""
_BLUES = "cfe1f2bed8eca8cee58fc1de74b2d75ba3cf4592c63181bd206fb2125ca40a4a90"
HEATMAP_STOPS = tuple("#" + _BLUES[i : i + 6] for i in range(0, len(_BLUES), 6))
"""Vega's "blues" scheme as its 11 stops (interpolated linearly in RGB, as Vega does): the page
paints attention heatmaps on a canvas with these, from weight 0 to the panel's largest weight."""


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


POSITIVE_COLOUR = hex_colour(POSITIVE_RGB)
NEGATIVE_COLOUR = hex_colour(NEGATIVE_RGB)


def shade(relative: float) -> str:
    """CSS background for a score already divided by its method's report-wide scale.

    The page's script recolours with the same constants (sent in the page data) when the reader
    picks another method.
    """
    value = max(-1.0, min(1.0, float(relative)))
    red, green, blue = POSITIVE_RGB if value >= 0 else NEGATIVE_RGB
    return f"rgba({red}, {green}, {blue}, {abs(value) * MAX_ALPHA:.3f})"
