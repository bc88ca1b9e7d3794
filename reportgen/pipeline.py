"""One run, start to finish: the stages wired together, with no CLI concerns.

:func:`build` computes the report model from a loaded model and the texts; it is the one code
path behind both the Python API (:func:`reportgen.explain`) and the CLI. :func:`run_report`
reads inputs, loads the model, calls :func:`build`, renders the report and every requested
extra (CSV files, pictures, the ticket summary) and writes them all at once (crash-safe). The
CLI only parses options into :class:`RunOptions` and prints.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator, Sequence

from . import budget, images
from .export import corpus_csv, corpus_path, faithfulness_csv, tokens_csv, words_csv
from .inputs import InputError, InputSet, hide_paths, read_inputs, shown_path, with_shown_sources
from .method_infos import choose
from .model_source import check_folder, resolve_model_source
from .output import OutputError, PlannedFile, check_target, write_all
from .render import Rendered, render_report
from .report import Report, RunInfo, build_report, run_time, software_versions
from .summary import summary_markdown
from .threads import configure_threads
from .types import (
    DEFAULT_CHUNK_SIZE, DEFAULT_FAITHFULNESS, DEFAULT_TITLE, FAITHFULNESS_MODES, Agreement, FaithfulnessReport,
    MethodInfo, ModelInfo, TextRecord, check_device_name, check_target_range,
)
from .words import WORD_MODES

# The model's stages (loading, engine, methods) import torch, so the functions that run the
# model import them when called: rendering a data file (render_data_file) needs no torch.
if TYPE_CHECKING:
    from .engine import ChunkResult, Engine, Store
    from .loading import LoadedModel

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class ExplainOptions:
    """What to compute and how: the options that change the report itself (not which files)."""

    methods: tuple[str, ...] | None = None
    """None: every registered method."""
    gradients: bool = True
    ig_steps: int | None = None
    """None: adaptive steps per text until the completeness delta meets the tolerance; N: exactly N."""
    max_length: int | None = None
    batch_size: int = 16
    title: str = DEFAULT_TITLE
    command: str = "reportgen"
    words: str = "auto"
    """``--words``: ``auto`` (per text: morphemes for Japanese, else spaces), ``ja``, ``space``, or
    ``pieces`` (no words: no word views, whole-word faithfulness or corpus view)."""
    faithfulness: str = DEFAULT_FAITHFULNESS
    """``--faithfulness``: ``full``, ``fast`` (fewer steps and random orders, see
    ``reportgen.faithfulness.FAST_STEPS_DESCRIPTION``) or ``off`` (not measured: no verdict)."""
    target_name: str | None = None
    """``--target-name``: what the output is; overrides the model config's."""
    target_range: tuple[float, float] | None = None
    """``--target-range LO,HI``: the output's scale; overrides the model config's."""
    show_paths: bool = False
    """``--show-paths``: name inputs and the model by their paths as typed, absolute ones too
    (default: absolute paths are cut to the file's name, see ``inputs.shown_path``)."""
    chunk_size: int = DEFAULT_CHUNK_SIZE
    """Texts computed at once (see :mod:`reportgen.engine`); memory does not grow with the number of texts."""
    max_size: float = budget.DEFAULT_MAX_MB
    """Largest HTML file in MB (1,000,000 bytes); 0: no limit (see ``reportgen.budget``). The
    page's attention store is sized for it while the model runs."""
    keep_heads: bool = True
    """Keep every head (uint16) and every layer's head mean in the records; False: the heads go
    only to the page's size-bounded store, each record keeps the last layer's head mean only
    (what the report reads), and a data file reads both back from the chunks as it writes
    (:attr:`Computation.rows`), so a run's memory grows with the budget, not with texts x
    layers x heads x tokens^2."""

    @property
    def max_bytes(self) -> int | None:
        return budget.max_bytes(self.max_size)


