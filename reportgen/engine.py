"""Texts in chunks: the local engine, where the numbers of each chunk go, and how they are joined.

Owns the chunked computation behind every run (:func:`compute_chunk`: extraction, words, every
method, faithfulness and per-text agreement for one chunk of texts), the stores a chunk's
results go to (:class:`MemoryStore` for the Python API; :class:`PartStore`, one data file per
chunk in a folder, for the CLI, so a killed run can be resumed and memory does not grow with the
number of texts), the run fingerprint that ``--resume`` checks, and :func:`combine`, which
computes the aggregates that need every text (the faithfulness table and verdict, the mean
agreement) from the per-text numbers at the end.

A chunk's full attention only lives while that chunk is computed: the :class:`PartStore` writes
it to disk and keeps nothing. Within a chunk the stages batch as they always did, so a run whose
texts fit in one chunk computes exactly what an unchunked run computes; other chunk sizes change
which texts share a forward pass, and with it the last bits of some numbers (see
``docs/data-file.md``), which is why the chunk size is part of the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from .agreement import agreement, mean_agreement
from .errors import InputError
from .extraction import encode_texts, extract
from .faithfulness import evaluate_faithfulness, report_of
from .inputs import InputText
from .loading import LoadedModel
from .methods import Method, MethodContext, run_methods
from .report import RunInfo
from .types import DEFAULT_CHUNK_SIZE, DEFAULT_FAITHFULNESS, Agreement, Faithfulness, FaithfulnessReport, MethodInfo, ModelInfo, TextRecord, TokenScores
from .words import with_words

ATTENTION_BUDGET = 1 << 27
"""A chunk also closes before its attention (layers x heads x tokens^2 values per text, each kept
as uint16 plus the float32 head means) would pass this many values, about 300 MB: 256 sentences
on the sample model are one chunk, 128-token texts on a base-size model go 56 to a chunk,
512-token ones 3. Decided from the token counts before any model call, so the same inputs and
options always give the same chunks (``--resume`` relies on it)."""

MANIFEST = "run.json"
PART_GLOB = "chunk-*.parquet"


@dataclass(frozen=True, eq=False)
class ChunkResult:
    """One chunk's numbers: its records and the chunk-level reports they came with."""

    records: tuple[TextRecord, ...]
    faithfulness: FaithfulnessReport | None
    """This chunk's faithfulness (per_text: its texts only); the summary is recomputed by :func:`combine`."""
    agreement: Agreement | None


@dataclass(frozen=True)
class ChunkHeader:
    """What a part file stores besides its records (the final report takes these from the run)."""

    run: RunInfo
    model: ModelInfo
    methods: tuple[MethodInfo, ...]
    ig_tolerance: float


def plan_chunks(lengths: Sequence[int], per_square: int, size: int, budget: int = ATTENTION_BUDGET) -> list[range]:
    """Consecutive texts in chunks of at most ``size`` texts and ``budget`` attention values
    (``per_square * n * n`` for a text of ``n`` tokens; a single text may exceed it)."""
    if size < 1:
        raise InputError(f"--chunk-size {size}: must be at least 1")
    spans: list[range] = []
    start, values = 0, 0
    for i, n in enumerate(lengths):
        cost = per_square * n * n
        if i > start and (i - start >= size or values + cost > budget):
            spans.append(range(start, i))
            start, values = i, 0
        values += cost
    if start < len(lengths):
        spans.append(range(start, len(lengths)))
    return spans


def release_freed_memory() -> bool:
    """Hand the memory a finished chunk freed back to the system (glibc's ``malloc_trim``);
    False where there is no glibc.

    Why: a chunk's forward and backward passes allocate and free many blocks of a few MB, which
    glibc keeps in its heap once its mmap threshold has risen; the next chunk then peaks on top
    of what the last one left (measured: 20 texts of 128 tokens on a 12 x 12 model in chunks of
    10 peaked 180 MiB above 10 texts). Trimming after each chunk makes every chunk start from
    the same memory, so a run's peak is one chunk's, however many chunks it has.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM is False:
        return False
    _MALLOC_TRIM(0)
    return True


_MALLOC_TRIM = None


def token_counts(loaded: LoadedModel, texts: Sequence[InputText], max_length: int) -> list[int]:
    """Each text's token count after truncation ([CLS]/[SEP] included), as extraction will see it."""
    counts = []
    for first in range(0, len(texts), 1024):
        batch = [t.text for t in texts[first : first + 1024]]
        counts += [len(ids) for ids in loaded.tokenizer(batch, truncation=True, max_length=max_length, verbose=False)["input_ids"]]
    return counts


