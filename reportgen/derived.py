"""An on-disk cache of what the page derives from its libraries: the Vega bundle and compiled
specs (vl-convert), and the Vega-Lite templates (Altair; :mod:`reportgen.charts` keys them by its
code and Altair's version).

Building the vega + vega-lite + vega-embed bundle takes vl-convert about 3 s and compiling the
page's Vega-Lite templates about 1.5 s, in every process that renders a report; both depend only
on vl-convert's version and the input. So each result is kept in a file named by that version and
a hash of the input, under ``$REPORTGEN_CACHE_DIR`` (default ``$XDG_CACHE_HOME/reportgen``, else
``~/.cache/reportgen``). ``REPORTGEN_CACHE_DIR=`` (empty) turns the cache off. A cache that
cannot be read or written is skipped: the result is then computed, never an error.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Callable


def cache_dir() -> Path | None:
    """Where derived files are kept; None when the cache is off."""
    chosen = os.environ.get("REPORTGEN_CACHE_DIR")
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home folder to be found (a bare container user): no cache
            return None
    return Path(base) / "reportgen"


def cached(kind: str, key: str, make: Callable[[], str]) -> str:
    """``make()``, or the text an earlier call with the same ``kind`` and ``key`` (and the same
    vl-convert) stored. Files are written whole and renamed into place, so concurrent processes
    never read a partial one."""
    folder = cache_dir()
    if folder is None:
        return make()
    digest = hashlib.sha256(f"{_vl_convert_version()}\0{kind}\0{key}".encode("utf-8")).hexdigest()[:32]
    path = folder / f"{kind}-{digest}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    text = make()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, suffix=".tmp", delete=False) as handle:
            handle.write(text)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only or full disk costs the time, not the report
    return text


def _vl_convert_version() -> str:
    try:
        return metadata.version("vl-convert-python")
    except metadata.PackageNotFoundError:
        return "unknown"