@dataclass(frozen=True)
class RunOptions:
    inputs: tuple[str, ...]
    model_dir: Path | str
    """A model folder, or a hub id (``org/name``) found in the local Hugging Face cache."""
    out: Path
    checkpoint: Path | None = None
    csv: Path | None = None
    faithfulness_csv: Path | None = None
    methods: tuple[str, ...] | None = None
    """None: every registered method."""
    gradients: bool = True
    ig_steps: int | None = None
    """See :attr:`ExplainOptions.ig_steps`."""
    text_column: str = "text"
    label_column: str | None = None
    encoding: str = "utf-8"
    max_length: int | None = None
    batch_size: int = 16
    device: str = "auto"
    title: str = DEFAULT_TITLE
    force: bool = False
    command: str = "reportgen"
    png: Path | None = None
    """Folder for one PNG card per text plus ``overview.png``."""
    svg: Path | None = None
    """Folder for the same pictures as SVG."""
    summary: Path | None = None
    """Markdown summary for a ticket (links the pictures of ``png``, else ``svg``)."""
    words: str = "auto"
    """See :attr:`ExplainOptions.words`."""
    words_csv: Path | None = None
    """One row per word per text; the corpus table goes beside it (``export.corpus_path``)."""
    data: Path | None = None
    """Every computed number as a Parquet data file (``reportgen render`` re-renders it)."""
    data_attention: str = "all"
    """How much attention the data file keeps: ``all``, ``mean``, ``last`` or ``none``."""
    threads: int | None = None
    """torch threads; None: the machine's physical cores (see :mod:`reportgen.threads`)."""
    faithfulness: str = DEFAULT_FAITHFULNESS
    """See :attr:`ExplainOptions.faithfulness`."""
    target_name: str | None = None
    target_range: tuple[float, float] | None = None
    show_paths: bool = False
    chunk_size: int = DEFAULT_CHUNK_SIZE
    """See :attr:`ExplainOptions.chunk_size`."""
    resume: bool = False
    """Reuse the chunks a killed run with the same ``data``, inputs, model and options wrote."""
    engine: str = "local"
    """``local`` (this process) or ``ray`` (:mod:`reportgen.ray_engine`; the ``ray`` extra)."""
    ray_workers: int = 2
    """``ray``: actors in the pool, one model each."""
    max_size: float = budget.DEFAULT_MAX_MB
    """See :attr:`ExplainOptions.max_size`."""

    @property
    def outputs(self) -> Outputs:
        return Outputs(
            out=self.out,
            csv=self.csv,
            faithfulness_csv=self.faithfulness_csv,
            words_csv=self.words_csv,
            png=self.png,
            svg=self.svg,
            summary=self.summary,
            data=self.data,
            data_attention=self.data_attention,
            force=self.force,
            max_size=self.max_size,
        )

    @property
    def explain(self) -> ExplainOptions:
        return ExplainOptions(
            methods=self.methods,
            gradients=self.gradients,
            ig_steps=self.ig_steps,
            max_length=self.max_length,
            batch_size=self.batch_size,
            title=self.title,
            command=self.command,
            words=self.words,
            faithfulness=self.faithfulness,
            target_name=self.target_name,
            target_range=self.target_range,
            show_paths=self.show_paths,
            chunk_size=self.chunk_size,
            max_size=self.max_size,
            # The data file streams the heads from the run's part files (Computation.rows):
            # the records the report is built from never hold every text's heads.
            keep_heads=False,
        )


@dataclass(frozen=True)
class RunResult:
    written: tuple[Path, ...]
    texts: int
    skipped_blank: int
    truncated: int
    fit: budget.Fit | None = None
    """What the size budget kept of each text, and the report's size."""


class Progress:
    """What a run reports while it works; the CLI draws it, tests ignore it."""

    def start(self, total: int, label: str) -> None: ...

    def advance(self, count: int) -> None: ...

    def stage(self, label: str) -> None:
        """What the current chunk is computing (``attention``, a method's name, ``faithfulness``)."""

    def resumed(self, count: int) -> None:
        """``count`` texts were already done by an earlier, interrupted run."""

    def stop(self) -> None: ...


def default_out_path(folder: Path = Path("reports")) -> Path:
    return folder / f"report-{run_time().strftime('%Y%m%d-%H%M%S')}.html"


