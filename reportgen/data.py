"""The data file: every number a run computed, in one Parquet file that re-renders the report.

Layout (the schema is documented in ``docs/data-file.md``): **one Parquet file, one row per
text**. The row's plain columns are the *texts* table; each of its list-of-struct columns holds
that text's rows of another table (``tokens``, ``words``, ``alignment``, ``faithfulness``,
``word_faithfulness``, ``attention``, ``attention_mean``, ``agreement``), so every table is keyed
by its text, one file carries them all, and a reader that wants some tables reads only those
columns (Parquet is columnar).
What belongs to the whole run (run, model, methods, the faithfulness ranking, the mean
agreement, the attention mode and the schema version) is one JSON document in the file's
key-value metadata under the key ``reportgen``.

``pandas.read_parquet(path)`` gives the texts table with the other tables nested in it;
:func:`read_tables` gives each table flat, :func:`read_data` gives back the stage records
(numbers bit-identical), and :func:`report_from_data` / :func:`render_data` re-render the
report without the model. :func:`tokens_frame`, :func:`words_frame` and :func:`faithfulness_frame`
are the CSV exports as views of the stored tables.

Torch-free: this module needs numpy, pyarrow and (for the frames) pandas.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import MISSING, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping, Sequence, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import InputError, printable, short
from .export import ATTENTION_COLUMNS, FAITHFULNESS_COLUMNS, TOKEN_COLUMNS, WORD_COLUMNS
from .inputs import InputText
from .report import Report, RunInfo
from .types import (
    QUANT_SCALE,
    RANDOM_METHOD,
    Agreement,
    DeletionCurve,
    EncodedText,
    Faithfulness,
    FaithfulnessReport,
    MethodInfo,
    MethodSummary,
    ModelInfo,
    TextAgreement,
    TextExtraction,
    TextRecord,
    TokenScores,
)
from .words import TextWords, Word

SCHEMA_VERSION = 2
"""Bumped by any change to a table, a column or the metadata; readers refuse other versions.
2: deletion curves at token resolution with their ``content`` count; the ranking's win rates,
intervals and verdict; the model's target name, range and description; the faithfulness mode."""
FORMAT = "reportgen-data"
METADATA_KEY = b"reportgen"
ATTENTION_MODES = ("all", "mean", "last", "none")
"""``--data-attention``: every head (quantised) and the head mean of every layer; the head mean
of every layer; the last layer only (its heads and head mean); no attention matrices."""
COMPRESSION = "zstd"
ROW_GROUP_TEXTS = 1024
ROW_GROUP_VALUES = 1 << 25
"""A row group closes after this many texts or attention values (one text may exceed it)."""

TEXTS_TABLE = "texts"
NESTED_TABLES = (
    "tokens",
    "words",
    "alignment",
    "faithfulness",
    "word_faithfulness",
    "attention",
    "attention_mean",
    "agreement",
)
"""The per-text tables, each a ``list<struct>`` column of the texts row, in column order."""
TABLES = (TEXTS_TABLE, *NESTED_TABLES)

TOKEN_FIELDS = (
    "position",
    "piece",
    "start",
    "end",
    "is_special",
    "input_id",
    "word_id",
    "rebuilt_start",
    "rebuilt_end",
    "attention_cls",
    "attention_received",
)
"""The tokens table's fixed columns; one ``float64`` column per method's score follows."""
ALIGNMENT_FIELDS = ("position", "word_id", "share")

_KINDS = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(), "str": pa.string()}


def _scalar_fields(cls: type, skip: Sequence[str]) -> dict[str, pa.DataType]:
    """A dataclass's plain scalar fields (``float``, ``int | None``, ``str``, ...) and their Arrow types.

    Read from the type annotations, so a scalar field added to the class is stored without a
    change here; any other new field is refused at writing time (see ``_check_fields``).
    """
    return {
        f.name: _KINDS[str(f.type).split("|")[0].strip()]
        for f in fields(cls)
        if f.name not in skip and str(f.type).split("|")[0].strip() in _KINDS
    }


CHECK_TYPES = _scalar_fields(TokenScores, ("method", "text_id", "scores"))
CHECK_FIELDS = tuple(CHECK_TYPES)
"""TokenScores' optional per-text values: a texts column ``<method>_<field>`` for each method that sets any."""
IG_CHECK = ("baseline_prediction", "delta", "delta_relative")
"""What the report's Integrated Gradients check (and the CSV's ``ig_baseline_prediction``) reads."""
FAITHFULNESS_TYPES = _scalar_fields(Faithfulness, ("text_id", "curve"))
FAITHFULNESS_SCALARS = tuple(FAITHFULNESS_TYPES)
"""Faithfulness's scalar fields (``method``, the measures, ...): one field each in the faithfulness table."""
CURVE_FIELDS = ("fractions", "removed", "without_top", "only_top", "without_top_std", "content")
WORD_RENAMED = {"index": "word_id"}
"""Word fields stored under another name (``word_id`` joins the words to the tokens)."""
WORD_TYPES = {WORD_RENAMED.get(k, k): v for k, v in _scalar_fields(Word, ()).items()}
"""Word's scalar fields: the words table's columns, then one ``float64`` word score per method."""
WORD_REPORTS = {"by_word": "word_faithfulness"}
"""FaithfulnessReport fields that are themselves reports, and the record field of their per-text results."""

# The CSV views use the very columns the CSV exports write (reportgen.export).
CSV_TOKEN_COLUMNS = TOKEN_COLUMNS
CSV_WORD_COLUMNS = WORD_COLUMNS
CSV_ATTENTION_METHODS = ATTENTION_COLUMNS
CSV_FAITHFULNESS_COLUMNS = FAITHFULNESS_COLUMNS

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

Source = Union[str, "os.PathLike[str]", bytes, BinaryIO]


class SchemaError(InputError):
    """A file that is not a reportgen data file this version can read (one-line message)."""


@dataclass(frozen=True, eq=False)
class StoredRun:
    """Everything :func:`write_data` stored, rebuilt as the stages' own types."""

    run: RunInfo
    model: ModelInfo
    methods: tuple[MethodInfo, ...]
    records: tuple[TextRecord, ...]
    """Bit-identical to the records written. With ``attention`` other than ``"all"`` each
    extraction holds only the stored layers: ``"mean"``: ``heads_q`` is ``(0, 0, n, n)``;
    ``"last"``: both arrays hold the last layer only; ``"none"``: both are empty."""
    faithfulness: FaithfulnessReport | None
    agreement: Agreement | None
    ig_tolerance: float
    attention: str
    schema_version: int = SCHEMA_VERSION
    source: str = "<data>"
    """The file's name, for messages."""


@dataclass(frozen=True)
class DataTables:
    """The stored tables as pandas DataFrames (pyarrow-backed: nulls stay distinct from NaN)."""

    metadata: Mapping[str, Any]
    """The ``reportgen`` JSON document (run, model, methods, ...)."""
    tables: Mapping[str, Any]
    """Table name -> DataFrame: ``texts`` and each per-text table read."""

    def __getitem__(self, name: str) -> Any:
        return self.tables[name]


# --- Writing -------------------------------------------------------------------------------


def check_attention_mode(mode: str) -> str:
    """``mode`` if it is a ``--data-attention`` value, else a one-line :class:`InputError`."""
    if mode not in ATTENTION_MODES:
        raise InputError(f"--data-attention {printable(mode)!r}: choose one of {', '.join(ATTENTION_MODES)}")
    return mode


