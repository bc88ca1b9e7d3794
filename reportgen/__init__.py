"""reportgen: explain a fine-tuned ALBERT model's predictions in one self-contained HTML report.

From Python (a script or a notebook)::

    import reportgen
    report = reportgen.explain(texts, model, tokenizer)   # -> reportgen.Report
    report.save_html("report.html")

Stages, one module each: ``inputs`` -> ``loading`` -> ``extraction`` -> ``methods`` ->
``faithfulness`` -> ``agreement`` -> ``report`` -> ``charts`` -> ``page`` -> ``render``, wired
by ``pipeline`` and called by ``cli`` and ``api`` (plus ``export`` for CSV files, ``images``
for pictures, ``summary`` for the Markdown ticket summary and ``output`` for crash-safe writes).

``import reportgen`` imports no torch: :func:`explain` and :class:`Report` are loaded on first
use, and torch only when a model is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Report", "__version__", "explain"]

if TYPE_CHECKING:  # pragma: no cover
    from .api import Report, explain


def __getattr__(name: str) -> Any:
    """``reportgen.explain`` and ``reportgen.Report``, imported on first use (no torch at import)."""
    if name in ("explain", "Report"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'reportgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "explain", "Report"])
