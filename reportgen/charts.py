"""Chart specifications (Vega-Lite, built with Altair) for the report.

Charts stay data until the page draws them. The per-text charts are *templates*: one spec per
chart kind for the whole report, reading named datasets (``scores``, ``steps``...) and a
``tokens`` parameter that the page fills per text, so a report embeds each spec once instead of
once per text. Expressions in the specs are constants; user text only ever travels as data.
The attention charts are no Vega charts: the page paints the heatmap (one pixel block per cell,
not one SVG element, which stays fast at 512 tokens) and the [CLS]-attention and
attention-received bars on canvases, the first charts a deep-linked text shows, without waiting
for Vega. :data:`VIEWS` and the measures name their panels.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import theme
from .derived import cached as cached_on_disk

if TYPE_CHECKING:
    import altair as alt
else:
    alt = None
    """Altair, imported by :func:`_altair` the first time a spec is not found in the cache: a run
    whose templates are cached never imports it (about 0.4 s of start-up, plus the building)."""

RAW = "raw"
RENORMALISED = "without [CLS]/[SEP], renormalised"
VIEWS = [RAW, RENORMALISED]
CLS_MEASURE = "[CLS] attention"
RECEIVED_MEASURE = "attention received"
TOKEN_LABEL = "tokens[datum.value]"
TOKEN_STEP = 13
"""Pixels per token on token axes: a 34-token text's two heatmap panels fit a laptop screen."""
TITLE = "chartTitle"
"""The parameter every chart's title reads: the page sets it per chart (method; layer and head;
raw or renormalised), so a screenshot of the chart alone says what it shows. Page-made text,
set as a signal value: never markup or an expression."""


def _altair() -> Any:
    """Import Altair into this module's ``alt``, which every builder reads, before the first build."""
    global alt
    if alt is None:
        import altair

        alt = altair
    return alt


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str | None:
    """What a spec depends on besides its arguments: this module's and the theme's code, and
    Altair; None where the code cannot be read (a zipped install): specs are then not cached."""
    digest = hashlib.sha256()
    try:
        for module in (__file__, theme.__file__):
            digest.update(Path(module).read_bytes())
    except (OSError, TypeError):
        return None
    try:
        digest.update(metadata.version("altair").encode())
    except metadata.PackageNotFoundError:
        pass
    return digest.hexdigest()