def check_options(options: ExplainOptions) -> tuple[MethodInfo, ...]:
    """Refuse bad options before any model work; the methods to run, in display order.

    Imports no torch, so a bad option is refused at once; :func:`reportgen.methods.resolve`
    turns the same selection into the methods themselves.
    """
    if options.ig_steps is not None and options.ig_steps < 1:
        raise InputError(f"--ig-steps {options.ig_steps}: must be at least 1")
    if options.batch_size < 1:
        raise InputError(f"--batch-size {options.batch_size}: must be at least 1")
    if options.chunk_size < 1:
        raise InputError(f"--chunk-size {options.chunk_size}: must be at least 1")
    if options.max_length is not None and options.max_length < 3:
        raise InputError(f"--max-length {options.max_length}: must be at least 3 ([CLS], one token, [SEP])")
    if options.max_size < 0:
        raise InputError(f"--max-size {options.max_size:g}: must be 0 (no limit) or more")
    if options.words not in WORD_MODES:
        raise InputError(f"--words {options.words}: expected one of {', '.join(WORD_MODES)}")
    if options.faithfulness not in FAITHFULNESS_MODES:
        raise InputError(f"--faithfulness {options.faithfulness}: expected one of {', '.join(FAITHFULNESS_MODES)}")
    if options.target_name is not None and not options.target_name.strip():
        raise InputError("--target-name: must not be empty")
    if options.target_range is not None:
        try:
            check_target_range(options.target_range)
        except ValueError as err:
            raise InputError(f"--target-range: {err}") from None
    try:
        return choose(options.methods, options.gradients)
    except ValueError as err:
        raise InputError(f"--methods: {err}") from None


@dataclass(frozen=True, eq=False)
class Computation:
    """Every number a run computed, before it becomes a report: what the data file stores."""

    run: RunInfo
    model: ModelInfo
    methods: tuple[MethodInfo, ...]
    records: tuple[TextRecord, ...]
    faithfulness: FaithfulnessReport | None
    agreement: Agreement | None
    ig_tolerance: float
    rows: Callable[[], Iterator[TextRecord]] | None = None
    """The same records with every head, read again chunk by chunk on each call, for the data
    file (:func:`reportgen.data.write_rows`); None: ``records`` hold their heads."""

    def report(self) -> Report:
        return build_report(
            self.run, self.model, self.records, self.methods,
            faithfulness=self.faithfulness, agreement=self.agreement, ig_tolerance=self.ig_tolerance,
        )


def build(
    loaded: LoadedModel, inputs: InputSet, options: ExplainOptions, progress: Progress | None = None
) -> Report:
    """The report model for ``inputs``: extraction, every method, faithfulness and agreement.

    The one computation behind the CLI (:func:`run_report`) and the Python API
    (:func:`reportgen.explain`), so both give the same numbers for the same model and texts.
    """
    return compute(loaded, inputs, options, progress).report()


def compute(
    loaded: LoadedModel,
    inputs: InputSet,
    options: ExplainOptions,
    progress: Progress | None = None,
    store: Store | None = None,
    engine: Engine | None = None,
) -> Computation:
    """What :func:`build` computes, kept as records (see :class:`Computation`).

    Texts are computed ``options.chunk_size`` at a time (:func:`reportgen.engine.compute_chunk`)
    by ``engine`` (default: :class:`reportgen.engine.LocalEngine`, in this process) and each
    chunk is handed to ``store`` (default: kept in memory); a chunk the store already holds (a
    resumed run) is not computed again. The aggregates that need every text are computed at the
    end from the per-text numbers (:func:`reportgen.engine.combine`).
    """
    from .engine import (
        ChunkHeader, LocalEngine, MemoryStore, combine, decode_part, plan_chunks, release_freed_memory, token_counts,
    )
    from .methods import DELTA_TOLERANCE, resolve

    progress = progress or Progress()
    check_options(options)
    methods = resolve(options.methods, options.gradients)
    inputs = with_shown_sources(inputs, options.show_paths)
    info = described_model(loaded.info, options)
    max_length = _max_length(options.max_length, loaded.info.max_length)
    store = store if store is not None else MemoryStore()
    lengths = token_counts(loaded, inputs.texts, max_length)
    spans = plan_chunks(lengths, loaded.info.num_layers * loaded.info.num_heads, options.chunk_size)
    header = ChunkHeader(_run_info(loaded, inputs, options, max_length), info, tuple(m.info for m in methods), DELTA_TOLERANCE)
    # Every head goes into the page's size-bounded store as its chunk arrives (the store keeps
    # what fits the budget, whatever the order the texts come in).
    ladder = budget.AttentionLadder(lengths, options.max_bytes)
    progress.start(len(inputs.texts), "texts")
    try:
        todo = []
        for i, span in enumerate(spans):
            texts = inputs.texts[span.start : span.stop]
            done = store.done(i, texts)
            if done is None:
                todo.append((i, texts))
            else:
                _to_page(ladder, span.start, done)
        todo_texts = dict(todo)
        if len(todo) < len(spans):
            progress.resumed(len(inputs.texts) - sum(len(texts) for _, texts in todo))
        engine = engine if engine is not None else LocalEngine(loaded)
        for index, result in engine.run(todo, methods, options, max_length, header, progress):
            if isinstance(result, bytes):
                store.put_encoded(index, result)
                result = decode_part(result)
            else:
                store.put(index, result, header)
            _to_page(ladder, spans[index].start, result)
            del result  # the chunk's attention goes before the next chunk is computed
            release_freed_memory()
            progress.advance(len(todo_texts[index]))
    finally:
        progress.stop()
    shown = ladder.result()
    count = len(spans)
    keep = options.keep_heads
    # Without keep_heads the parts are read back without their heads: every text's heads at
    # once is what made the end of a run grow with the corpus.
    chunks = [c if keep else _without_heads(c) for c in store.results(count, heads=keep)]
    records, faithful, agreed = combine(chunks, [m.info.name for m in methods])
    records = tuple(replace(r, display=shown.get(k)) for k, r in enumerate(records))
    del chunks
    rows = None if keep else (lambda: (r for c in store.results(count) for r in c.records))
    return Computation(
        _run_info(loaded, inputs, options, max_length), info, tuple(m.info for m in methods),
        records, faithful, agreed, DELTA_TOLERANCE, rows,
    )


