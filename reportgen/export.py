"""CSV exports: one row per token per text, and one row per text and method for faithfulness.

``cls_attention`` and ``mean_received`` follow the report's definitions (last layer, mean
over heads, real tokens only); every other explanation method adds a column named after it.
"""

from __future__ import annotations

import csv
import io
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
"""Always present; then one column per other method run, then ``ig_baseline_prediction``."""
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
    return "" if value is None else format(value, ".8g")


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def tokens_csv(report: Report) -> bytes:
    extra = [m.name for m in report.methods if m.name not in ATTENTION_COLUMNS]
    with_ig = any(t.integrated_gradients is not None for t in report.texts)
    header = list(TOKEN_COLUMNS) + extra + (["ig_baseline_prediction"] if with_ig else [])
    rows = []
    for text in report.texts:
        values = {s.method: s.values for s in text.scores}
        ig = text.integrated_gradients
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
                )
            )
    return _csv(header, rows)


def faithfulness_csv(report: Report) -> bytes:
    """One row per text and method (``random``: the seeded random-ranking reference)."""
    fractions = report.faithfulness.fractions if report.faithfulness else ()
    curve_columns = [f"without_top_{k:g}" for k in fractions] + [f"only_top_{k:g}" for k in fractions]
    rows = []
    for text in report.texts:
        measured = [s.faithfulness for s in text.scores] + [text.random_reference]
        for f in measured:
            if f is None:
                continue
            rows.append(
                (
                    text.text_id,
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
                    *(_number(v) for v in f.curve.without_top),
                    *(_number(v) for v in f.curve.only_top),
                )
            )
    return _csv(list(FAITHFULNESS_COLUMNS) + curve_columns, rows)
