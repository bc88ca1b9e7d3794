"""Crash-safe writing of the run's files.

Each file is written to a temporary file in its target folder and renamed into place, so a
run killed at any moment leaves either no file or the previous one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


class OutputError(RuntimeError):
    """The run cannot write where it was asked to: one-line message."""


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    content: bytes


def check_target(path: Path, force: bool) -> None:
    """Refuse early (before any model work) what the final write would refuse."""
    if path.exists() and path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists; pass --force to overwrite it")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{parent}: not a folder")


def write_all(files: list[PlannedFile]) -> None:
    """Write every file to a temporary sibling first, then rename them all into place."""
    temps: list[tuple[str, Path]] = []
    try:
        for planned in files:
            planned.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=planned.path.parent, prefix=f".{planned.path.name}.", suffix=".part")
            temps.append((temp, planned.path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(planned.content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
        for temp, target in temps:
            os.replace(temp, target)
    except OSError as err:
        raise OutputError(f"{err.filename or 'output'}: cannot write ({err.strerror})") from None
    finally:
        for temp, _ in temps:
            if os.path.exists(temp):
                os.unlink(temp)