def write_data(
    target: str | os.PathLike[str] | BinaryIO | None,
    run: RunInfo,
    model: ModelInfo,
    methods: Sequence[MethodInfo],
    records: Sequence[TextRecord],
    *,
    faithfulness: FaithfulnessReport | None,
    agreement: Agreement | None,
    ig_tolerance: float,
    attention: str = "all",
    rows: Iterable[TextRecord] | None = None,
) -> bytes:
    """The data file's bytes; also written to ``target`` when given (a path or a binary file).

    A path is written crash-safely (temporary file, then renamed), replacing any file there;
    the pipeline streams its data file instead (:func:`data_header`, then :func:`write_rows`
    into the file, which is what this does into memory).

    ``records``: every text's record, which gives the metadata (methods, faithfulness ranking,
    agreement). ``rows``: the same texts' records in the same order, read as they are written
    (default: ``records``); with ``rows``, ``records`` may hold no heads (a run's records hold
    none and its rows bring them back from the part files), and the bytes are those of
    ``rows=records`` with every head in ``records``.
    """
    header = data_header(
        run, model, methods, records, faithfulness=faithfulness, agreement=agreement,
        ig_tolerance=ig_tolerance, attention=attention, heads=rows is None,
    )
    sink = pa.BufferOutputStream()
    write_rows(sink, header, records if rows is None else rows)
    data = sink.getvalue().to_pybytes()
    if target is not None:
        if hasattr(target, "write"):
            target.write(data)  # type: ignore[union-attr]
        else:
            from .output import PlannedFile, write_all

            write_all([PlannedFile(Path(os.fspath(target)), data)], force=True)  # type: ignore[arg-type]
    return data


@dataclass(frozen=True)
class DataHeader:
    """What a data file says about the whole run, decided from every text's record before any
    row is written (:func:`data_header`); the rows then only need to be the same texts."""

    schema: pa.Schema
    """The Arrow schema, the ``reportgen`` metadata document included."""
    score_methods: tuple[str, ...]
    check_methods: tuple[str, ...]
    attention: str
    text_ids: tuple[int, ...]
    """The texts, in the order their rows must come."""