def _to_page(ladder: budget.AttentionLadder, start: int, chunk: ChunkResult) -> None:
    for k, record in enumerate(chunk.records):
        ladder.add(start + k, record.extraction.heads_q)


def _without_heads(chunk: ChunkResult) -> ChunkResult:
    """``keep_heads=False``: the heads went to the page's store only (as extraction does it),
    and of the head means only the last layer stays, the one the report reads (its [CLS] and
    received attention); every layer's would grow with texts x layers x tokens^2. The data
    file reads both back from the parts (:attr:`Computation.rows`)."""
    records = tuple(
        replace(r, extraction=replace(
            r.extraction,
            heads_q=np.zeros((0, 0, *r.extraction.heads_q.shape[2:]), dtype=np.uint16),
            layer_mean=r.extraction.layer_mean[-1:].copy(),  # a copy: a view would keep every layer alive
        ))
        for r in chunk.records
    )
    return replace(chunk, records=records)


def _run_info(loaded: LoadedModel, inputs: InputSet, options: ExplainOptions, max_length: int) -> RunInfo:
    return RunInfo(
        title=options.title,
        created=run_time().isoformat(),
        command=options.command,
        versions=software_versions(),
        inputs=tuple("<stdin>" if p == "-" else p for p in inputs.sources),
        faithfulness=options.faithfulness,
        skipped_blank=inputs.skipped_blank,
        max_length=max_length,
        batch_size=options.batch_size,
        device=loaded.device,
    )


def described_model(info: ModelInfo, options: ExplainOptions) -> ModelInfo:
    """The model as the report names it: paths as :func:`~reportgen.inputs.shown_path` shows
    them (notes too), and ``--target-name`` / ``--target-range`` over the config's."""
    changes: dict = {}
    if not options.show_paths:
        changes.update(
            path=shown_path(info.path),
            checkpoint=shown_path(info.checkpoint) if info.checkpoint is not None else None,
            notes=tuple(hide_paths(n) for n in info.notes),
        )
    if options.target_name is not None:
        changes["target_name"] = options.target_name.strip()
    if options.target_range is not None:
        changes["target_range"] = check_target_range(options.target_range)
    return replace(info, **changes) if changes else info


