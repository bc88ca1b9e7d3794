"""The page contract: the one JSON block the page's script reads, typed, and how it is built.

Owns what travels from Python to ``templates/report.js``: chart templates (once per report),
the colour theme, an overview of every text (columns of plain values, plus one compressed block
of the texts for search), and three compressed blocks per text: its detail (tokens, the
highlighted text, every method's scores, bars, deletion curves, agreement: :class:`TextData`),
its view (the codes of the heatmap it opens with: the last layer's head mean) and its attention
codes at the rung of the size ladder it keeps (see :mod:`reportgen.budget`).
Blocks are zlib streams in base64, which the page inflates with the browser's own
``DecompressionStream``. The TypedDicts below are the contract: ``report.js`` reads exactly
these keys. User text only ever travels here as data.

The per-text blocks do not travel inside the JSON: :func:`block_elements` writes them as one
hidden element each (``<div id="detail-N">``, ``id="view-N"``, ``id="attention-N"``), every
text's detail and view first, then every text's attention, after
the page's script and the Vega bundle (itself inert: the page runs it when it first draws a
Vega chart). The page can then show a deep-linked text's answer (its detail block) as soon as
the HTML parser has passed that element, after the details and views before it, and draw its
heatmap and Vega charts before the attention blocks (most of the file) are parsed; only another
layer or head waits for its attention element.

:func:`fit` picks every text's rung so that the file stays within ``--max-size``.
"""

from __future__ import annotations

import functools
import json
import math
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence, TypedDict

from . import budget, charts, theme
from .derived import cached
from .report import Report, TextReport
from .visible import visible_parts, visible_parts_of_pieces, visible_plain

SEARCH_CHARS = 1000
"""The overview's text search reads each text's first this many characters."""
BAR_CHART_TEXTS = 40
"""Up to this many texts the overview chart is one labelled bar per text; beyond, a histogram."""


class MethodValues(TypedDict):
    rel: list[float | None]
    """Each token's score divided by the method's report-wide scale, in [-1, 1]."""
    value: list[float | None]
    """Each token's score in the method's own unit (hover text)."""


class BarValues(TypedDict):
    """Last layer, heads averaged, exact (the bar charts of a text that keeps no matrix)."""

    cls: list[float | None]
    received: list[float | None]
    clsRenorm: list[float | None]
    receivedRenorm: list[float | None]


class IntegratedGradientsData(TypedDict):
    baseline: float | None
    explained: float | None
    delta: float | None
    deltaRelative: float | None
    warn: int
    steps: int | None
    """Integration steps this text used (None: not recorded)."""


class WordFaithData(TypedDict):
    """Faithfulness measured by masking whole words; per-method lists follow ``PageData.methodTitles``."""

    comprehensiveness: list[float | None]
    sufficiency: list[float | None]
    random: list[float | None]
    """Random reference: comprehensiveness, its spread, sufficiency, its spread."""


class MoversData(TypedDict):
    """A text's top movers by the report's signed default method, for one unit."""

    unit: str
    """``"words"`` or ``"pieces"``."""
    method: str
    up: list[list[Any]]
    """``[label, value]`` pairs, label made visible."""
    down: list[list[Any]]


class FaithData(TypedDict):
    """This text's faithfulness; per-method lists follow ``PageData.methodTitles`` (None: not measured)."""

    f0: float | None
    """f(x): the unperturbed text, where every deletion curve starts."""
    without: list[list[float | None] | None]
    """Per method, f after removing its top ``removed[s]`` tokens, one value per step."""
    randomMean: list[float | None]
    randomStd: list[float | None]
    comprehensiveness: list[float | None]
    sufficiency: list[float | None]
    random: list[float | None]
    """Random reference: comprehensiveness, its spread, sufficiency, its spread."""
    normalised: int
    normaliser: float | None
    removed: list[int]
    """Per step, the tokens removed (``without``, ``randomMean``) or kept."""
    content: int
    """The text's removable tokens: step ``k`` removes ``100 * removed[k] / content`` %."""
    verdict: list[float | None] | None
    """``[beats, score, random score]``: does the default-shaded method (``PageData.highlight``)
    beat the random orders on this text (1/0), by comprehensiveness minus sufficiency; None when
    not measured."""
    words: WordFaithData | None
    """The same measures masking whole words (None: no words)."""


Run = Any
"""A run of visible text: a string, or ``[stand-in, title]`` for one invisible or control character."""