def data_header(
    run: RunInfo,
    model: ModelInfo,
    methods: Sequence[MethodInfo],
    records: Sequence[TextRecord],
    *,
    faithfulness: FaithfulnessReport | None,
    agreement: Agreement | None,
    ig_tolerance: float,
    attention: str = "all",
    heads: bool = True,
) -> DataHeader:
    """The header of the data file of ``records`` (checked: a record the file cannot store as it
    is raises ValueError). ``heads=False``: the records may hold no heads (the rows written
    later bring them, see :func:`write_rows`)."""
    check_attention_mode(attention)
    records = list(records)
    score_methods = _score_methods(records)
    check_methods = _check_methods(records, score_methods)
    for record in records:
        _check_record(record, score_methods, heads=heads)
    meta = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "attention": attention,
        "quant_scale": QUANT_SCALE,
        "texts": len(records),
        "ig_tolerance": _jsonable(float(ig_tolerance)),
        "score_methods": score_methods,
        "check_methods": check_methods,
        "run": _jsonable(run),
        "model": _jsonable(model),
        "methods": [_jsonable(m) for m in methods],
        "faithfulness": _faithfulness_json(faithfulness, records),
        "agreement": _agreement_json(agreement, records),
    }
    document = json.dumps(meta, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    schema = _schema(score_methods, check_methods).with_metadata({METADATA_KEY: document.encode("utf-8")})
    return DataHeader(schema, tuple(score_methods), tuple(check_methods), attention, tuple(r.text_id for r in records))


def write_rows(sink: Any, header: DataHeader, rows: Iterable[TextRecord]) -> None:
    """Write the data file to ``sink`` (a binary file or a pyarrow stream): ``header``, then
    ``rows`` (every text's record with its heads, in the header's order), one row group at a
    time as they are read: no more than one row group's attention is held."""
    schema, score_methods, check_methods, attention = header.schema, header.score_methods, header.check_methods, header.attention
    # Dictionary encoding cannot help the attention matrices (each is unique): off for them.
    dictionary = [p for p in _leaf_paths(schema) if not p.endswith(".weights")]
    written = 0
    with pq.ParquetWriter(sink, schema, compression=COMPRESSION, use_dictionary=dictionary) as writer:
        for chunk in _row_groups(_same_texts(rows, header), attention):
            writer.write_table(_chunk_table(chunk, schema, score_methods, check_methods, attention), row_group_size=len(chunk))
            written += len(chunk)
    if written != len(header.text_ids):
        raise ValueError(f"the data file's rows hold {written} texts, its header {len(header.text_ids)}")


def _same_texts(rows: Iterable[TextRecord], header: DataHeader) -> Iterator[TextRecord]:
    """``rows``, each checked to be storable and the text the header has at its position (the
    metadata was computed from the header's records: a row of another text would contradict it)."""
    for index, row in enumerate(rows):
        if index >= len(header.text_ids) or row.text_id != header.text_ids[index]:
            raise ValueError(f"data file row {index} is text {row.text_id}, not the header's text at that position")
        _check_record(row, header.score_methods)
        yield row


def _schema(score_methods: Sequence[str], check_methods: Sequence[str]) -> pa.Schema:
    f64, i32 = pa.float64(), pa.int32()
    token = pa.struct(
        [
            ("position", i32),
            ("piece", pa.string()),
            ("start", i32),
            ("end", i32),
            ("is_special", pa.bool_()),
            ("input_id", pa.int64()),
            ("word_id", i32),
            ("rebuilt_start", i32),
            ("rebuilt_end", i32),
            ("attention_cls", pa.float32()),
            ("attention_received", pa.float32()),
            *[(m, f64) for m in score_methods],
        ]
    )
    faith = pa.struct(
        [
            *FAITHFULNESS_TYPES.items(),
            ("fractions", pa.list_(f64)),
            ("removed", pa.list_(pa.int64())),
            ("without_top", pa.list_(f64)),
            ("only_top", pa.list_(f64)),
            ("without_top_std", pa.list_(f64)),
            ("content", pa.int64()),
        ]
    )
    word = pa.struct([*WORD_TYPES.items(), *[(m, f64) for m in score_methods]])
    alignment = pa.struct([("position", i32), ("word_id", i32), ("share", f64)])
    heads = pa.struct([("layer", i32), ("head", i32), ("weights", pa.large_binary())])
    mean = pa.struct([("layer", i32), ("weights", pa.large_binary())])
    pairs = pa.struct([("method_a", pa.string()), ("method_b", pa.string()), ("rho", f64)])
    return pa.schema(
        [
            ("text_id", pa.int64()),
            ("text", pa.string()),
            ("source", pa.string()),
            ("gold", f64),
            ("prediction", f64),
            ("predicted_label", pa.string()),
            ("output", pa.list_(f64)),
            ("truncated", pa.bool_()),
            ("full_length", pa.int64()),
            ("words_mode", pa.string()),
            ("words_offsets_rebuilt", pa.bool_()),
            *[(f"{m}_{k}", CHECK_TYPES[k]) for m in check_methods for k in CHECK_FIELDS],
            ("tokens", pa.list_(token)),
            ("words", pa.list_(word)),
            ("alignment", pa.list_(alignment)),
            ("faithfulness", pa.list_(faith)),
            ("word_faithfulness", pa.list_(faith)),
            ("attention", pa.list_(heads)),
            ("attention_mean", pa.list_(mean)),
            ("agreement", pa.list_(pairs)),
        ]
    )


def _leaf_paths(schema: pa.Schema) -> list[str]:
    """Parquet's names for the schema's leaf columns (``attention.list.element.weights``)."""

    def walk(prefix: str, type_: pa.DataType) -> list[str]:
        if pa.types.is_list(type_) or pa.types.is_large_list(type_):
            return walk(f"{prefix}.list.element", type_.value_type)
        if pa.types.is_struct(type_):
            return [p for f in type_ for p in walk(f"{prefix}.{f.name}", f.type)]
        return [prefix]

    return [p for f in schema for p in walk(f.name, f.type)]


def _score_methods(records: Sequence[TextRecord]) -> list[str]:
    names = list(records[0].scores) if records else []
    for name in names:
        if name in TOKEN_FIELDS or name in WORD_TYPES:
            raise ValueError(f"method {name!r}: the name of a fixed column of the tokens or words table")
    for record in records:
        if set(record.scores) != set(names):
            raise ValueError(f"text {record.text_id}: scores for {sorted(record.scores)}, other texts have {sorted(names)}")
    return names


def _check_methods(records: Sequence[TextRecord], score_methods: Sequence[str]) -> list[str]:
    return [
        m
        for m in score_methods
        if any(getattr(r.scores[m], k) is not None for r in records for k in CHECK_FIELDS)
    ]


# Fields each stored type is known to have; a field added later must be stored before it is set.
_KNOWN = {
    # ``display`` (the page's coded attention) is derived from ``heads_q`` and rebuilt on render.
    TextRecord: {"item", "extraction", "scores", "faithfulness", "agreement", "words", "word_faithfulness", "display"},
    TextWords: {"mode", "words", "alignment", "offsets_rebuilt", "rebuilt_offsets"},
    Word: set(_scalar_fields(Word, ())),
    InputText: {"text_id", "text", "source", "gold"},
    TextExtraction: {"encoded", "output", "prediction", "predicted_label", "layer_mean", "heads_q"},
    EncodedText: {"text_id", "input_ids", "tokens", "offsets", "special", "truncated", "full_length"},
    TokenScores: {"method", "text_id", "scores", *CHECK_FIELDS},
    Faithfulness: {"text_id", *FAITHFULNESS_SCALARS, "curve"},
    DeletionCurve: set(CURVE_FIELDS),
    TextAgreement: {"text_id", "methods", "matrix"},
    Agreement: {"methods", "per_text", "mean", "counts"},
}


def _is_default(f: Any, value: Any) -> bool:
    default = f.default if f.default is not MISSING else (f.default_factory() if f.default_factory is not MISSING else MISSING)
    try:
        return default is not MISSING and bool(value == default)
    except Exception:  # an array or an odd __eq__: treat as set
        return False


_UNSTORED: dict[type, tuple[Any, tuple[Any, ...]]] = {}


def _unstored_fields(cls: type) -> tuple[Any, ...]:
    """The fields of ``cls`` this schema does not store: usually none, so the check costs nothing
    per object (tens of objects per text). Kept per class with the ``_KNOWN`` entry it came from."""
    known = _KNOWN[cls]
    hit = _UNSTORED.get(cls)
    if hit is None or hit[0] is not known:
        hit = _UNSTORED[cls] = (known, tuple(f for f in fields(cls) if f.name not in known))
    return hit[1]


def _check_fields(obj: Any) -> None:
    """Refuse a value in a field this schema does not store (a silent loss would break ``render``)."""
    for f in _unstored_fields(type(obj)):
        if not _is_default(f, getattr(obj, f.name)):
            raise ValueError(
                f"{type(obj).__name__}.{f.name}: not stored by data file schema {SCHEMA_VERSION}; "
                "add it to reportgen.data before setting it"
            )


def _check_record(record: TextRecord, score_methods: Sequence[str], heads: bool = True) -> None:
    """Refuse a record the file cannot store as it is; ``heads=False``: a record whose heads
    are written from another copy (:func:`write_data`'s ``rows``) may hold none."""
    x = record.extraction
    enc = x.encoded
    for obj in (record, record.item, x, enc, *record.scores.values()):
        _check_fields(obj)
    for f in [*record.faithfulness.values(), *record.word_faithfulness.values()]:
        _check_fields(f)
        _check_fields(f.curve)
    if record.agreement is not None:
        _check_fields(record.agreement)
    if record.words is not None:
        _check_fields(record.words)
        for word in record.words.words:
            _check_fields(word)
        rebuilt = record.words.rebuilt_offsets
        if rebuilt is not None and len(rebuilt) != len(enc.tokens):
            raise ValueError(f"text {record.text_id}: {len(rebuilt)} rebuilt offsets for {len(enc.tokens)} tokens")
    n = len(enc.tokens)
    where = f"text {record.text_id}"
    if not (len(enc.input_ids) == len(enc.special) == n) or (enc.offsets is not None and len(enc.offsets) != n):
        raise ValueError(f"{where}: tokens, ids, special flags and offsets differ in length")
    if x.heads_q.dtype != np.uint16 or x.layer_mean.dtype != np.float32:
        raise ValueError(f"{where}: attention must be uint16 heads and float32 means, got {x.heads_q.dtype} and {x.layer_mean.dtype}")
    if not heads and x.heads_q.shape[:2] == (0, 0):
        if x.layer_mean.ndim != 3 or x.layer_mean.shape[1:] != (n, n):
            raise ValueError(f"{where}: attention means of shape {x.layer_mean.shape} for {n} tokens")
    elif x.heads_q.ndim != 4 or x.heads_q.shape[2:] != (n, n) or x.layer_mean.shape != (x.heads_q.shape[0], n, n):
        raise ValueError(f"{where}: attention shapes {x.heads_q.shape} and {x.layer_mean.shape} for {n} tokens")
    for name in score_methods:
        if np.shape(record.scores[name].scores) != (n,):
            raise ValueError(f"{where}: {name} has {np.shape(record.scores[name].scores)} scores for {n} tokens")


def _faithfulness_json(
    report: FaithfulnessReport | None, records: Sequence[TextRecord], per_text: str = "faithfulness"
) -> dict | None:
    """The report-level part of a faithfulness report; its per-text results are the records'
    ``per_text`` field (``faithfulness``, or ``word_faithfulness`` for ``by_word``)."""
    if report is None:
        return None
    stored = tuple(f for r in records for f in getattr(r, per_text).values())
    if stored != report.per_text:  # tuple comparison: identical objects match, NaN included
        raise ValueError(
            f"the faithfulness report's per-text results are not the records' {per_text} (stored once, with the records)"
        )
    out: dict[str, Any] = {"summary": [_jsonable(s) for s in report.summary]}
    # Every other field (best, fractions, rules, unit, ...) is plain data, stored as it is.
    for f in fields(report):
        value = getattr(report, f.name)
        if f.name in ("per_text", "summary"):
            continue
        if f.name in WORD_REPORTS:
            out[f.name] = _faithfulness_json(value, records, WORD_REPORTS[f.name])
        elif _plain(value):
            out[f.name] = _jsonable(value)
        elif not _is_default(f, value):
            raise ValueError(
                f"FaithfulnessReport.{f.name}: not stored by data file schema {SCHEMA_VERSION}; "
                "add it to reportgen.data before setting it"
            )
    return out


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int, float, np.generic)):
        return True
    return isinstance(value, (tuple, list)) and all(_plain(v) for v in value)


