"""Crash-safe writing of the run's files.

Each file is written to a temporary file in its target folder and renamed into place, so a
run killed at any moment leaves either no file or the previous one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import OutputError


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    content: bytes | Callable[[BinaryIO], None]
    """The bytes, or what writes them to an open file: a large file (the data file) is then
    streamed into its temporary sibling instead of held in memory whole."""


def check_target(path: Path, force: bool) -> None:
    """Refuse early (before any model work) what the final write would refuse."""
    if path.exists() and path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists; pass --force to overwrite it")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{parent}: not a folder")


def write_all(files: list[PlannedFile], force: bool = True) -> None:
    """Write every file to a temporary sibling first, then move them all into place.

    The temporary file is complete and flushed to disk before it takes the target's name, so
    a reader (or a crash) sees the previous file or the whole new one, never part of one.
    Without ``force`` a file that appeared at a target since :func:`check_target` is left
    alone: the new file is linked into place only if the name is still free, and files this
    call already placed are removed again, so nothing is overwritten.
    """
    temps: list[tuple[str, Path]] = []
    placed: list[Path] = []
    try:
        for planned in files:
            planned.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=planned.path.parent, prefix=f".{planned.path.name}.", suffix=".part")
            temps.append((temp, planned.path))
            with os.fdopen(fd, "wb") as handle:
                if callable(planned.content):
                    planned.content(handle)
                else:
                    handle.write(planned.content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
        for temp, target in temps:
            if force:
                os.replace(temp, target)
            else:
                _place_new(temp, target)
                placed.append(target)
            _sync_folder(target.parent)
    except OutputError:
        for target in placed:
            _remove(target)
        raise
    except OSError as err:
        for target in placed:
            _remove(target)
        raise OutputError(f"{err.filename or 'output'}: cannot write ({err.strerror})") from None
    finally:
        for temp, _ in temps:
            if os.path.exists(temp):
                os.unlink(temp)


def _place_new(temp: str, target: Path) -> None:
    """Give ``temp`` the name ``target`` only if no file has it: never clobbers."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise OutputError(f"{target}: already exists; pass --force to overwrite it") from None
    except OSError:
        # A file system without hard links: check, then rename (a narrow race, but no partial file).
        if os.path.lexists(target):
            raise OutputError(f"{target}: already exists; pass --force to overwrite it") from None
        os.replace(temp, target)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