class WordsData(TypedDict):
    """One text's words: labels for the method bars, every method's word scores."""

    mode: str
    """``"ja"`` or ``"space"``."""
    labels: list[str]
    """Each word's surface, made visible (chart labels, hover text)."""
    lemmas: list[str]
    methods: dict[str, MethodValues]
    """Per method, one value per word (None: no token reaches the word)."""


class TextData(TypedDict):
    """One text's detail block (inflated and parsed by the page when the text is opened)."""

    id: int
    n: int
    source: str
    tokens: list[str]
    pieces: list[str]
    special: list[int]
    spans: list[list[Any]]
    """The text cut at token boundaries: ``[position or -1, run, run, ...]``."""
    spanWord: list[int]
    """Per span, the word it belongs to (-1: none), for the words view of the highlight."""
    dropped: list[Run]
    """The end that truncation cut off (runs), empty when nothing was cut."""
    methods: dict[str, MethodValues]
    bars: BarValues
    ig: IntegratedGradientsData | None
    faith: FaithData | None
    agreement: list[float | None] | None
    """Spearman rho between methods on this text, row-major over ``PageData.agreementMethods``."""
    words: WordsData | None
    """Word-level scores (None: pieces only); in the detail block, so a text kept as its
    overview row only has no word data either."""
    unit: str
    """What the text shows first: ``"words"`` or ``"pieces"``."""
    movers: list[MoversData]


class OverviewData(TypedDict):
    """One entry per text, input order: the overview table and chart (never compressed away)."""

    id: list[int]
    prediction: list[float | None]
    label: list[str | None]
    """Classification: the predicted class (``prediction`` is its probability); else None."""
    gold: list[float | None]
    tokens: list[int]
    fullLength: list[int]
    truncated: list[int]
    igWarn: list[int]
    top: list[list[str]]
    topSign: list[list[int]]
    """Per top token: 1 where the highlight's score raises the output, -1 where it lowers it, 0
    for a never-negative method (no direction)."""
    rung: list[int]
    """The rung of the size ladder each text keeps (0 = full detail ... 4 = this row only)."""
    texts: str
    """Compressed JSON list of each text as shown (its first ``SEARCH_CHARS`` characters)."""


class AgreementData(TypedDict):
    rho: list[float | None]
    """Mean Spearman rho over texts, row-major over ``PageData.agreementMethods``."""
    texts: list[int]
    """Texts averaged into each cell."""


class CorpusRow(TypedDict):
    lemma: str
    surfaces: list[str]
    n: int
    """Texts the word occurs in."""
    occ: int
    mean: float | None
    total: float | None
    lo: float | None
    hi: float | None
    share: float | None
    ids: list[int]
    """The texts containing the word (their ``id``)."""


class CorpusText(TypedDict):
    id: int
    preview: str
    """The start of the text, made visible (shown with textContent)."""


class CorpusData(TypedDict):
    method: str
    title: str
    minTexts: int
    """The minimum count the lists start with (the reader can change it)."""
    k: int
    """Words per list."""
    words: list[CorpusRow]
    """Every word (dictionary form), largest share of |attribution| first."""
    texts: list[CorpusText]


class ShadeTheme(TypedDict):
    positive: tuple[int, int, int]
    negative: tuple[int, int, int]
    sequential: tuple[int, int, int]
    """Never-negative methods shade the text in this hue (``theme.SEQUENTIAL_RGB``)."""
    maxAlpha: float
    total: str
    """Totals in the from-baseline-to-f(x) walk (``theme.TOTAL_COLOUR``)."""


class BudgetData(TypedDict):
    maxMb: str | None
    """``--max-size`` in MB, None when unlimited."""
    fullMb: str
    """The ``--max-size`` that would keep every text in full detail."""
    rungNames: list[str]
    leftOut: list[str]


class TargetData(TypedDict):
    """What the model predicts (``ModelInfo.target_*``): each text's heading names it."""

    name: str | None
    range: list[float] | None
    """``[low, high]`` of the scale, or None."""
    description: str | None