def _same_agreement(a: TextAgreement | None, b: TextAgreement | None) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    return a.text_id == b.text_id and a.methods == b.methods and np.array_equal(a.matrix, b.matrix, equal_nan=True)


def _agreement_json(agreed: Agreement | None, records: Sequence[TextRecord]) -> dict | None:
    if agreed is None:
        return None
    _check_fields(agreed)
    stored = [r.agreement for r in records if r.agreement is not None]
    if len(stored) != len(agreed.per_text) or not all(_same_agreement(a, b) for a, b in zip(stored, agreed.per_text)):
        raise ValueError("the agreement's per-text matrices are not the records' (stored once, with the records)")
    return {
        "methods": list(agreed.methods),
        "mean": _jsonable(np.asarray(agreed.mean, dtype=np.float64)),
        "counts": _jsonable(np.asarray(agreed.counts)),
    }


def _row_groups(records: Iterable[TextRecord], attention: str) -> Iterator[list[TextRecord]]:
    """Consecutive records in row groups of at most ``ROW_GROUP_TEXTS`` texts and
    ``ROW_GROUP_VALUES`` attention values, each yielded as soon as it closes (the records are
    read as they come: only one group is held)."""
    current: list[TextRecord] = []
    values = 0
    for record in records:
        size = record.extraction.heads_q.size if attention != "none" else 0
        if current and (len(current) >= ROW_GROUP_TEXTS or values + size > ROW_GROUP_VALUES):
            yield current
            current, values = [], 0
        current.append(record)
        values += size
    if current:
        yield current


def _offsets(lengths: Sequence[int], dtype: Any = np.int32) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out.astype(dtype)


def _list(lengths: Sequence[int], values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(_offsets(lengths)), values)


def _stored_layers(num_layers: int, attention: str) -> tuple[range, range]:
    """(layers whose heads are stored, layers whose head mean is stored)."""
    if attention == "all":
        return range(num_layers), range(num_layers)
    if attention == "mean":
        return range(0), range(num_layers)
    if attention == "last":
        return range(num_layers - 1, num_layers), range(num_layers - 1, num_layers)
    return range(0), range(0)