@dataclass(frozen=True)
class Outputs:
    """The files a finished report is written to; each is optional (None: not written)."""

    out: Path | None = None
    """The HTML report."""
    csv: Path | None = None
    faithfulness_csv: Path | None = None
    words_csv: Path | None = None
    """Also writes the corpus table beside it (``export.corpus_path``)."""
    png: Path | None = None
    """Folder for ``overview.png`` and one card per text."""
    svg: Path | None = None
    summary: Path | None = None
    """Markdown for a ticket; links the pictures of ``png``, else ``svg``."""
    data: Path | None = None
    """The Parquet data file (every computed number; see docs/data-file.md)."""
    data_attention: str = "all"
    force: bool = False
    max_size: float = budget.DEFAULT_MAX_MB
    """``--max-size`` of the HTML report (MB; 0: no limit)."""

    @property
    def files(self) -> list[Path]:
        corpus = corpus_path(self.words_csv) if self.words_csv is not None else None
        return [
            p
            for p in (self.out, self.csv, self.faithfulness_csv, self.words_csv, corpus, self.summary, self.data)
            if p is not None
        ]

    @property
    def pictures(self) -> list[tuple[str, Path]]:
        return [(fmt, folder) for fmt, folder in (("png", self.png), ("svg", self.svg)) if folder is not None]

    def check(self, text_ids: Sequence[int] | None = None) -> None:
        """Refuse early (before any model work) what the final write would refuse.

        With ``text_ids`` the picture files are checked too, and the picture font is looked for.
        """
        if self.max_size < 0:
            raise InputError(f"--max-size {self.max_size:g}: must be 0 (no limit) or more")
        files = self.files
        if len(set(map(Path.resolve, files))) != len(files):
            raise OutputError(
                "--out, --csv, --faithfulness-csv, --words-csv (and its .corpus.csv), --summary and --data must name different files"
            )
        if self.data is not None:
            from .data import check_attention_mode

            check_attention_mode(self.data_attention)
        for target in files:
            check_target(target, self.force)
        for fmt, folder in self.pictures:
            if folder.exists() and not folder.is_dir():
                raise OutputError(f"{folder}: is a file; --{fmt} takes a folder")
        if text_ids is not None and self.pictures:
            images.find_font()  # no font with Japanese glyphs: refuse now, not after the model ran
            for fmt, folder in self.pictures:
                for name in images.file_names(text_ids, fmt):
                    check_target(folder / name, self.force)

    def data_file(self, computation: Computation) -> PlannedFile:
        """The data file of ``computation``: its header decided (and every record checked) now,
        its rows streamed when the file is written. Holds the records only where they carry
        the heads (no :attr:`Computation.rows`), so a run can drop them before rendering."""
        if self.data is None:
            raise ValueError("no --data file to plan")
        from .data import data_header, write_rows

        c = computation
        header = data_header(
            c.run, c.model, c.methods, c.records, faithfulness=c.faithfulness, agreement=c.agreement,
            ig_tolerance=c.ig_tolerance, attention=self.data_attention, heads=c.rows is None,
        )
        rows, records = c.rows, (c.records if c.rows is None else None)

        def write_data_file(handle: BinaryIO) -> None:
            # Streamed into the file's temporary sibling row group by row group (the heads read
            # back from the run's parts as they are written), not built in memory whole.
            write_rows(handle, header, rows() if rows is not None else records)  # type: ignore[arg-type]

        return PlannedFile(self.data, write_data_file)

    def plan(
        self, report: Report, computation: Computation | None = None, page: Rendered | None = None,
        data_file: PlannedFile | None = None,
    ) -> list[PlannedFile]:
        """Every file's bytes, rendered from ``report``; nothing is written yet.

        The data file needs the records behind the report (``computation``), or is given as
        planned by :meth:`data_file`; ``page``: the HTML already rendered by :meth:`render`.
        """
        files = []
        if self.data is not None:
            if data_file is None:
                if computation is None:
                    raise ValueError("a data file needs the computation behind the report")
                data_file = self.data_file(computation)
            files.append(data_file)
        if self.out is not None:
            rendered_page = page if page is not None else self.render(report)
            files.append(PlannedFile(self.out, rendered_page.html.encode("utf-8")))
        if self.csv is not None:
            files.append(PlannedFile(self.csv, tokens_csv(report)))
        if self.faithfulness_csv is not None:
            files.append(PlannedFile(self.faithfulness_csv, faithfulness_csv(report)))
        if self.words_csv is not None:
            files.append(PlannedFile(self.words_csv, words_csv(report)))
            files.append(PlannedFile(corpus_path(self.words_csv), corpus_csv(report)))
        rendered: dict[str, list[PlannedFile]] = {}
        for fmt, folder in self.pictures:
            rendered[fmt] = [PlannedFile(folder / image.name, image.content) for image in images.render_images(report, fmt)]
            files += rendered[fmt]
        if self.summary is not None:
            linked = [f.path for f in rendered.get("png") or rendered.get("svg") or []]
            files.append(PlannedFile(self.summary, summary_markdown(report, linked, self.summary).encode("utf-8")))
        return files

    def render(self, report: Report) -> Rendered:
        """The HTML page within ``max_size``; a budget too small even for the overview is refused."""
        rendered = render_report(report, budget.max_bytes(self.max_size))
        if not rendered.fit.fits:
            raise InputError(
                f"--max-size {self.max_size:g}: too small for this report; with only the overview row of "
                f"each of its {len(report.texts):,} texts the file is {rendered.fit.file_bytes / budget.MB:.1f} MB "
                "(use a larger --max-size, or 0 for no limit)"
            )
        return rendered

    def write(self, report: Report, computation: Computation | None = None) -> tuple[Path, ...]:
        """Check, render and write every file at once (crash-safe); the paths written."""
        self.check([t.text_id for t in report.texts])
        files = self.plan(report, computation)
        write_all(files, force=self.force)
        return tuple(f.path for f in files)