class PageData(TypedDict):
    task: str
    target: TargetData
    predictionLabel: str
    faithFast: int
    """1 when faithfulness ran with ``--faithfulness fast`` (the steps note says so)."""
    layers: int
    heads: int
    views: list[str]
    measures: list[str]
    specs: dict[str, dict]
    """Chart templates by kind, compiled to Vega once (see :func:`vega_spec`): each filled per
    text with the values of its named data sources and the ``tokens`` signal."""
    methodTitles: list[list[str]]
    methodSigned: list[int]
    """Per method (``methodTitles`` order): 1 when its scores have a sign (red/blue), 0 when
    never negative (greens from 0)."""
    methodScales: list[list[float | None]]
    """Per method: the report-wide scale of its token scores and of its word scores (None: no
    words): the score the colour key names as full colour."""
    highlight: str
    """The method each text is shaded by first (``Report.highlight``)."""
    agreementMethods: list[str]
    agreement: AgreementData | None
    shade: ShadeTheme
    heat: list[str]
    """The heatmap's colour stops (``theme.HEATMAP_STOPS``), from weight 0 to the panel's maximum."""
    barColours: list[str]
    """The bar charts' colours: [CLS]/[SEP] tokens, other tokens (the page paints those charts)."""
    budget: BudgetData
    overview: OverviewData
    blocks: list[list[str | None]]
    """Per text (input order): [detail block, view block, attention block], each base64 zlib or
    None. In the page they are :func:`block_elements`, not a key of the JSON block (see
    :func:`page_json`)."""
    corpus: CorpusData | None


def _round(value: float | None, digits: int = 5) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(float(value), digits)


def _rounds(values: Sequence[float | None], digits: int = 5) -> list[float | None]:
    return [_round(v, digits) for v in values]


def runs(text: str) -> list[Run]:
    """User text as runs the page shows with ``textContent`` only: plain strings, and one
    ``[stand-in, "U+XXXX NAME"]`` per character a browser would hide (see :mod:`visible`)."""
    return _as_runs(text, visible_parts(text))


def _as_runs(text: str, parts: Iterable[tuple[str, bool]]) -> list[Run]:
    """``text`` cut into ``parts`` (shown, escaped) as runs: an escaped part stands for one
    character of ``text`` and carries that character's code point and name."""
    out: list[Run] = []
    index = 0
    for shown, escaped in parts:
        if escaped:
            char = text[index]
            out.append([shown, f"U+{ord(char):04X} {unicodedata.name(char, '')}".strip()])
            index += 1
        else:
            out.append(shown)
            index += len(shown)
    return out


def _word_faith(report: Report, text: TextReport) -> WordFaithData | None:
    words = text.words
    if words is None or words.random_reference is None:
        return None
    reference = words.random_reference
    measured = {s.method: s.faithfulness for s in words.scores}
    names = [m.name for m in report.methods]
    return {
        "comprehensiveness": [_round(measured[n].comprehensiveness) if measured.get(n) else None for n in names],
        "sufficiency": [_round(measured[n].sufficiency) if measured.get(n) else None for n in names],
        "random": [
            _round(reference.comprehensiveness), _round(reference.comprehensiveness_std),
            _round(reference.sufficiency), _round(reference.sufficiency_std),
        ],
    }


def _runs(pieces: Sequence[str]) -> list[list[Run]]:
    """:func:`runs` of consecutive pieces of one text, made visible within the whole text (a
    token boundary inside an emoji sequence does not turn its joiner into a stand-in)."""
    return [_as_runs(piece, parts) for piece, parts in zip(pieces, visible_parts_of_pieces(pieces))]


def _faith(report: Report, text: TextReport) -> FaithData | None:
    reference = text.random_reference
    if reference is None:
        return None
    measured = {s.method: s.faithfulness for s in text.scores}
    names = [m.name for m in report.methods]
    return {
        "f0": _round(reference.prediction),
        "without": [
            _rounds(measured[n].curve.without_top) if measured.get(n) is not None else None for n in names
        ],
        "randomMean": _rounds(reference.curve.without_top),
        "randomStd": _rounds(reference.curve.without_top_std or [None] * len(reference.curve.without_top)),
        "comprehensiveness": [_round(measured[n].comprehensiveness) if measured.get(n) else None for n in names],
        "sufficiency": [_round(measured[n].sufficiency) if measured.get(n) else None for n in names],
        "random": [
            _round(reference.comprehensiveness), _round(reference.comprehensiveness_std),
            _round(reference.sufficiency), _round(reference.sufficiency_std),
        ],
        "normalised": int(reference.normalised),
        "normaliser": _round(reference.normaliser),
        "removed": list(reference.curve.removed),
        "content": reference.curve.content,
        "verdict": _text_verdict(text),
        "words": _word_faith(report, text),
    }