def _once(build: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Build (and have Altair validate against the Vega-Lite schema, most of a small report's
    rendering time) each spec once per process for its arguments, and keep it in the on-disk
    cache of :mod:`reportgen.derived` (keyed by this module's code, the theme's and Altair's
    version) for the next process; callers get their own copy. The specs are constants of their
    arguments, so a notebook or a test session that renders many reports pays for them once."""

    def frozen(value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @functools.lru_cache(maxsize=64)
    def known(*args: Any, **kwargs: Any) -> dict[str, Any]:
        def make() -> str:
            _altair()
            return json.dumps(build(*args, **kwargs))

        fingerprint = _fingerprint()
        if fingerprint is None:
            return json.loads(make())
        key = json.dumps([build.__name__, args, sorted(kwargs.items()), fingerprint])
        return json.loads(cached_on_disk("chart-spec", key, make))

    @functools.wraps(build)
    def spec(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(known(*map(frozen, args), **{k: frozen(v) for k, v in kwargs.items()}))

    return spec


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec = _titled(chart).to_dict()
    # The schema URL is metadata only; leaving it out keeps the page free of URLs.
    spec.pop("$schema", None)
    return spec


def _tokens_param() -> alt.Parameter:
    return alt.param(name="tokens", value=[])


def _titled(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """The chart with its title read from the :data:`TITLE` parameter (set by the page)."""
    title = alt.TitleParams(text=alt.ExprRef(TITLE), anchor="start", fontSize=13, fontWeight=600, offset=8, limit=0)
    return chart.properties(title=title).add_params(alt.param(name=TITLE, value=""))


@_once
def predictions_spec(label: str, with_gold: bool) -> dict[str, Any]:
    """One bar per text (its prediction), with the gold score as a tick where given.

    For a few texts only (see ``page.BAR_CHART_TEXTS``); the page fills the ``predictions``
    dataset with one row per text: ``id`` ("#3"), ``text`` (3), ``prediction``, ``gold``.
    """
    base = alt.Chart(alt.NamedData("predictions")).encode(
        y=alt.Y("id:N", sort=alt.EncodingSortField(field="text", op="min", order="ascending"), title="text")
    )
    bars = base.mark_bar(color=theme.PREDICTION_COLOUR, cursor="pointer").encode(
        x=alt.X("prediction:Q", title=label),
        tooltip=[alt.Tooltip("id:N", title="text"), alt.Tooltip("prediction:Q", format=".4f")],
    )
    layers: list[alt.Chart] = [bars]
    if with_gold:
        layers.append(
            base.transform_filter("isValid(datum.gold)").mark_tick(color=theme.GOLD_COLOUR, thickness=2, cursor="pointer").encode(
                x="gold:Q", tooltip=[alt.Tooltip("id:N", title="text"), alt.Tooltip("gold:Q", format=".4f")]
            )
        )
    chart = alt.layer(*layers).properties(width=420, height=alt.Step(14))
    return _spec(chart)


@_once
def distribution_spec(label: str, with_gold: bool) -> dict[str, Any]:
    """How the predictions (and the gold scores) are distributed: readable at any number of texts.

    A histogram over the same ``predictions`` dataset; clicking a bar filters the overview
    table to that range.
    """
    series = ["prediction", "gold"] if with_gold else ["prediction"]
    chart = (
        alt.Chart(alt.NamedData("predictions"))
        .transform_fold(series, as_=["series", "value"])
        .transform_filter("isValid(datum.value)")
        .mark_bar(opacity=0.6, binSpacing=1, cursor="pointer")
        .encode(
            x=alt.X("value:Q", bin=alt.Bin(maxbins=40), title=label),
            y=alt.Y("count():Q", stack=None, title="texts"),
            color=alt.Color(
                "series:N",
                scale=alt.Scale(domain=series, range=[theme.PREDICTION_COLOUR, theme.GOLD_COLOUR][: len(series)]),
                legend=alt.Legend(title=None, orient="top") if with_gold else None,
            ),
            tooltip=[
                alt.Tooltip("series:N", title="of"),
                alt.Tooltip("value:Q", bin=alt.Bin(maxbins=40), title="range", format=".3f"),
                alt.Tooltip("count():Q", title="texts"),
            ],
        )
        .properties(width=560, height=160)
    )
    return _spec(chart)


# --- Explanation methods -------------------------------------------------------------------
# Every score is divided by its method's report-wide scale (see report.method_scale) before it
# reaches a chart, so a colour means the same depth on every text. Signed methods use the
# zero-centred diverging scale (red: pushes the output up; blue: pulls it down); never-negative
# methods (attention-based ones) the sequential greens from 0, on an axis from 0 (no half of
# their row is spent on negative values they cannot have).
def _diverging() -> alt.Scale:
    return alt.Scale(scheme=theme.DIVERGING_SCHEME, domain=[-1, 1], reverse=True)


def _sequential() -> alt.Scale:
    return alt.Scale(scheme=theme.SEQUENTIAL_SCHEME, domain=[0, 1])


SIGNED_KEY = "signed score ÷ method scale: red pushes the output up, blue pulls it down"
UNSIGNED_KEY = "never-negative score ÷ method scale"


@_once
def methods_spec() -> dict[str, Any]:
    """Every method's token scores side by side: one row of bars per method.

    Rows are ``{method, order, pos, token, value, rel, signed}``; ``signed`` (true/false) picks
    the colour scale and the row's axis (-1 to 1, or 0 to 1).
    """
    base = alt.Chart().encode(
        x=alt.X("pos:O", title=None, axis=alt.Axis(labelExpr=TOKEN_LABEL, labelAngle=-60, labelLimit=90)),
        y=alt.Y("rel:Q", title=None, axis=alt.Axis(tickCount=3, format=".1f")),
        tooltip=[
            alt.Tooltip("method:N", title="method"),
            alt.Tooltip("token:N", title="token"),
            alt.Tooltip("value:Q", title="score", format=".4g"),
            alt.Tooltip("rel:Q", title="relative to the method's scale", format=".3f"),
        ],
    )
    signed = base.transform_filter("datum.signed").mark_bar().encode(
        color=alt.Color("rel:Q", scale=_diverging(), legend=alt.Legend(title=SIGNED_KEY, orient="top", titleLimit=0, gradientLength=160))
    )
    # The never-negative rows colour by ``fill``, a channel of its own: the two keys are then two
    # scales that every row shares, each drawn once above the rows. (Two ``color`` scales would
    # have to be resolved "independent", which draws both keys again above every method's row.)
    unsigned = base.transform_filter("!datum.signed").mark_bar().encode(
        fill=alt.Fill("rel:Q", scale=_sequential(), legend=alt.Legend(title=UNSIGNED_KEY, orient="top", titleLimit=0, gradientLength=160))
    )
    # Each row's axis: -1 to 1 for a signed method, 0 to 1 for a never-negative one (two
    # invisible rules per method, so a row never shrinks to its largest score either).
    extent = (
        alt.Chart()
        .transform_aggregate(signed="max(signed)", groupby=["method", "order"])
        .transform_calculate(low="datum.signed ? -1 : 0", high="1")
        .mark_rule(opacity=0)
        .encode(y="low:Q", y2="high:Q")
    )
    chart = (
        alt.layer(signed, unsigned, extent, data=alt.NamedData("scores"))
        .properties(width=alt.Step(TOKEN_STEP), height=60)
        .facet(row=alt.Row("method:N", sort=alt.SortField("order"), title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
        .resolve_scale(y="independent")
        .add_params(_tokens_param())
    )
    return _spec(chart)


@_once
def waterfall_spec() -> dict[str, Any]:
    """Integrated Gradients as a walk from f(baseline), token by token, to f(x).

    Token steps are floating bars from the running total before to after; f(baseline) and f(x)
    are level marks, so small contributions stay visible next to a large output.
    """
    base = alt.Chart(alt.NamedData("steps")).encode(
        x=alt.X("step:O", title=None, axis=alt.Axis(labelExpr=TOKEN_LABEL, labelAngle=-60, labelLimit=90)),
        tooltip=[
            alt.Tooltip("label:N", title="step"),
            alt.Tooltip("value:Q", title="contribution / value", format="+.4g"),
            alt.Tooltip("end:Q", title="running total", format=".4g"),
        ],
    )
    colour = alt.Color(
        "kind:N",
        scale=alt.Scale(domain=["up", "down", "total"], range=[theme.POSITIVE_COLOUR, theme.NEGATIVE_COLOUR, theme.TOTAL_COLOUR]),
        legend=alt.Legend(title=None, orient="bottom"),
    )
    bars = base.transform_filter("datum.kind != 'total'").mark_bar().encode(
        y=alt.Y("start:Q", title="model output", scale=alt.Scale(zero=False)), y2="end:Q", color=colour
    )
    levels = base.transform_filter("datum.kind == 'total'").mark_tick(thickness=3, size=14).encode(y="end:Q", color=colour)
    return _spec(alt.layer(bars, levels).properties(width=alt.Step(TOKEN_STEP), height=160).add_params(_tokens_param()))


@_once
def deletion_spec() -> dict[str, Any]:
    """Output after removing each method's top tokens (one step per token count, x in % of the
    text's tokens), against the random-order band."""
    band = (
        alt.Chart(alt.NamedData("band"))
        .mark_area(opacity=0.25, color=theme.REFERENCE_COLOUR)
        .encode(
            x=alt.X("pct:Q", title="tokens removed (% of the text's tokens, top first by the method's ranking)"),
            y=alt.Y("lo:Q", title="model output", scale=alt.Scale(zero=False)),
            y2="hi:Q",
            tooltip=[alt.Tooltip("pct:Q", title="k %"), alt.Tooltip("lo:Q", format=".4g"), alt.Tooltip("hi:Q", format=".4g")],
        )
    )
    lines = (
        alt.Chart(alt.NamedData("curves"))
        .mark_line(point=True)
        .encode(
            x="pct:Q",
            y="f:Q",
            color=alt.Color("method:N", sort=alt.SortField("order"), scale=alt.Scale(scheme=theme.CATEGORY_SCHEME), legend=alt.Legend(title=None, orient="right")),
            strokeDash=alt.StrokeDash("reference:N", legend=None),
            tooltip=[alt.Tooltip("method:N"), alt.Tooltip("pct:Q", title="k %"), alt.Tooltip("f:Q", title="output", format=".4g")],
        )
    )
    return _spec(alt.layer(band, lines).properties(width=360, height=200))


AGREEMENT_DARK = 0.7
"""|rho| beyond which an agreement cell is dark enough that white digits contrast more than black
(the redblue scheme's luminance crosses 0.18 between its 0.6 and 0.8 stops on either side)."""


@_once
def agreement_spec(methods: Sequence[str]) -> dict[str, Any]:
    """Spearman correlation between methods' token rankings: the report mean or one text's."""
    base = alt.Chart(alt.NamedData("agreement")).encode(
        x=alt.X("a:N", sort=list(methods), title=None, axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("b:N", sort=list(methods), title=None),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("rho:Q", scale=_diverging(), title="Spearman ρ"),
        tooltip=[alt.Tooltip("a:N", title="method"), alt.Tooltip("b:N", title="vs"), alt.Tooltip("rho:Q", format=".2f"), alt.Tooltip("texts:Q", title="texts averaged")],
    )
    # Black on the light middle of the scale, white on its dark ends (|rho| above 0.7),
    # where black digits on dark red or blue are hard to read.
    labels = base.mark_text(fontSize=11).encode(
        text=alt.Text("rho:Q", format=".2f"),
        color=alt.condition(f"abs(datum.rho) > {AGREEMENT_DARK}", alt.value("#ffffff"), alt.value(theme.INK_COLOUR)),
    )
    return _spec(alt.layer(cells, labels).properties(width=alt.Step(70), height=alt.Step(28)))


# --- Words across all texts ----------------------------------------------------------------

CORPUS_DIRECTIONS = ["raises", "lowers"]


@_once
def corpus_spec() -> dict[str, Any]:
    """The words that most raise and most lower the output over all texts: mean score per
    occurrence with its 95% interval. Rows (named dataset ``words``) come from the page, which
    picks them with the reader's minimum count; labels travel in the ``tokens`` parameter."""
    base = alt.Chart(alt.NamedData("words")).encode(
        y=alt.Y("rank:O", title=None, axis=alt.Axis(labelExpr=TOKEN_LABEL, labelLimit=140, labelFontSize=12, ticks=False)),
        tooltip=[
            alt.Tooltip("word:N", title="word (dictionary form)"),
            alt.Tooltip("mean:Q", title="mean per occurrence", format="+.4g"),
            alt.Tooltip("lo:Q", title="95% interval from", format="+.4g"),
            alt.Tooltip("hi:Q", title="95% interval to", format="+.4g"),
            alt.Tooltip("n:Q", title="texts"),
        ],
    )
    bars = base.mark_bar().encode(
        x=alt.X("mean:Q", title="mean attribution per occurrence (95% interval)"),
        color=alt.Color(
            "dir:N",
            scale=alt.Scale(domain=CORPUS_DIRECTIONS, range=[theme.POSITIVE_COLOUR, theme.NEGATIVE_COLOUR]),
            legend=alt.Legend(title=None, orient="bottom"),
        ),
    )
    intervals = base.mark_rule(color=theme.TOTAL_COLOUR).encode(x="lo:Q", x2="hi:Q")
    return _spec(alt.layer(bars, intervals).properties(width=360, height=alt.Step(16)).add_params(_tokens_param()))