def compute_chunk(
    loaded: LoadedModel,
    texts: Sequence[InputText],
    methods: Sequence[Method],
    *,
    batch_size: int,
    ig_steps: int | None,
    words: str,
    max_length: int,
    faithfulness: str = DEFAULT_FAITHFULNESS,
    on_stage: Callable[[str], None] | None = None,
) -> ChunkResult:
    """Everything per text for one chunk of texts: attention, words, every method, faithfulness
    (``faithfulness``: ``full``, ``fast`` or ``off``, see :mod:`reportgen.faithfulness`), and the
    per-text agreement between methods."""
    stage = on_stage or (lambda label: None)
    stage("attention")
    encoded = encode_texts(loaded, texts, max_length)
    results = extract(loaded, encoded, batch_size)
    records = with_words([TextRecord(item, result) for item, result in zip(texts, results)], words)
    ctx = MethodContext(loaded, tuple(results), batch_size, ig_steps)
    for method in methods:
        stage(method.info.name)
        records = with_scores(records, run_methods([method], ctx))
    scores = {m.info.name: [r.scores[m.info.name] for r in records] for m in methods}
    faithful = None
    if faithfulness != "off":
        stage("faithfulness")
        faithful = evaluate_faithfulness(
            loaded, results, scores, batch_size=batch_size, words=[r.words for r in records], mode=faithfulness
        )
        records = with_faithfulness(records, faithful)
    agreed = None
    if len(methods) > 1:
        agreed = agreement([e.special for e in encoded], scores)
        records = [replace(r, agreement=a) for r, a in zip(records, agreed.per_text)]
    return ChunkResult(tuple(records), faithful, agreed)


class Engine(Protocol):
    """Computes chunks: given the chunks to do, yields each one's index and result (a
    :class:`ChunkResult`, or the chunk's part file as bytes) as it is done, in any order."""

    def run(
        self,
        todo: Sequence[tuple[int, Sequence[InputText]]],
        methods: Sequence[Method],
        options: object,
        max_length: int,
        header: ChunkHeader,
        progress: object,
    ) -> Iterator[tuple[int, ChunkResult | bytes]]: ...


class LocalEngine:
    """Chunks one after another in this process, with the model already loaded."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def run(self, todo, methods, options, max_length, header, progress):  # noqa: ANN001, ANN201 - see Engine
        for index, texts in todo:
            yield index, compute_chunk(
                self.loaded, texts, methods, batch_size=options.batch_size, ig_steps=options.ig_steps,
                words=options.words, max_length=max_length, faithfulness=options.faithfulness,
                on_stage=getattr(progress, "stage", None),
            )


def combine(
    chunks: Sequence[ChunkResult], methods: Sequence[str]
) -> tuple[tuple[TextRecord, ...], FaithfulnessReport | None, Agreement | None]:
    """All records, and the run-level aggregates computed from their per-text numbers.

    The faithfulness table (and with it the best method) and the mean agreement need every
    text; they are computed here exactly as one unchunked computation computes them, from the
    per-text results in text order.
    """
    records = tuple(r for c in chunks for r in c.records)
    faithful = _faithfulness(records, [c.faithfulness for c in chunks], list(methods))
    agreed = None
    if any(c.agreement is not None for c in chunks):
        agreed = mean_agreement(
            next(c.agreement for c in chunks if c.agreement is not None).methods,
            tuple(r.agreement for r in records if r.agreement is not None),
        )
    return records, faithful, agreed


def _faithfulness(
    records: Sequence[TextRecord], reports: Sequence[FaithfulnessReport | None], methods: list[str]
) -> FaithfulnessReport | None:
    template = next((r for r in reports if r is not None), None)
    if template is None:
        return None
    # The table, its bootstrap intervals and the verdict are recomputed over every text, exactly
    # as one unchunked evaluation computes them (reportgen.faithfulness.report_of).
    per_text = tuple(f for r in records for f in r.faithfulness.values())
    word_template = next((r.by_word for r in reports if r is not None and r.by_word is not None), None)
    by_word = None
    if word_template is not None:
        per_word = tuple(f for r in records for f in r.word_faithfulness.values())
        by_word = report_of(
            per_word, methods, word_template.fractions, word_template.rules, unit=word_template.unit, mode=word_template.mode
        )
    return report_of(per_text, methods, template.fractions, template.rules, unit=template.unit, mode=template.mode, by_word=by_word)


def with_scores(records: Sequence[TextRecord], scores: Mapping[str, Sequence[TokenScores]]) -> list[TextRecord]:
    """Each record with its text's scores of every method in ``scores`` added (same order as ``records``)."""
    for name, per_text in scores.items():
        if len(per_text) != len(records):
            raise ValueError(f"{name}: {len(per_text)} results for {len(records)} texts")
    return [
        replace(r, scores={**r.scores, **{name: per_text[k] for name, per_text in scores.items()}})
        for k, r in enumerate(records)
    ]


