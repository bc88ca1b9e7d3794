"""Where the files that ship with reportgen live: templates, the sample model, sample texts.

In a wheel they are copied into the package (see pyproject's force-include); in a source
checkout or an editable install they are the top-level ``templates/`` and ``samples/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[-1]


def templates_dir() -> Path:
    return _first_existing(_PACKAGE / "templates", _CHECKOUT / "templates")


def sample_model_dir() -> Path:
    return _first_existing(_PACKAGE / "samples" / "model", _CHECKOUT / "samples" / "model")


def sample_texts() -> Path:
    return _first_existing(_PACKAGE / "samples" / "texts.txt", _CHECKOUT / "samples" / "texts.txt")
