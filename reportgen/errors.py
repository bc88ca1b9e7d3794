"""The errors a run reports to its user, and the helpers that keep their messages to one line.

Each error's message is one line, fit to print as it is after ``reportgen: error:``; the CLI
exits with code 2 for every :class:`ReportgenError`. Library messages (from transformers, the
csv module, the OS) run long and may hold control characters: :func:`short` and
:func:`printable` make them fit.
"""

from __future__ import annotations


class ReportgenError(Exception):
    """A problem the user can fix: bad usage, bad input, an unusable checkpoint, an unwritable file."""


class InputError(ReportgenError, ValueError):
    """Bad input or options: names the file and the line or column where it can."""


class ModelLoadError(ReportgenError, RuntimeError):
    """A checkpoint that cannot be used."""


class OutputError(ReportgenError, RuntimeError):
    """The run cannot write where it was asked to."""


def one_line(err: BaseException) -> str:
    """An exception's message with every run of whitespace (newlines too) made one space."""
    return " ".join(str(err).split()) or type(err).__name__


def short(err: BaseException, limit: int = 200) -> str:
    """An exception as one line of at most ``limit`` characters."""
    text = one_line(err)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def printable(value: object) -> str:
    """A path, key or name fit for a one-line message: control characters spelled out."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
