"""The report's colours, in one place: the charts, the text highlight and the page script read them.

Two scales carry meaning, and they never share a hue:

- the *diverging* red/blue pair says direction for signed scores (red: the score pushes the
  output up; blue: it pulls the output down), at a depth given by the score divided by its
  method's report-wide scale;
- the *sequential* greens say "how much" for scores that are never negative: attention weights
  (heatmaps, the [CLS]/received bar charts) and unsigned methods (attention-based ones) in the
  text highlight and the per-method rows, from white (0) to dark green (the method's scale).

Neutral slate draws values that carry no direction (predictions), grey the special tokens
([CLS]/[SEP]) and the random reference. Every coloured view has its key on the page.
"""

from __future__ import annotations

POSITIVE_RGB = (214, 96, 77)
"""Red: the score pushes the output up (or the token draws attention)."""
NEGATIVE_RGB = (67, 147, 195)
"""Blue: the score pushes the output down."""
SEQUENTIAL_RGB = (35, 139, 69)
"""Green: how much for a never-negative score (attention, unsigned methods): text highlight."""
MAX_ALPHA = 0.85
"""Opacity of the text highlight at the end of a method's scale."""
INK_COLOUR = "#1a202c"
"""Text on light chart cells (the page's ink, report.css ``--ink``)."""
TOTAL_COLOUR = "#374151"
"""Levels that are totals, not contributions: f(baseline) and f(x) in the waterfall."""
SPECIAL_COLOUR = "#9e9e9e"
ATTENTION_COLOUR = "#238b45"
"""Content tokens' bars in the attention bar charts (a never-negative weight: the sequential hue)."""
PREDICTION_COLOUR = "#4a5568"
"""Predictions (overview chart, picture overview): a value, not a direction, so neither red nor blue."""
GOLD_COLOUR = "#c05621"
REFERENCE_COLOUR = "#9e9e9e"
"""The random-order band of the deletion curves."""
DIVERGING_SCHEME = "redblue"
"""Vega's scheme for signed values (reversed so that positive is red), matching the two RGBs."""
SEQUENTIAL_SCHEME = "greens"
"""Vega's name of the sequential scheme (the per-method rows of unsigned methods)."""
_GREENS = "f7fcf5d3eecdc0e6baabdda594d3917bc77d60ba6c46ab5e329a512089430e7735036429"
HEATMAP_STOPS = tuple("#" + _GREENS[i : i + 6] for i in range(0, len(_GREENS), 6))
"""Near-white, then Vega's "greens" scheme (11 stops, interpolated linearly in RGB, as Vega
does): the page paints attention heatmaps on a canvas with these, from weight 0 to the panel's
largest weight, and draws the same ramp as their key."""


CATEGORY_SCHEME = "dark2"
"""Vega's scheme for telling methods apart (deletion curves): no pure red or blue, so a method's
line is never read as "pushes up" or "pulls down"."""


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


POSITIVE_COLOUR = hex_colour(POSITIVE_RGB)
NEGATIVE_COLOUR = hex_colour(NEGATIVE_RGB)
SEQUENTIAL_COLOUR = hex_colour(SEQUENTIAL_RGB)


def shade(relative: float, signed: bool = True) -> str:
    """CSS background for a score already divided by its method's report-wide scale: red/blue
    by sign for a signed method, green for a never-negative one.

    The page's script recolours with the same constants (sent in the page data) when the reader
    picks another method.
    """
    value = max(-1.0, min(1.0, float(relative)))
    red, green, blue = SEQUENTIAL_RGB if not signed else POSITIVE_RGB if value >= 0 else NEGATIVE_RGB
    return f"rgba({red}, {green}, {blue}, {abs(value) * MAX_ALPHA:.3f})"