def _text_verdict(text: TextReport) -> list[float | None] | None:
    """This text's verdict on the default-shaded method against the random orders."""
    beats = text.beats_random
    mine, ref = text.highlighted.faithfulness, text.random_reference
    if beats is None or mine is None or ref is None:
        return None
    return [int(beats), _round(mine.comprehensiveness - mine.sufficiency), _round(ref.comprehensiveness - ref.sufficiency)]


def text_data(report: Report, text: TextReport) -> TextData:
    ig = text.integrated_gradients
    shown = _runs([s.text for s in text.spans] + [text.dropped])
    return {
        "id": text.text_id,
        "n": len(text.tokens),
        "source": visible_plain(text.source),
        "tokens": [visible_plain(tok.label) for tok in text.tokens],
        "pieces": [visible_plain(tok.piece) for tok in text.tokens],
        "special": [int(tok.special) for tok in text.tokens],
        "spans": [[-1 if s.position is None else s.position, *r] for s, r in zip(text.spans, shown)],
        "spanWord": [-1 if s.word is None else s.word for s in text.spans],
        "dropped": shown[-1],
        # One array per method, shared by the highlight, the methods chart and the waterfall.
        "methods": {
            s.method: {"rel": _rounds(s.relative, 4), "value": _rounds(s.values, 6)} for s in text.scores
        },
        "bars": {
            "cls": _rounds(text.cls_attention, 4),
            "received": _rounds(text.mean_received, 4),
            "clsRenorm": _rounds(text.cls_renormalised, 4),
            "receivedRenorm": _rounds(text.received_renormalised, 4),
        },
        "ig": None if ig is None else {
            "baseline": _round(ig.baseline_prediction), "explained": _round(ig.explained),
            "delta": _round(ig.delta), "deltaRelative": _round(ig.delta_relative), "warn": int(ig.warn),
            "steps": ig.steps,
        },
        "faith": _faith(report, text),
        "agreement": None if text.agreement is None else [_round(v, 4) for row in text.agreement for v in row],
        "words": _words_data(text),
        "unit": text.default_unit,
        "movers": [
            {
                "unit": group.unit,
                "method": group.method,
                "up": [[visible_plain(m.label), _round(m.value, 6)] for m in group.up],
                "down": [[visible_plain(m.label), _round(m.value, 6)] for m in group.down],
            }
            for group in text.movers
        ],
    }


def _words_data(text: TextReport) -> WordsData | None:
    if text.words is None:
        return None
    return {
        "mode": text.words.mode,
        "labels": [visible_plain(w.surface) for w in text.words.words],
        "lemmas": [visible_plain(w.lemma) for w in text.words.words],
        "methods": {
            s.method: {"rel": [_round(v, 4) for v in s.relative], "value": [_round(v, 6) for v in s.values]}
            for s in text.words.scores
        },
    }


CORPUS_LIST_LENGTH = 15
PREVIEW_CHARS = 60


def _corpus_data(report: Report) -> CorpusData | None:
    corpus = report.corpus
    if corpus is None:
        return None
    return {
        "method": corpus.method,
        "title": report.method(corpus.method).title,
        "minTexts": corpus.default_min_texts,
        "k": CORPUS_LIST_LENGTH,
        "words": [
            {
                "lemma": visible_plain(w.lemma),
                "surfaces": [visible_plain(x) for x in w.surfaces],
                "n": w.n_texts,
                "occ": w.occurrences,
                "mean": _round(w.mean, 6),
                "total": _round(w.total, 6),
                "lo": _round(w.ci_low, 6),
                "hi": _round(w.ci_high, 6),
                "share": _round(w.share_abs, 6),
                "ids": list(w.text_ids),
            }
            for w in corpus.words
        ],
        "texts": [
            {"id": t.text_id, "preview": visible_plain(t.text[:PREVIEW_CHARS] + ("…" if len(t.text) > PREVIEW_CHARS else ""))}
            for t in report.texts
        ],
    }