def with_faithfulness(records: Sequence[TextRecord], report: FaithfulnessReport) -> list[TextRecord]:
    """Each record with its own faithfulness results (every method and the random reference),
    per token and, where measured, per whole word."""
    by_text: dict[int, dict[str, Faithfulness]] = {}
    for f in report.per_text:
        by_text.setdefault(f.text_id, {})[f.method] = f
    by_word: dict[int, dict[str, Faithfulness]] = {}
    for f in report.by_word.per_text if report.by_word is not None else ():
        by_word.setdefault(f.text_id, {})[f.method] = f
    return [
        replace(r, faithfulness=by_text.get(r.text_id, {}), word_faithfulness=by_word.get(r.text_id, {}))
        for r in records
    ]


# --- Where chunks go ---------------------------------------------------------------------------


class Store(Protocol):
    """Where a run's chunks go: asked first for a chunk already done (resume), then given each new one."""

    def done(self, index: int, texts: Sequence[InputText]) -> ChunkResult | None: ...

    def put(self, index: int, result: ChunkResult, header: ChunkHeader) -> None: ...

    def put_encoded(self, index: int, content: bytes) -> None:
        """A chunk given as its part file's bytes (a remote engine's result)."""

    def results(self, count: int, heads: bool = True) -> Iterator[ChunkResult]:
        """Every chunk in order; ``heads=False``: a store that reads them back may leave out
        the heads (each ``heads_q`` empty), which the report does not need."""


class MemoryStore:
    """Chunks kept in memory (the Python API, which returns every record anyway)."""

    def __init__(self) -> None:
        self._chunks: dict[int, ChunkResult] = {}

    def done(self, index: int, texts: Sequence[InputText]) -> ChunkResult | None:
        return None

    def put(self, index: int, result: ChunkResult, header: ChunkHeader) -> None:
        self._chunks[index] = result

    def put_encoded(self, index: int, content: bytes) -> None:
        self._chunks[index] = decode_part(content)

    def results(self, count: int, heads: bool = True) -> Iterator[ChunkResult]:
        for index in range(count):
            yield self._chunks[index]


