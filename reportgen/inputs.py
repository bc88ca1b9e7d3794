"""Reading the texts to explain: .txt, .csv, .tsv, .jsonl files or standard input.

Owns the input formats and every input error. Readers return plain, frozen data; a problem
raises :class:`InputError` with a one-line message that names the file and the line or column.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

from .errors import InputError, one_line as _one_line, printable as _name

STDIN = "-"
TEXT_SUFFIXES = (".txt", ".text")
CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")
# Python strings can hold lone UTF-16 surrogates (JSON's "\ud800" decodes to one); they are not
# Unicode text, cannot be written as UTF-8 and would crash the report at the very end.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class InputText:
    text_id: int
    """0-based position among the texts kept, in input order."""
    text: str
    source: str
    """Where the text came from, for messages: ``file.txt:12``."""
    gold: float | None = None


@dataclass(frozen=True)
class InputSet:
    texts: tuple[InputText, ...]
    skipped_blank: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class _Raw:
    text: str
    source: str
    gold: float | None


def read_inputs(
    paths: Sequence[str],
    *,
    text_column: str = "text",
    label_column: str | None = None,
    encoding: str = "utf-8",
    stdin: BinaryIO | None = None,
) -> InputSet:
    """Read every input in order; blank texts are skipped and counted."""
    if not paths:
        raise InputError("no input given: pass a .txt, .csv, .tsv or .jsonl file, or - for stdin")
    raws: list[_Raw] = []
    skipped = 0
    for path in paths:
        name = "<stdin>" if path == STDIN else _name(path)
        data = _read_bytes(path, stdin)
        content = _decode(data, name, encoding)
        kept, blank = _split(content, name, path, text_column, label_column)
        raws.extend(kept)
        skipped += blank
    if not raws:
        where = ", ".join("<stdin>" if p == STDIN else _name(p) for p in paths)
        raise InputError(f"{where}: no texts found (after skipping {skipped} blank)")
    texts = tuple(InputText(i, r.text, r.source, r.gold) for i, r in enumerate(raws))
    return InputSet(texts=texts, skipped_blank=skipped, sources=tuple(paths))


def shown_path(path: str, show: bool = False) -> str:
    """A path as the report may name it: as the user typed it when that was relative; only the
    file's (or folder's) name when it was absolute, under ``~`` or above the working folder, so a
    report attached to a ticket does not carry private folder names. ``show`` (``--show-paths``):
    as typed, always."""
    if show or path in (STDIN, "<stdin>") or not path:
        return path
    p = Path(path)
    if p.is_absolute() or path.startswith("~") or ".." in p.parts:
        return p.name or path
    return path


_ABSOLUTE = re.compile(r"(?<![\w.~-])(?:~|/)[^\s'\"]*")


def hide_paths(text: str) -> str:
    """``text`` with every absolute (or ``~``) path in it cut to its last part (see :func:`shown_path`)."""
    return _ABSOLUTE.sub(lambda m: Path(m.group(0).rstrip("/")).name or m.group(0), text)


def with_shown_sources(inputs: InputSet, show: bool = False) -> InputSet:
    """The inputs with each text's ``source`` and the ``sources`` named by :func:`shown_path`."""
    if show:
        return inputs
    renames = [(_name(p) + ":", shown_path(_name(p)) + ":") for p in inputs.sources if p != STDIN]
    texts = []
    for item in inputs.texts:
        source = item.source
        for old, new in renames:
            if source.startswith(old):
                source = new + source[len(old):]
                break
        texts.append(InputText(item.text_id, item.text, source, item.gold))
    return InputSet(tuple(texts), inputs.skipped_blank, tuple(shown_path(p) for p in inputs.sources))


def _read_bytes(path: str, stdin: BinaryIO | None) -> bytes:
    if path == STDIN:
        if stdin is None:
            import sys

            stdin = sys.stdin.buffer
        return stdin.read()
    file = Path(path)
    if not file.exists():
        raise InputError(f"{_name(path)}: no such file")
    if file.is_dir():
        raise InputError(f"{_name(path)}: is a folder, not a file of texts")
    try:
        return file.read_bytes()
    except OSError as err:
        raise InputError(f"{_name(path)}: cannot read ({err.strerror})") from None


def _decode(data: bytes, name: str, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except LookupError:
        raise InputError(f"--encoding {encoding!r}: unknown encoding") from None
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            f"{name}: line {line}, byte {column}: cannot decode as {encoding} "
            f"(byte 0x{data[err.start]:02x}); pass --encoding to read another encoding"
        ) from None
    # A byte-order mark is an encoding artefact, never part of the first text.
    return text[1:] if text.startswith("\ufeff") else text