def to_json(value: Any) -> str:
    """Compact, strict JSON, safe inside ``<script>``: ``<``, ``>``, ``&``, ``'``, U+2028/9 escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def block(value: Any) -> str:
    """A JSON value as a base64 zlib block."""
    return budget.b64(budget.deflate(json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")))


def _overview(report: Report, rungs: Sequence[int]) -> OverviewData:
    texts = report.texts
    classification = report.model.task == "classification"
    shown = [visible_plain(t.text[:SEARCH_CHARS]) for t in texts]
    return {
        "id": [t.text_id for t in texts],
        "prediction": [_round(t.prediction, 6) for t in texts],
        "label": [visible_plain(t.predicted_label) if classification and t.predicted_label is not None else None for t in texts],
        "gold": [_round(t.gold, 6) for t in texts],
        "tokens": [len(t.tokens) for t in texts],
        "fullLength": [t.full_length for t in texts],
        "truncated": [int(t.truncated) for t in texts],
        "igWarn": [int(t.integrated_gradients is not None and t.integrated_gradients.warn) for t in texts],
        "top": [[visible_plain(x) for x in t.top_tokens] for t in texts],
        "topSign": [list(t.top_signs(report.method(t.highlight).signed)) for t in texts],
        "rung": list(rungs),
        "texts": block(shown),
    }


def _agreement(report: Report) -> AgreementData | None:
    view = report.agreement
    if view is None:
        return None
    return {
        "rho": [_round(v, 4) for row in view.mean for v in row],
        "texts": [c for row in view.counts for c in row],
    }


@functools.lru_cache(maxsize=64)
def _compiled(spec_json: str) -> str:
    def compile_spec() -> str:
        import vl_convert

        compiled = vl_convert.vegalite_to_vega(json.loads(spec_json))
        compiled.pop("$schema", None)  # a URL the page never needs: the page names no outside address
        return json.dumps(compiled, sort_keys=True)

    return cached("vega-spec", spec_json, compile_spec)


def vega_spec(vega_lite: dict) -> dict:
    """A Vega-Lite template from :mod:`charts` compiled to Vega here, once per report, so the
    page only parses and runs it (no Vega-Lite compilation in the reader's browser). Its named
    data sources stay without values; the page fills them (and the ``tokens`` signal) per text."""
    return json.loads(_compiled(json.dumps(vega_lite, sort_keys=True)))


def base_data(report: Report) -> PageData:
    """Everything but the per-text blocks (every text at the summary rung)."""
    texts = report.texts
    label = (report.model.target_name or "prediction") if report.model.task == "regression" else "probability of predicted class"
    with_gold = report.has_gold
    overview_spec = (
        charts.predictions_spec(label, with_gold) if len(texts) <= BAR_CHART_TEXTS else charts.distribution_spec(label, with_gold)
    )
    model = report.model
    title_of = {m.name: m.title for m in report.methods}
    return {
        "task": report.model.task,
        "target": {
            "name": model.target_name,
            "range": list(model.target_range) if model.target_range is not None else None,
            "description": model.target_description,
        },
        "predictionLabel": label,
        "faithFast": int(report.faithfulness is not None and report.faithfulness.mode == "fast"),
        "layers": report.model.num_layers,
        "heads": report.model.num_heads,
        "views": charts.VIEWS,
        "measures": [charts.CLS_MEASURE, charts.RECEIVED_MEASURE],
        "specs": {
            kind: vega_spec(spec)
            for kind, spec in {
                "overview": overview_spec,
                "methods": charts.methods_spec(),
                "waterfall": charts.waterfall_spec(),
                "deletion": charts.deletion_spec(),
                # Rows and columns named by the methods' titles, as everywhere else on the page.
                "agreement": charts.agreement_spec([title_of[m] for m in report.agreement.methods] if report.agreement else ()),
                "corpus": charts.corpus_spec(),
            }.items()
        },
        "methodTitles": [[m.name, m.title] for m in report.methods],
        "methodSigned": [int(m.signed) for m in report.methods],
        "methodScales": [[_round(m.scale, 6), _round(m.word_scale, 6) if m.word_scale is not None else None] for m in report.methods],
        "highlight": report.highlight,
        "agreementMethods": list(report.agreement.methods) if report.agreement else [],
        "agreement": _agreement(report),
        "shade": {
            "positive": theme.POSITIVE_RGB, "negative": theme.NEGATIVE_RGB, "sequential": theme.SEQUENTIAL_RGB,
            "maxAlpha": theme.MAX_ALPHA, "total": theme.TOTAL_COLOUR,
        },
        "heat": list(theme.HEATMAP_STOPS),
        "barColours": [theme.SPECIAL_COLOUR, theme.ATTENTION_COLOUR],
        "budget": {"maxMb": None, "fullMb": "0", "rungNames": list(budget.RUNG_NAMES), "leftOut": list(budget.RUNG_LEFT_OUT)},
        "overview": _overview(report, [budget.SUMMARY] * len(texts)),
        "blocks": [[None, None, None] for _ in texts],
        "corpus": _corpus_data(report),
    }


@dataclass(frozen=True)
class Fitted:
    """The page data with every text's rung chosen, and what the budget left out."""

    data: PageData
    fit: budget.Fit


BLOCK_ELEMENT = '<div id="{kind}-{index}">{block}</div>\n'
"""One block in the page, inside the hidden ``#report-blocks``: base64 only (no markup can appear
in it); a missing block is empty. Every text has all three elements, so the page finds text N's
by id, and a block adds exactly its own bytes to the page (the empty elements are in the fixed
part). A ``div``, not an inert ``<script>``: the parser pauses after every ``</script>`` (a
microtask checkpoint, where the page's MutationObserver runs while it waits for a block), which
cost about 180 ms of a 1,000-text page's load (3,000 elements)."""
BLOCK_KINDS = ("detail", "view", "attention")
"""The per-text blocks, in the order of :attr:`PageData.blocks`."""


def block_elements(blocks: Sequence[Sequence[str | None]]) -> str:
    """The per-text blocks as the page carries them: each text's detail and view (input order),
    then every attention block."""
    order = [(i, k) for i in range(len(blocks)) for k in (0, 1)] + [(i, 2) for i in range(len(blocks))]
    return "".join(BLOCK_ELEMENT.format(kind=BLOCK_KINDS[k], index=i, block=blocks[i][k] or "") for i, k in order)


def page_json(data: PageData) -> str:
    """The JSON block: the page data without the per-text blocks (they are :func:`block_elements`)."""
    return to_json({k: v for k, v in data.items() if k != "blocks"})


def fit(report: Report, base: PageData, fixed_bytes: int, max_bytes: int | None) -> Fitted:
    """Choose each text's rung (``budget.assign``) so that the page fits ``max_bytes``.

    ``fixed_bytes`` is the size of the page rendered from ``base`` (every text's element empty).
    """
    details = [block(text_data(report, t)) for t in report.texts]
    sizes = []
    # Each text's element is in the fixed part (empty); its blocks add exactly their own bytes.
    for detail, text in zip(details, report.texts):
        base_size = len(detail)
        per = {r: base_size + budget.rung_bytes(text.display.sizes, r) for r in budget.MATRIX_RUNGS} if text.display else {}
        per[budget.NO_MATRIX] = base_size
        per[budget.SUMMARY] = 0
        sizes.append(per)
    lengths = [len(t.tokens) for t in report.texts]
    assignment = budget.assign(sizes, lengths, fixed_bytes, max_bytes)
    rungs = list(assignment.rungs)
    blocks: list[list[str | None]] = []
    for t, text in enumerate(report.texts):
        kept = text.display.blocks if text.display else {}
        # The store keeps every block the rule can pick; should compression ever make a lighter
        # rung's block larger, the text takes the next rung that was kept (smaller, so it fits).
        while rungs[t] in budget.MATRIX_RUNGS and not (rungs[t] in kept and budget.VIEW in kept):
            rungs[t] += 1
        matrix = rungs[t] in budget.MATRIX_RUNGS
        view = budget.b64(kept[budget.VIEW]) if matrix else None
        att = budget.b64(kept[rungs[t]]) if matrix and rungs[t] != budget.VIEW else None
        blocks.append([details[t] if rungs[t] <= budget.NO_MATRIX else None, view, att])
    assignment = replace(assignment, rungs=tuple(rungs))
    data = dict(base)
    data["overview"] = {**base["overview"], "rung": rungs}
    data["blocks"] = blocks
    data["budget"] = {
        **base["budget"],
        "maxMb": f"{max_bytes / budget.MB:g}" if max_bytes else None,
        "fullMb": budget.megabytes(assignment.full_bytes),
    }
    outcome = budget.Fit.from_assignment(assignment, lengths, max_bytes)
    return Fitted(data=data, fit=outcome)  # type: ignore[arg-type]


def page_data(report: Report, max_bytes: int | None = None, fixed_bytes: int = 0) -> PageData:
    """The page data with rungs fitted to ``max_bytes`` (None: every text in full detail)."""
    return fit(report, base_data(report), fixed_bytes, max_bytes).data