class PartStore:
    """One data file per chunk in ``folder`` (``chunk-00000.parquet``, ...), beside ``run.json``.

    Each part is a complete data file of its chunk's texts (every attention head), written
    crash-safely when the chunk is done and nothing of it kept in memory; :meth:`results` reads
    them back one at a time, without the heads when the caller needs none (the report's records
    hold none; the data file reads each part's heads again as it writes its row groups). With
    ``resume`` the folder's fingerprint must equal this run's and its parts are reused; without,
    any parts there are deleted first.
    """

    def __init__(self, folder: Path, fingerprint: str, *, resume: bool) -> None:
        self.folder = folder
        manifest = folder / MANIFEST
        if resume and manifest.exists():
            try:
                stored = json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint")
            except (OSError, ValueError, AttributeError):
                stored = None
            if stored != fingerprint:
                raise InputError(
                    f"--resume: {folder} was written by a run with other inputs, model or options; "
                    "run without --resume to start again"
                )
        else:
            if folder.exists():
                for part in folder.glob(PART_GLOB):
                    part.unlink()
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(manifest, json.dumps({"fingerprint": fingerprint}).encode("utf-8"))

    def _path(self, index: int) -> Path:
        return self.folder / f"chunk-{index:05d}.parquet"

    def done(self, index: int, texts: Sequence[InputText]) -> ChunkResult | None:
        path = self._path(index)
        if not path.exists():
            return None
        from .data import SchemaError

        try:
            result = self._read(path)
        except SchemaError:  # not written whole (cannot happen with atomic writes): compute again
            return None
        if [r.text_id for r in result.records] != [t.text_id for t in texts]:
            return None
        return result

    def put(self, index: int, result: ChunkResult, header: ChunkHeader) -> None:
        _write_atomic(self._path(index), encode_part(result, header))

    def put_encoded(self, index: int, content: bytes) -> None:
        _write_atomic(self._path(index), content)

    def _read(self, path: Path, heads: bool = True) -> ChunkResult:
        return decode_part(path, heads=heads)

    def results(self, count: int, heads: bool = True) -> Iterator[ChunkResult]:
        for index in range(count):
            yield self._read(self._path(index), heads)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def encode_part(result: ChunkResult, header: ChunkHeader) -> bytes:
    """A chunk as a part file: a data file of its texts, every attention head kept."""
    from .data import write_data

    return write_data(
        None, header.run, header.model, header.methods, result.records,
        faithfulness=result.faithfulness, agreement=result.agreement, ig_tolerance=header.ig_tolerance, attention="all",
    )


def decode_part(source: Path | bytes, heads: bool = True) -> ChunkResult:
    """A part file's chunk; ``heads=False``: without its heads (not even read from the file)."""
    from .data import read_data

    stored = read_data(source, heads=heads)
    return ChunkResult(stored.records, stored.faithfulness, stored.agreement)


def parts_folder(data: Path) -> Path:
    """Where a run writing ``data`` keeps its chunks until the end: ``run.parquet.parts/`` beside it."""
    return data.with_name(data.name + ".parts")


def _write_atomic(path: Path, content: bytes) -> None:
    """A part file whole or not at all (temporary sibling, fsync, rename). Not through
    :mod:`reportgen.output`, which writes the run's final files (and is what its tests pause)."""
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def fingerprint(
    texts: Sequence[InputText], model_info: object, device: str, options: object, max_length: int, methods: Sequence[MethodInfo]
) -> str:
    """A hash of everything that decides a chunk's numbers: texts, model, device and options.

    The title and the command line are left out: they change the report's header, not a number,
    and the report is built at the end from the run's own options.
    """
    from .data import SCHEMA_VERSION, _jsonable

    digest = hashlib.sha256()

    def add(value: object) -> None:
        digest.update(json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True, default=str).encode("utf-8"))
        digest.update(b"\0")

    add({"schema": SCHEMA_VERSION, "model": _jsonable(model_info), "device": device, "max_length": max_length})
    add({f.name: getattr(options, f.name) for f in fields(options) if f.name not in ("title", "command")})  # type: ignore[arg-type]
    add([m.name for m in methods])
    for t in texts:
        add([t.text_id, t.text, t.source, None if t.gold is None else float(np.float64(t.gold))])
    return digest.hexdigest()


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Engine",
    "LocalEngine",
    "decode_part",
    "encode_part",
    "ChunkHeader",
    "ChunkResult",
    "Store",
    "MemoryStore",
    "PartStore",
    "plan_chunks",
    "release_freed_memory",
    "token_counts",
    "combine",
    "compute_chunk",
    "fingerprint",
    "parts_folder",
    "with_faithfulness",
    "with_scores",
]