def _lines(content: str) -> Iterator[tuple[int, str]]:
    """Lines split on LF only (CRLF tolerated): a text may hold any other control character."""
    for number, line in enumerate(content.split("\n"), start=1):
        yield number, line[:-1] if line.endswith("\r") else line


def _split(
    content: str, name: str, path: str, text_column: str, label_column: str | None
) -> tuple[list[_Raw], int]:
    suffix = Path(path).suffix.lower() if path != STDIN else ""
    if suffix in CSV_DELIMITERS:
        return _read_table(content, name, CSV_DELIMITERS[suffix], text_column, label_column)
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(content, name, text_column, label_column)
    if label_column is not None:
        raise InputError(f"{name}: --label-column needs a .csv, .tsv or .jsonl input")
    kept: list[_Raw] = []
    blank = 0
    for number, line in _lines(content):
        if not line.strip():
            # The empty string after a final newline is not a skipped line.
            if line or number <= content.count("\n"):
                blank += 1
            continue
        kept.append(_Raw(line, f"{name}:{number}", None))
    return kept, blank


def _read_table(
    content: str, name: str, delimiter: str, text_column: str, label_column: str | None
) -> tuple[list[_Raw], int]:
    with _no_field_limit():
        return _read_table_rows(content, name, delimiter, text_column, label_column)


@contextlib.contextmanager
def _no_field_limit() -> Iterator[None]:
    """A text may be longer than the csv module's default 131,072-character field limit."""
    previous = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _read_table_rows(
    content: str, name: str, delimiter: str, text_column: str, label_column: str | None
) -> tuple[list[_Raw], int]:
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    try:
        columns = reader.fieldnames or []
    except csv.Error as err:
        raise InputError(f"{name}: line 1: malformed header ({err})") from None
    if not columns:
        raise InputError(f"{name}: empty file: expected a header row naming the columns (e.g. {text_column!r})")
    for wanted, option in ((text_column, "--text-column"), (label_column, "--label-column")):
        if wanted is not None and wanted not in columns:
            raise InputError(
                f"{name}: no column {wanted!r} ({option}); columns are: "
                + ", ".join(repr(c) for c in columns)
            )
    kept: list[_Raw] = []
    blank = 0
    try:
        for row in reader:
            line = reader.line_num
            text = row.get(text_column) or ""
            if not text.strip():
                blank += 1
                continue
            gold = _gold(row.get(label_column) if label_column else None, name, line, label_column)
            kept.append(_Raw(text, f"{name}:{line}", gold))
    except csv.Error as err:
        raise InputError(f"{name}: line {reader.reader.line_num}: malformed {delimiter!r}-separated row ({err})") from None
    return kept, blank


def _read_jsonl(
    content: str, name: str, text_column: str, label_column: str | None
) -> tuple[list[_Raw], int]:
    kept: list[_Raw] = []
    blank = 0
    for number, line in _lines(content):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{name}: line {number}: malformed JSON ({err.msg} at column {err.colno})") from None
        except RecursionError:
            raise InputError(f"{name}: line {number}: malformed JSON (nested too deeply)") from None
        except ValueError as err:  # e.g. an integer too long to convert
            raise InputError(f"{name}: line {number}: malformed JSON ({_one_line(err)[:120]})") from None
        if not isinstance(record, dict):
            raise InputError(f"{name}: line {number}: expected a JSON object, got {type(record).__name__}")
        if text_column not in record:
            keys = ", ".join(repr(k) for k in record) or "none"
            raise InputError(f"{name}: line {number}: no field {text_column!r} (--text-column); fields are: {keys}")
        text = record[text_column]
        if not isinstance(text, str):
            raise InputError(f"{name}: line {number}: field {text_column!r} is not a string")
        bad = _SURROGATE.search(text)
        if bad:
            raise InputError(
                f"{name}: line {number}: field {text_column!r} holds a lone surrogate "
                f"\\u{ord(bad.group()):04x} at character {bad.start() + 1}, which is not valid Unicode"
            )
        if not text.strip():
            blank += 1
            continue
        if label_column is not None and label_column not in record:
            keys = ", ".join(repr(k) for k in record)
            raise InputError(f"{name}: line {number}: no field {label_column!r} (--label-column); fields are: {keys}")
        gold = _gold(record.get(label_column) if label_column else None, name, number, label_column)
        kept.append(_Raw(text, f"{name}:{number}", gold))
    return kept, blank


def _gold(value: object, name: str, line: int, column: str | None) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"{name}: line {line}: label {column!r} is not a number: {_name(json.dumps(value))[:40]}")
    try:
        gold = float(value)
    except (ValueError, OverflowError):
        raise InputError(f"{name}: line {line}: label {column!r} is not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(gold):
        raise InputError(f"{name}: line {line}: label {column!r} is not a finite number")
    return gold
