"""CSV exports: one row per token per text, one row per word per text, the corpus table of
words, and one row per text and method for faithfulness.

``cls_attention`` and ``mean_received`` follow the report's definitions (last layer, mean
over heads, real tokens only); every other explanation method adds a column named after it.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Sequence

from .report import Report

TOKEN_COLUMNS = (
    "text_id",
    "text",
    "position",
    "token",
    "is_special",
    "cls_attention",
    "mean_received",
    "prediction",
    "gold",
    "truncated",
)
"""Always present; then one column per other method run, then ``ig_baseline_prediction`` (when
Integrated Gradients ran), then ``word_id`` (when the run has words)."""
WORD_ID_COLUMN = "word_id"
"""The word holding most of the token (``words.word_id_per_token``; the ``word_id`` of the words
CSV), -1 for special tokens and for the tokens of a text without words."""
WORD_COLUMNS = ("text_id", "word_id", "surface", "lemma", "start", "end", "pos", "mode")
"""Then one column per method run: the word's score (empty for a word no token reaches)."""
CORPUS_COLUMNS = (
    "lemma",
    "n_texts",
    "occurrences",
    "mean",
    "total",
    "ci_low",
    "ci_high",
    "share_abs",
    "surfaces",
    "text_ids",
    "method",
)
"""One row per dictionary form (see ``words.aggregate_frame``); ``surfaces`` joined with ``|``,
``text_ids`` with spaces; ``method`` is the report's signed default method the scores come from."""
CORPUS_SUFFIX = ".corpus.csv"
ATTENTION_COLUMNS = ("cls_attention", "mean_received")
FAITHFULNESS_COLUMNS = (
    "text_id",
    "method",
    "comprehensiveness",
    "sufficiency",
    "comprehensiveness_raw",
    "sufficiency_raw",
    "normalised",
    "normaliser",
    "prediction",
    "comprehensiveness_std",
    "sufficiency_std",
)


def _number(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, ".8g")


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def tokens_csv(report: Report) -> bytes:
    extra = [m.name for m in report.methods if m.name not in ATTENTION_COLUMNS]
    with_ig = any(t.integrated_gradients is not None for t in report.texts)
    with_words = any(t.words is not None for t in report.texts)
    header = list(TOKEN_COLUMNS) + extra + (["ig_baseline_prediction"] if with_ig else []) + ([WORD_ID_COLUMN] if with_words else [])
    rows = []
    for text in report.texts:
        values = {s.method: s.values for s in text.scores}
        ig = text.integrated_gradients
        word_ids = text.words.token_word if text.words is not None else (-1,) * len(text.tokens)
        for token in text.tokens:
            rows.append(
                (
                    text.text_id,
                    text.text,
                    token.position,
                    token.piece,
                    int(token.special),
                    _number(text.cls_attention[token.position]),
                    _number(text.mean_received[token.position]),
                    _number(text.prediction),
                    _number(text.gold),
                    int(text.truncated),
                    *(_number(values[name][token.position]) for name in extra),
                    *([_number(ig.baseline_prediction if ig else None)] if with_ig else []),
                    *([word_ids[token.position]] if with_words else []),
                )
            )
    return _csv(header, rows)


def words_csv(report: Report) -> bytes:
    """One row per word per text (texts without words have none), every method's word score."""
    methods = [m.name for m in report.methods]
    rows = []
    for text in report.texts:
        if text.words is None:
            continue
        values = {s.method: s.values for s in text.words.scores}
        for w in text.words.words:
            rows.append(
                (
                    text.text_id, w.index, w.surface, w.lemma, w.start, w.end, w.pos or "", text.words.mode,
                    *(_number(values[name][w.index]) for name in methods),
                )
            )
    return _csv(list(WORD_COLUMNS) + methods, rows)


def corpus_path(words_path: Path) -> Path:
    """Where the corpus table goes beside ``--words-csv FILE``: ``FILE`` with ``.corpus.csv``
    for its suffix (``words.csv`` -> ``words.corpus.csv``)."""
    return words_path.with_name(words_path.stem + CORPUS_SUFFIX) if words_path.suffix else words_path.with_name(words_path.name + CORPUS_SUFFIX)


def corpus_csv(report: Report) -> bytes:
    """The corpus view as a table, one row per dictionary form (only a header without words)."""
    corpus = report.corpus
    rows = []
    if corpus is not None:
        for w in corpus.words:
            rows.append(
                (
                    w.lemma, w.n_texts, w.occurrences, _number(w.mean), _number(w.total),
                    _number(w.ci_low), _number(w.ci_high), _number(w.share_abs),
                    "|".join(w.surfaces), " ".join(str(t) for t in w.text_ids), corpus.method,
                )
            )
    return _csv(list(CORPUS_COLUMNS), rows)


def faithfulness_csv(report: Report) -> bytes:
    """One row per text and method (``random``: the seeded random-ranking reference). When whole
    words were measured too, a last column ``unit`` says ``token`` for those rows, and the same
    rows for whole words (``unit`` ``word``) follow."""
    fractions = report.faithfulness.fractions if report.faithfulness else ()
    curve_columns = [f"without_top_{k:g}" for k in fractions] + [f"only_top_{k:g}" for k in fractions]
    rows = []
    measured_by_text = [(text.text_id, [s.faithfulness for s in text.scores] + [text.random_reference]) for text in report.texts]
    measured_by_text += [
        (text.text_id, [s.faithfulness for s in text.words.scores] + [text.words.random_reference])
        for text in report.texts
        if text.words is not None
    ]
    with_words = any(text.words is not None and text.words.random_reference is not None for text in report.texts)
    for text_id, measured in measured_by_text:
        for f in measured:
            if f is None:
                continue
            rows.append(
                (
                    text_id,
                    f.method,
                    _number(f.comprehensiveness),
                    _number(f.sufficiency),
                    _number(f.comprehensiveness_raw),
                    _number(f.sufficiency_raw),
                    int(f.normalised),
                    _number(f.normaliser),
                    _number(f.prediction),
                    _number(f.comprehensiveness_std),
                    _number(f.sufficiency_std),
                    *(_number(v) for v in f.curve.at_fractions(fractions)[0]),
                    *(_number(v) for v in f.curve.at_fractions(fractions)[1]),
                    *([f.unit] if with_words else []),
                )
            )
    return _csv(list(FAITHFULNESS_COLUMNS) + curve_columns + (["unit"] if with_words else []), rows)