def run_report(
    options: RunOptions, progress: Progress | None = None, stdin: BinaryIO | None = None
) -> RunResult:
    """Read, load, :func:`build`, render and write every requested file at once."""
    outputs = options.outputs
    outputs.check()
    methods = check_options(options.explain)
    inputs = read_inputs(
        options.inputs,
        text_column=options.text_column,
        label_column=options.label_column,
        encoding=options.encoding,
        stdin=stdin,
    )
    outputs.check([t.text_id for t in inputs.texts])
    if options.threads is not None and options.threads < 1:
        raise InputError(f"--threads {options.threads}: must be at least 1")
    if options.engine not in ENGINES:
        raise InputError(f"--engine {options.engine}: choose one of {', '.join(ENGINES)}")
    if options.resume and options.data is None:
        raise InputError("--resume needs --data: the chunks of a run are kept beside its data file")
    try:
        check_device_name(options.device)  # whether cuda is there waits for torch (load_model)
    except ValueError as err:
        raise InputError(str(err)) from None
    # A wrong --model is refused here, before torch is imported (seconds); load_model takes the
    # folder found here (a hub id is looked up in the cache once).
    source = resolve_model_source(options.model_dir)
    check_folder(source)
    # Everything that runs the model imports torch: only now, once the cheap checks passed.
    from .engine import PartStore, fingerprint, parts_folder
    from .loading import load_model

    configure_threads(options.threads)
    loaded = load_model(source, options.checkpoint, options.device)
    explain = options.explain
    key = fingerprint(
        inputs.texts, loaded.info, loaded.device, explain, _max_length(explain.max_length, loaded.info.max_length),
        list(methods),
    )
    # Each chunk is written to disk when done and read back at the end, so memory does not grow
    # with the number of texts; beside the data file (to resume a killed run), else in a temporary folder.
    with tempfile.TemporaryDirectory(prefix="reportgen-") as temp:
        folder = parts_folder(options.data) if options.data is not None else Path(temp) / "parts"
        store = PartStore(folder, key, resume=options.resume)
        engine = None
        if options.engine == "ray":
            from .ray_engine import RayEngine

            engine = RayEngine(
                options.model_dir, options.checkpoint, loaded.device, workers=options.ray_workers, threads=options.threads
            )
        computation = compute(loaded, inputs, explain, progress, store, engine)
        report = computation.report()
        data_file = outputs.data_file(computation) if outputs.data is not None else None
        # Every text's record goes before the page is rendered: the report and the data file's
        # header hold all that is still needed (the file's rows come back from the parts), so
        # the records and the page never take memory at the same time.
        del computation
        page = outputs.render(report) if outputs.out is not None else None
        files = outputs.plan(report, None, page, data_file)
        write_all(files, force=outputs.force)
        store.remove()
    return RunResult(
        written=tuple(f.path for f in files),
        texts=len(report.texts),
        skipped_blank=inputs.skipped_blank,
        truncated=report.truncated_count,
        fit=page.fit if page is not None else None,
    )


def render_data_file(source: Path, outputs: Outputs) -> RunResult:
    """``reportgen render``: the report and any of the run's other files (CSVs, pictures,
    summary) from a data file, without the model."""
    from .data import read_data, report_from_data

    outputs.check()
    stored = read_data(source)
    report = report_from_data(stored, budget.max_bytes(outputs.max_size))
    outputs.check([t.text_id for t in report.texts])
    page = outputs.render(report) if outputs.out is not None else None
    files = outputs.plan(report, None, page)
    write_all(files, force=outputs.force)
    return RunResult(
        written=tuple(f.path for f in files), texts=len(report.texts), skipped_blank=stored.run.skipped_blank,
        truncated=report.truncated_count, fit=page.fit if page is not None else None,
    )


def _max_length(requested: int | None, model_limit: int) -> int:
    if requested is None:
        return model_limit
    if requested < 3:
        raise InputError(f"--max-length {requested}: must be at least 3 ([CLS], one token, [SEP])")
    if requested > model_limit:
        raise InputError(f"--max-length {requested}: the model accepts at most {model_limit} tokens")
    return requested