def _chunk_table(
    chunk: Sequence[TextRecord],
    schema: pa.Schema,
    score_methods: Sequence[str],
    check_methods: Sequence[str],
    attention: str,
) -> pa.Table:
    columns: dict[str, Any] = {
        "text_id": [r.text_id for r in chunk],
        "text": [r.item.text for r in chunk],
        "source": [r.item.source for r in chunk],
        "gold": [None if r.item.gold is None else float(r.item.gold) for r in chunk],
        "prediction": [float(r.extraction.prediction) for r in chunk],
        "predicted_label": [r.extraction.predicted_label for r in chunk],
        "output": _list(
            [np.size(r.extraction.output) for r in chunk],
            pa.array(_concat([np.asarray(r.extraction.output, dtype=np.float64).ravel() for r in chunk], np.float64)),
        ),
        "truncated": [bool(r.encoded.truncated) for r in chunk],
        "full_length": [int(r.encoded.full_length) for r in chunk],
        "words_mode": [None if r.words is None else str(r.words.mode) for r in chunk],
        "words_offsets_rebuilt": [None if r.words is None else bool(r.words.offsets_rebuilt) for r in chunk],
    }
    for m in check_methods:
        for k in CHECK_FIELDS:
            columns[f"{m}_{k}"] = [_scalar(getattr(r.scores[m], k)) for r in chunk]
    columns["tokens"] = _tokens_column(chunk, score_methods)
    columns["words"], columns["alignment"] = _words_columns(chunk, schema, score_methods)
    for name in ("faithfulness", "word_faithfulness"):
        columns[name] = _faithfulness_column(chunk, name, schema.field(name).type)
    columns["attention"], columns["attention_mean"] = _attention_columns(chunk, attention)
    columns["agreement"] = _agreement_column(chunk, schema.field("agreement").type)
    arrays = []
    for field in schema:
        value = columns[field.name]
        array = value if isinstance(value, pa.Array) else pa.array(value, type=field.type)
        arrays.append(array if array.type == field.type else array.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _concat(parts: Sequence[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def _scalar(value: Any) -> Any:
    """A numpy scalar as the Python value pyarrow stores exactly (None stays None)."""
    return value.item() if isinstance(value, np.generic) else value


def _tokens_column(chunk: Sequence[TextRecord], score_methods: Sequence[str]) -> pa.Array:
    lengths = [len(r.encoded.tokens) for r in chunk]
    starts: list[int | None] = []
    ends: list[int | None] = []
    rebuilt_starts: list[int | None] = []
    rebuilt_ends: list[int | None] = []
    word_ids: list[int] = []
    for r, n in zip(chunk, lengths):
        for offsets, a_out, b_out in (
            (r.encoded.offsets, starts, ends),
            (r.words.rebuilt_offsets if r.words is not None else None, rebuilt_starts, rebuilt_ends),
        ):
            if offsets is None:
                a_out += [None] * n
                b_out += [None] * n
            else:
                a_out += [int(a) for a, _ in offsets]
                b_out += [int(b) for _, b in offsets]
        word_ids += list(r.words.token_word_ids) if r.words is not None else [-1] * n
    children = [
        pa.array(_concat([np.arange(n, dtype=np.int32) for n in lengths], np.int32)),
        pa.array([p for r in chunk for p in r.encoded.tokens], type=pa.string()),
        pa.array(starts, type=pa.int32()),
        pa.array(ends, type=pa.int32()),
        pa.array(_concat([np.asarray(r.encoded.special, dtype=bool) for r in chunk], bool)),
        pa.array(_concat([np.asarray(r.encoded.input_ids, dtype=np.int64) for r in chunk], np.int64)),
        pa.array(word_ids, type=pa.int32()),
        pa.array(rebuilt_starts, type=pa.int32()),
        pa.array(rebuilt_ends, type=pa.int32()),
        pa.array(_concat([r.extraction.cls_attention for r in chunk], np.float32)),
        pa.array(_concat([r.extraction.mean_received for r in chunk], np.float32)),
        *[
            pa.array(_concat([np.asarray(r.scores[m].scores, dtype=np.float64) for r in chunk], np.float64))
            for m in score_methods
        ],
    ]
    struct = pa.StructArray.from_arrays(children, names=[*TOKEN_FIELDS, *score_methods])
    return _list(lengths, struct)


def _words_columns(chunk: Sequence[TextRecord], schema: pa.Schema, score_methods: Sequence[str]) -> tuple[pa.Array, pa.Array]:
    """The words (with every method's word score, as the report computes it) and the alignment."""
    words: list[list[dict]] = []
    alignment: list[list[dict]] = []
    for r in chunk:
        if r.words is None:
            words.append([])
            alignment.append([])
            continue
        scores = {m: r.words.scores(r.scores[m].scores) for m in score_methods}
        rows = []
        for k, w in enumerate(r.words.words):
            row = {WORD_RENAMED.get(name, name): _scalar(getattr(w, name)) for name in _scalar_fields(Word, ())}
            row.update({m: float(scores[m][k]) for m in score_methods})
            rows.append(row)
        words.append(rows)
        alignment.append(
            [
                {"position": i, "word_id": int(j), "share": float(share)}
                for i, pairs in enumerate(r.words.alignment)
                for j, share in pairs
            ]
        )
    return pa.array(words, type=schema.field("words").type), pa.array(alignment, type=schema.field("alignment").type)


def _faithfulness_column(chunk: Sequence[TextRecord], attr: str, type_: pa.DataType) -> pa.Array:
    rows = []
    for r in chunk:
        entries = []
        for f in getattr(r, attr).values():
            entry = {name: getattr(f, name) for name in FAITHFULNESS_SCALARS}
            entry.update({name: getattr(f.curve, name) for name in CURVE_FIELDS})
            entries.append(entry)
        rows.append(entries)
    return pa.array(rows, type=type_)


def _attention_columns(chunk: Sequence[TextRecord], attention: str) -> tuple[pa.Array, pa.Array]:
    head_layers: list[np.ndarray] = []
    head_ids: list[np.ndarray] = []
    head_values: list[np.ndarray] = []
    head_lengths: list[int] = []
    head_entries: list[int] = []
    mean_layers: list[np.ndarray] = []
    mean_values: list[np.ndarray] = []
    mean_lengths: list[int] = []
    mean_entries: list[int] = []
    for r in chunk:
        x = r.extraction
        layers, heads, n = x.heads_q.shape[0], x.heads_q.shape[1], len(r.encoded.tokens)
        with_heads, with_mean = _stored_layers(layers, attention)
        if len(with_heads):
            head_layers.append(np.repeat(np.asarray(with_heads, dtype=np.int32), heads))
            head_ids.append(np.tile(np.arange(heads, dtype=np.int32), len(with_heads)))
            head_values.append(np.ascontiguousarray(x.heads_q[with_heads.start : with_heads.stop], dtype="<u2").reshape(-1))
        head_entries.append(len(with_heads) * heads)
        head_lengths += [2 * n * n] * (len(with_heads) * heads)
        if len(with_mean):
            mean_layers.append(np.asarray(with_mean, dtype=np.int32))
            mean_values.append(np.ascontiguousarray(x.layer_mean[with_mean.start : with_mean.stop], dtype="<f4").reshape(-1))
        mean_entries.append(len(with_mean))
        mean_lengths += [4 * n * n] * len(with_mean)
    heads_struct = pa.StructArray.from_arrays(
        [
            pa.array(_concat(head_layers, np.int32)),
            pa.array(_concat(head_ids, np.int32)),
            _matrices(head_lengths, _concat(head_values, "<u2")),
        ],
        names=["layer", "head", "weights"],
    )
    mean_struct = pa.StructArray.from_arrays(
        [pa.array(_concat(mean_layers, np.int32)), _matrices(mean_lengths, _concat(mean_values, "<f4"))],
        names=["layer", "weights"],
    )
    return _list(head_entries, heads_struct), _list(mean_entries, mean_struct)


def _matrices(sizes: Sequence[int], values: np.ndarray) -> pa.Array:
    """One little-endian binary value per matrix (``sizes`` in bytes), without copying ``values``."""
    offsets = _offsets(sizes, np.int64)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(sizes), [None, pa.py_buffer(offsets), pa.py_buffer(values.view(np.uint8))]
    )


def _agreement_column(chunk: Sequence[TextRecord], type_: pa.DataType) -> pa.Array:
    rows: list[list[dict] | None] = []
    for r in chunk:
        a = r.agreement
        if a is None:
            rows.append(None)
            continue
        matrix = np.asarray(a.matrix, dtype=np.float64)
        rows.append(
            [
                {"method_a": ma, "method_b": mb, "rho": float(matrix[i, j])}
                for i, ma in enumerate(a.methods)
                for j, mb in enumerate(a.methods)
            ]
        )
    return pa.array(rows, type=type_)


def _jsonable(value: Any) -> Any:
    """Plain JSON for the metadata; non-finite floats become the strings NaN, Infinity, -Infinity."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isfinite(v):
            return v
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"cannot store {type(value).__name__} in the data file's metadata")


# --- Reading -------------------------------------------------------------------------------


def _name(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return printable(os.fspath(source))
    return printable(getattr(source, "name", "<data>"))


def _raw(source: Source, name: str) -> Any:
    """Something pyarrow can read, after checking the Parquet magic bytes at both ends."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(os.fspath(source))
        try:
            with open(path, "rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(0)
                head = handle.read(4)
                handle.seek(max(size - 4, 0))
                tail = handle.read(4)
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{name}: is a folder, not a data file") from None
        except OSError as err:
            raise InputError(f"{name}: cannot read ({err.strerror or short(err)})") from None
        reader: Any = str(path)
    else:
        data = source if isinstance(source, (bytes, bytearray, memoryview)) else source.read()
        data = bytes(data)
        size, head, tail = len(data), data[:4], data[-4:]
        reader = pa.BufferReader(data)
    if head != b"PAR1":
        raise SchemaError(f"{name}: not a reportgen data file (not a Parquet file)")
    if size < 12 or tail != b"PAR1":
        raise SchemaError(f"{name}: truncated or corrupt data file (the Parquet footer is missing)")
    return reader


def _open(source: Source) -> tuple[str, pq.ParquetFile, dict]:
    name = _name(source)
    reader = _raw(source, name)
    try:
        parquet = pq.ParquetFile(reader)
        key_values = parquet.metadata.metadata or {}
    except (pa.ArrowException, OSError, ValueError) as err:
        raise SchemaError(f"{name}: truncated or corrupt data file ({short(err, 120)})") from None
    document = key_values.get(METADATA_KEY)
    if document is None:
        raise SchemaError(f"{name}: not a reportgen data file (a Parquet file without reportgen metadata)")
    try:
        meta = json.loads(document.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SchemaError(f"{name}: corrupt data file (its reportgen metadata is not JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SchemaError(f"{name}: not a reportgen data file (unknown metadata format)")
    version = meta.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SchemaError(f"{name}: data file without a schema version; this reportgen reads version {SCHEMA_VERSION}")
    if version != SCHEMA_VERSION:
        raise SchemaError(f"{name}: data file schema version {version}; this reportgen reads version {SCHEMA_VERSION}")
    return name, parquet, meta


class _Corrupt(Exception):
    """Internal: the file's content contradicts its schema."""


def read_metadata(source: Source) -> dict:
    """The ``reportgen`` JSON document of a data file (checked: format and schema version)."""
    return _open(source)[2]


def read_data(source: Source, *, heads: bool = True) -> StoredRun:
    """Everything a data file holds, as the stages' types (numbers bit-identical to those written).

    ``heads=False``: the ``attention`` table (every head, the heavy part) is not read; each
    extraction's ``heads_q`` is then empty ``(0, 0, n, n)``, as a run that keeps no heads has it.
    """
    name, parquet, meta = _open(source)
    try:
        return _decode(name, parquet, meta, heads)
    except SchemaError:
        raise
    except (_Corrupt, pa.ArrowException, OSError, KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
        detail = f"missing {err}" if isinstance(err, KeyError) else short(err, 160)
        raise SchemaError(f"{name}: corrupt data file ({detail})") from None


def _decode(name: str, parquet: pq.ParquetFile, meta: dict, heads: bool = True) -> StoredRun:
    attention = meta["attention"]
    if attention not in ATTENTION_MODES:
        raise _Corrupt(f"unknown attention mode {attention!r}")
    if meta["quant_scale"] != QUANT_SCALE:
        raise _Corrupt(f"attention quantised with scale {meta['quant_scale']}, not {QUANT_SCALE}")
    score_methods = [str(m) for m in meta["score_methods"]]
    check_methods = [str(m) for m in meta["check_methods"]]
    records: list[TextRecord] = []
    columns = None if heads else [n for n in parquet.schema_arrow.names if n != "attention"]
    for group in range(parquet.num_row_groups):
        for batch in parquet.read_row_group(group, columns=columns).to_batches():
            records += _decode_batch(batch, score_methods, check_methods)
    if len(records) != meta["texts"]:
        raise _Corrupt(f"{len(records)} texts, the metadata says {meta['texts']}")
    faith = meta["faithfulness"]
    faithfulness = None
    if faith is not None:
        faithfulness = _faithfulness_from_json(faith, records, "faithfulness")
    agreed = None
    if meta["agreement"] is not None:
        a = meta["agreement"]
        m = len(a["methods"])
        agreed = Agreement(
            methods=tuple(str(x) for x in a["methods"]),
            per_text=tuple(r.agreement for r in records if r.agreement is not None),
            mean=np.array([[_float(v) for v in row] for row in a["mean"]], dtype=np.float64).reshape(m, m),
            counts=np.array(a["counts"], dtype=np.int64).reshape(m, m),
        )
    return StoredRun(
        run=_from_json(RunInfo, meta["run"]),
        model=_from_json(ModelInfo, meta["model"]),
        methods=tuple(_from_json(MethodInfo, m) for m in meta["methods"]),
        records=tuple(records),
        faithfulness=faithfulness,
        agreement=agreed,
        ig_tolerance=_float(meta["ig_tolerance"]),
        attention=attention,
        schema_version=meta["schema_version"],
        source=name,
    )


def _faithfulness_from_json(data: Mapping[str, Any] | None, records: Sequence[TextRecord], per_text: str) -> Any:
    if data is None:
        return None
    return _from_json(
        FaithfulnessReport,
        data,
        per_text=tuple(f for r in records for f in getattr(r, per_text).values()),
        summary=tuple(_from_json(MethodSummary, s) for s in data["summary"]),
        **{name: _faithfulness_from_json(data.get(name), records, attr) for name, attr in WORD_REPORTS.items()},
    )


def _float(value: Any) -> float:
    if isinstance(value, str):
        if value not in _NONFINITE:
            raise _Corrupt(f"{value!r} is not a number")
        return _NONFINITE[value]
    return float(value)


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value


def _from_json(cls: type, data: Mapping[str, Any], **given: Any) -> Any:
    """A dataclass from its JSON object (``given`` fields aside): lists become tuples, and
    float-typed fields turn the strings NaN, Infinity, -Infinity back into numbers."""
    kwargs = dict(given)
    for f in fields(cls):
        if f.name in given:
            continue
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise _Corrupt(f"{cls.__name__} without {f.name}")
            continue
        value = data[f.name]
        if "float" in str(f.type):
            value = _nonfinite(value)
        kwargs[f.name] = _tuplify(value)
    return cls(**kwargs)


def _nonfinite(value: Any) -> Any:
    if isinstance(value, list):
        return [_nonfinite(v) for v in value]
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    return value


def _struct_fields(array: pa.Array) -> dict[str, pa.Array]:
    return {f.name: child for f, child in zip(array.type, array.flatten())}


def _decode_batch(batch: pa.RecordBatch, score_methods: Sequence[str], check_methods: Sequence[str]) -> list[TextRecord]:
    col = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
    rows = batch.num_rows
    scalars = {
        name: col[name].to_pylist()
        for name in (
            "text_id",
            "text",
            "source",
            "gold",
            "prediction",
            "predicted_label",
            "truncated",
            "full_length",
            "words_mode",
            "words_offsets_rebuilt",
        )
    }
    # A column of an optional value a file does not have (written before it existed) reads as None.
    checks = {
        f"{m}_{k}": col[f"{m}_{k}"].to_pylist() if f"{m}_{k}" in col else [None] * rows
        for m in check_methods
        for k in CHECK_FIELDS
    }
    out_offsets = col["output"].offsets.to_numpy()
    out_values = col["output"].values.to_numpy(zero_copy_only=False)

    tok = col["tokens"]
    t_offsets = tok.offsets.to_numpy()
    t = _struct_fields(tok.values)
    pieces = t["piece"].to_pylist()
    starts, ends = t["start"].to_pylist(), t["end"].to_pylist()
    rebuilt_starts, rebuilt_ends = t["rebuilt_start"].to_pylist(), t["rebuilt_end"].to_pylist()
    positions = t["position"].to_numpy(zero_copy_only=False)
    special = t["is_special"].to_numpy(zero_copy_only=False)
    input_ids = t["input_id"].to_numpy(zero_copy_only=False)
    scores = {m: t[m].to_numpy(zero_copy_only=False) for m in score_methods}

    faith_rows = col["faithfulness"].to_pylist()
    word_faith_rows = col["word_faithfulness"].to_pylist()
    word_rows = col["words"].to_pylist()
    alignment_rows = col["alignment"].to_pylist()
    agree_rows = col["agreement"].to_pylist()
    heads = _Entries(col["attention"], with_head=True) if "attention" in col else None
    means = _Entries(col["attention_mean"], with_head=False)

    records = []
    for row in range(rows):
        text_id = int(scalars["text_id"][row])
        a, b = int(t_offsets[row]), int(t_offsets[row + 1])
        n = b - a
        if not np.array_equal(positions[a:b], np.arange(n)):
            raise _Corrupt(f"text {text_id}: token positions out of order")
        has_offsets = any(s is not None for s in starts[a:b])
        encoded = EncodedText(
            text_id=text_id,
            input_ids=tuple(int(i) for i in input_ids[a:b]),
            tokens=tuple(pieces[a:b]),
            offsets=tuple((int(s), int(e)) for s, e in zip(starts[a:b], ends[a:b])) if has_offsets else None,
            special=tuple(bool(s) for s in special[a:b]),
            truncated=bool(scalars["truncated"][row]),
            full_length=int(scalars["full_length"][row]),
        )
        layer_mean = means.matrices(row, n, np.float32, text_id)
        heads_q = heads.matrices(row, n, np.uint16, text_id) if heads is not None else np.zeros((0, 0, n, n), dtype=np.uint16)
        extraction = TextExtraction(
            encoded=encoded,
            output=out_values[out_offsets[row] : out_offsets[row + 1]].astype(np.float64, copy=True),
            prediction=float(scalars["prediction"][row]),
            predicted_label=scalars["predicted_label"][row],
            layer_mean=layer_mean,
            heads_q=heads_q,
        )
        item = InputText(text_id, scalars["text"][row], scalars["source"][row], scalars["gold"][row])
        text_scores = {}
        for m in score_methods:
            extra = {k: checks[f"{m}_{k}"][row] for k in CHECK_FIELDS} if m in check_methods else {}
            text_scores[m] = TokenScores(m, text_id, scores[m][a:b].astype(np.float64, copy=True), **extra)
        words = None
        if scalars["words_mode"][row] is not None:
            words = _text_words(
                text_id,
                n,
                scalars["words_mode"][row],
                bool(scalars["words_offsets_rebuilt"][row]),
                word_rows[row],
                alignment_rows[row],
                rebuilt_starts[a:b],
                rebuilt_ends[a:b],
            )
        records.append(
            TextRecord(
                item=item,
                extraction=extraction,
                scores=text_scores,
                faithfulness=_faithfulness_entries(text_id, faith_rows[row]),
                agreement=_text_agreement(text_id, agree_rows[row]),
                words=words,
                word_faithfulness=_faithfulness_entries(text_id, word_faith_rows[row]),
            )
        )
    return records


def _faithfulness_entries(text_id: int, entries: list[dict]) -> dict[str, Faithfulness]:
    out = {}
    for entry in entries:
        curve = DeletionCurve(
            fractions=tuple(entry["fractions"]),
            removed=tuple(entry["removed"]),
            without_top=tuple(entry["without_top"]),
            only_top=tuple(entry["only_top"]),
            without_top_std=None if entry["without_top_std"] is None else tuple(entry["without_top_std"]),
            content=entry["content"],
        )
        result = Faithfulness(text_id=text_id, curve=curve, **{k: entry[k] for k in FAITHFULNESS_SCALARS})
        out[result.method] = result
    return out


def _text_words(
    text_id: int,
    n: int,
    mode: str,
    offsets_rebuilt: bool,
    rows: list[dict],
    pairs: list[dict],
    rebuilt_starts: list[int | None],
    rebuilt_ends: list[int | None],
) -> TextWords:
    names = {WORD_RENAMED.get(k, k): k for k in _scalar_fields(Word, ())}
    words = tuple(Word(**{field: row[column] for column, field in names.items()}) for row in rows)
    if [w.index for w in words] != list(range(len(words))):
        raise _Corrupt(f"text {text_id}: words out of order")
    alignment: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    last = -1
    for pair in pairs:
        position = pair["position"]
        if not last <= position < n:
            raise _Corrupt(f"text {text_id}: alignment out of order")
        alignment[position].append((int(pair["word_id"]), float(pair["share"])))
        last = position
    has_rebuilt = any(v is not None for v in rebuilt_starts)
    return TextWords(
        mode=mode,  # type: ignore[arg-type]
        words=words,
        alignment=tuple(tuple(p) for p in alignment),
        offsets_rebuilt=offsets_rebuilt,
        rebuilt_offsets=tuple((int(a), int(b)) for a, b in zip(rebuilt_starts, rebuilt_ends)) if has_rebuilt else None,
    )


class _Entries:
    """One text's stored attention matrices (a list<struct<layer, [head], weights>> column)."""

    def __init__(self, column: pa.Array, with_head: bool) -> None:
        self.offsets = column.offsets.to_numpy()
        children = _struct_fields(column.values)
        self.layers = children["layer"].to_numpy(zero_copy_only=False)
        self.heads = children["head"].to_numpy(zero_copy_only=False) if with_head else None
        weights = children["weights"]
        _, offsets, values = weights.buffers()
        self.weight_offsets = np.frombuffer(offsets, dtype=np.int64)[weights.offset : weights.offset + len(weights) + 1]
        self.values = np.frombuffer(values, dtype=np.uint8) if values is not None else np.zeros(0, dtype=np.uint8)

    def matrices(self, row: int, n: int, dtype: Any, text_id: int) -> np.ndarray:
        """``(layers, heads, n, n)`` or ``(layers, n, n)`` in ``dtype`` (stored little-endian)."""
        stored = np.dtype(dtype).newbyteorder("<")
        e0, e1 = int(self.offsets[row]), int(self.offsets[row + 1])
        count = e1 - e0
        if count == 0:
            return np.zeros((0, 0, n, n) if self.heads is not None else (0, n, n), dtype=dtype)
        sizes = np.diff(self.weight_offsets[e0 : e1 + 1])
        if not np.all(sizes == n * n * stored.itemsize):
            raise _Corrupt(f"text {text_id}: an attention matrix is not {n}x{n}")
        layers = self.layers[e0:e1]
        unique = list(dict.fromkeys(int(v) for v in layers))
        if unique != sorted(unique):
            raise _Corrupt(f"text {text_id}: attention layers out of order")
        slab = self.values[self.weight_offsets[e0] : self.weight_offsets[e1]].view(stored)
        if self.heads is None:
            if len(unique) != count:
                raise _Corrupt(f"text {text_id}: a layer's head mean stored twice")
            return slab.astype(dtype, copy=True).reshape(count, n, n)
        per_layer = count // len(unique)
        expected_layers = np.repeat(np.asarray(unique), per_layer)
        expected_heads = np.tile(np.arange(per_layer), len(unique))
        if count % len(unique) or not (np.array_equal(layers, expected_layers) and np.array_equal(self.heads[e0:e1], expected_heads)):
            raise _Corrupt(f"text {text_id}: attention heads incomplete or out of order")
        return slab.astype(dtype, copy=True).reshape(len(unique), per_layer, n, n)


def _text_agreement(text_id: int, pairs: list[dict] | None) -> TextAgreement | None:
    if pairs is None:
        return None
    m = math.isqrt(len(pairs))
    if m * m != len(pairs):
        raise _Corrupt(f"text {text_id}: {len(pairs)} agreement pairs is not a square")
    methods = tuple(p["method_b"] for p in pairs[:m])
    if [(p["method_a"], p["method_b"]) for p in pairs] != [(a, b) for a in methods for b in methods]:
        raise _Corrupt(f"text {text_id}: agreement pairs out of order")
    matrix = np.array([p["rho"] for p in pairs], dtype=np.float64).reshape(m, m)
    return TextAgreement(text_id, methods, matrix)


# --- Rendering from a data file ------------------------------------------------------------


def report_from_data(stored: StoredRun, max_bytes: int | None = None) -> Report:
    """The report model of a stored run, exactly as the direct run built it for a page of at
    most ``max_bytes`` (the run's ``--max-size``; None: no limit).

    Needs every head (``--data-attention all``): the page's heatmaps show any layer and head.
    """
    if stored.attention != "all":
        raise InputError(
            f"{stored.source}: stored with --data-attention {stored.attention}; a report needs every "
            "attention head (--data-attention all)"
        )
    from .budget import with_display
    from .report import build_report

    return build_report(
        stored.run,
        stored.model,
        with_display(stored.records, max_bytes),
        stored.methods,
        faithfulness=stored.faithfulness,
        agreement=stored.agreement,
        ig_tolerance=stored.ig_tolerance,
    )


def render_data(source: Source, max_bytes: int | None = None) -> str:
    """The HTML report of a data file (``reportgen render FILE.parquet``), without the model,
    within ``max_bytes`` (None: no limit; the CLI's default is ``--max-size 10``, as for a run)."""
    from .render import render_html

    return render_html(report_from_data(read_data(source), max_bytes), max_bytes)


# --- Tables for readers ----------------------------------------------------------------------


def read_tables(source: Source, tables: Sequence[str] | None = None) -> DataTables:
    """Each stored table as a flat DataFrame; ``tables`` limits which per-text tables are read.

    ``texts`` is always read. Every per-text table gets a ``text_id`` column first. Columns are
    pyarrow-backed (``pd.ArrowDtype``), so a missing value stays distinct from NaN and lists
    (curves, attention weights) stay Arrow lists.
    """
    import pandas as pd

    name, parquet, meta = _open(source)
    schema = parquet.schema_arrow
    nested = [f.name for f in schema if _is_table_column(f.type)]
    wanted = nested if tables is None else [t for t in tables if t != TEXTS_TABLE]
    unknown = [t for t in wanted if t not in nested]
    if unknown:
        raise InputError(f"{name}: no table {unknown[0]!r}; tables: {', '.join([TEXTS_TABLE, *nested])}")
    plain = [f.name for f in schema if f.name not in nested]
    try:
        table = parquet.read(columns=plain + list(wanted))
    except (pa.ArrowException, OSError) as err:
        raise SchemaError(f"{name}: corrupt data file ({short(err, 160)})") from None
    frames = {TEXTS_TABLE: table.select(plain).to_pandas(types_mapper=pd.ArrowDtype)}
    for column in wanted:
        frames[column] = _flat(table, column).to_pandas(types_mapper=pd.ArrowDtype)
    return DataTables(metadata=meta, tables=frames)


def _is_table_column(type_: pa.DataType) -> bool:
    return pa.types.is_list(type_) and pa.types.is_struct(type_.value_type)


def _flat(table: pa.Table, column: str) -> pa.Table:
    """A per-text table: one row per list element, ``text_id`` first, then the struct's fields."""
    struct_type = table.schema.field(column).type.value_type
    parts = []
    for chunk, ids in zip(table.column(column).chunks, table.column("text_id").chunks):
        parents = pc.list_parent_indices(chunk)
        children = pc.list_flatten(chunk).flatten()
        parts.append(
            pa.Table.from_arrays(
                [pc.take(ids, parents), *children],
                names=["text_id", *[f.name for f in struct_type]],
            )
        )
    if not parts:
        return pa.schema([("text_id", pa.int64()), *struct_type]).empty_table()
    return pa.concat_tables(parts)


# --- The CSV exports as views of the tables ----------------------------------------------------


def tokens_frame(data: DataTables) -> Any:
    """``--csv``'s rows: one per token per text, the columns of :mod:`reportgen.export`
    (``ig_baseline_prediction`` when Integrated Gradients ran, ``word_id`` when there are words)."""
    import pandas as pd

    names = [m["name"] for m in data.metadata["methods"]]
    extra = [n for n in names if n not in CSV_ATTENTION_METHODS]
    texts = data["texts"].set_index("text_id")
    tokens = data["tokens"]
    ig_columns = [f"integrated_gradients_{k}" for k in IG_CHECK]
    with_ig_column = "integrated_gradients" in names and all(c in texts.columns for c in ig_columns)
    text_of = tokens["text_id"]

    def per_token(column: str) -> Any:
        return pd.array(texts[column].reindex(text_of).to_numpy(), dtype=texts[column].dtype)

    frame = pd.DataFrame(
        {
            "text_id": text_of,
            "text": per_token("text"),
            "position": tokens["position"],
            "token": tokens["piece"],
            "is_special": tokens["is_special"],
            "cls_attention": tokens["attention_cls"],
            "mean_received": tokens["attention_received"],
        }
    )
    for column in ("prediction", "gold", "truncated"):
        frame[column] = per_token(column)
    for method in extra:
        frame[method] = tokens[method]
    if with_ig_column:
        complete = texts[ig_columns].notna().all(axis=1)
        if complete.any():
            baseline = texts[ig_columns[0]].where(complete)
            frame["ig_baseline_prediction"] = pd.array(baseline.reindex(text_of).to_numpy(), dtype=texts[ig_columns[0]].dtype)
    if texts["words_mode"].notna().any():
        frame["word_id"] = tokens["word_id"]
    return frame.reset_index(drop=True)


def words_frame(data: DataTables) -> Any:
    """``--words-csv``'s rows: one per word per text with words, every method's word score."""
    names = [m["name"] for m in data.metadata["methods"]]
    words = data["words"]
    modes = data["texts"].set_index("text_id")["words_mode"]
    frame = words[["text_id", "word_id", "surface", "lemma", "start", "end", "pos"]].copy()
    frame["pos"] = frame["pos"].fillna("")
    frame["mode"] = modes.reindex(words["text_id"]).to_numpy()
    for method in names:
        frame[method] = words[method]
    return frame[[*CSV_WORD_COLUMNS, *names]].reset_index(drop=True)


def faithfulness_frame(data: DataTables) -> Any:
    """``--faithfulness-csv``'s rows: per text and method (``random`` last), token measures for
    every text, then word measures for the texts with words; curves as columns, then ``unit``
    when whole words were measured."""
    import pandas as pd

    meta = data.metadata
    names = [m["name"] for m in meta["methods"]]
    fractions = [_float(k) for k in meta["faithfulness"]["fractions"]] if meta["faithfulness"] else []
    curve_columns = [f"without_top_{k:g}" for k in fractions] + [f"only_top_{k:g}" for k in fractions]
    texts = data["texts"]
    with_words = set(texts.loc[texts["words_mode"].notna(), "text_id"])
    order = {name: i for i, name in enumerate([*names, RANDOM_METHOD])}
    text_order = {t: i for i, t in enumerate(texts["text_id"])}
    parts = []
    for table in ("faithfulness", "word_faithfulness"):
        stored = data[table]
        keep = stored["method"].isin(list(order))
        if table == "word_faithfulness":
            keep &= stored["text_id"].isin(list(with_words))
        rows = stored[keep].copy()
        rows["_order"] = rows["method"].map(order).astype("int64")
        rows["_text"] = rows["text_id"].map(text_order).astype("int64")
        parts.append(rows.sort_values(["_text", "_order"], kind="stable"))
    rows = pd.concat(parts, ignore_index=True)
    word_rows = data["word_faithfulness"]
    unit = bool(((word_rows["method"] == RANDOM_METHOD) & word_rows["text_id"].isin(list(with_words))).any())
    frame = rows[list(CSV_FAITHFULNESS_COLUMNS)].copy()
    # The curve at each checkpoint fraction: the step that removed round(k * content) units.
    curves = [
        DeletionCurve(tuple(), tuple(r or ()), tuple(w or ()), tuple(o or ()), None, int(c))
        for r, w, o, c in zip(rows["removed"].tolist(), rows["without_top"].tolist(), rows["only_top"].tolist(), rows["content"].tolist())
    ]
    at = [c.at_fractions(tuple(fractions)) for c in curves]
    for side, prefix in enumerate(("without_top", "only_top")):
        for k, fraction in enumerate(fractions):
            frame[f"{prefix}_{fraction:g}"] = pd.array(
                [None if k >= len(a[side]) or math.isnan(a[side][k]) else a[side][k] for a in at],
                dtype=pd.ArrowDtype(pa.float64()),
            )
    if unit:
        frame["unit"] = rows["unit"]
    return frame[list(CSV_FAITHFULNESS_COLUMNS) + curve_columns + (["unit"] if unit else [])]


def frame_csv(frame: Any) -> bytes:
    """A view frame as CSV, formatted as :mod:`reportgen.export` writes it (numbers ``.8g``, flags 0/1)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(frame.columns))
    columns = [frame[c].tolist() for c in frame.columns]
    writer.writerows([_cell(v) for v in row] for row in zip(*columns))
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if value is None or value is _pd_na():
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else format(float(value), ".8g")  # as export: NaN is an empty cell
    return str(value)


def _pd_na() -> Any:
    import pandas as pd

    return pd.NA


__all__ = [
    "ATTENTION_MODES",
    "SCHEMA_VERSION",
    "TABLES",
    "DataTables",
    "SchemaError",
    "StoredRun",
    "check_attention_mode",
    "faithfulness_frame",
    "frame_csv",
    "read_data",
    "read_metadata",
    "read_tables",
    "render_data",
    "report_from_data",
    "tokens_frame",
    "words_frame",
    "DataHeader",
    "data_header",
    "write_data",
    "write_rows",
]
