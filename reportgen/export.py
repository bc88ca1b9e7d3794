"""CSV export: one row per token per text, with the numbers the report shows.

``cls_attention`` and ``mean_received`` follow the report's definitions (last layer, mean
over heads, real tokens only).
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


def _number(value: float | None) -> str:
    return "" if value is None else format(value, ".8g")


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def tokens_csv(report: Report) -> bytes:
    rows = []
    for text in report.texts:
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
                )
            )
    return _csv(TOKEN_COLUMNS, rows)
