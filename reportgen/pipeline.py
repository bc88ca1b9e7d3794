"""One run, start to finish: the stages wired together, with no CLI concerns.

:func:`build` computes the report model from a loaded model and the texts; it is the one code
path behind both the Python API (:func:`reportgen.explain`) and the CLI. :func:`run_report`
reads inputs, loads the model, calls :func:`build`, renders the report and every requested
extra (CSV files, pictures, the ticket summary) and writes them all at once (crash-safe). The
CLI only parses options into :class:`RunOptions` and prints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Mapping, Sequence

from . import budget, images
from .agreement import agreement
from .export import corpus_csv, corpus_path, faithfulness_csv, tokens_csv, words_csv
from .extraction import encode_texts, extract
from .faithfulness import MODES as FAITHFULNESS_MODES
from .faithfulness import evaluate_faithfulness
from .inputs import InputError, InputSet, hide_paths, read_inputs, shown_path, with_shown_sources
from .loading import LoadedModel, check_target_range, load_model
from .methods import DELTA_TOLERANCE, Method, MethodContext, resolve, run_methods
from .output import OutputError, PlannedFile, check_target, write_all
from .render import Rendered, render_report
from .report import Report, RunInfo, build_report, run_time, software_versions
from .summary import summary_markdown
from .threads import configure_threads
from .types import Agreement, Faithfulness, FaithfulnessReport, MethodInfo, ModelInfo, TextRecord, TokenScores
from .words import WORD_MODES, with_words

DEFAULT_TITLE = "reportgen attention report"


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
    faithfulness: str = "full"
    """``--faithfulness``: ``full``, ``fast`` (fewer steps and random orders, see
    ``reportgen.faithfulness.FAST_STEPS_DESCRIPTION``) or ``off`` (not measured: no verdict)."""
    target_name: str | None = None
    """``--target-name``: what the output is; overrides the model config's."""
    target_range: tuple[float, float] | None = None
    """``--target-range LO,HI``: the output's scale; overrides the model config's."""
    show_paths: bool = False
    """``--show-paths``: name inputs and the model by their paths as typed, absolute ones too
    (default: absolute paths are cut to the file's name, see ``inputs.shown_path``)."""
    max_size: float = budget.DEFAULT_MAX_MB
    """Largest HTML file in MB (1,000,000 bytes); 0: no limit (see ``reportgen.budget``). The
    page's attention store is sized for it while the model runs."""
    keep_heads: bool = True
    """Keep every head (uint16) in the records, as a data file needs; False: the heads go only to
    the page's size-bounded store (a run's memory then grows with the budget, not the texts)."""

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
    faithfulness: str = "full"
    """See :attr:`ExplainOptions.faithfulness`."""
    target_name: str | None = None
    target_range: tuple[float, float] | None = None
    show_paths: bool = False
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
            max_size=self.max_size,
            keep_heads=self.data is not None,
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

    def stop(self) -> None: ...


def default_out_path(folder: Path = Path("reports")) -> Path:
    return folder / f"report-{run_time().strftime('%Y%m%d-%H%M%S')}.html"


def check_options(options: ExplainOptions) -> list[Method]:
    """Refuse bad options before any model work; the methods to run, in display order."""
    if options.ig_steps is not None and options.ig_steps < 1:
        raise InputError(f"--ig-steps {options.ig_steps}: must be at least 1")
    if options.batch_size < 1:
        raise InputError(f"--batch-size {options.batch_size}: must be at least 1")
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
        return resolve(options.methods, options.gradients)
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
    loaded: LoadedModel, inputs: InputSet, options: ExplainOptions, progress: Progress | None = None
) -> Computation:
    """What :func:`build` computes, kept as records (see :class:`Computation`)."""
    progress = progress or Progress()
    methods = check_options(options)
    inputs = with_shown_sources(inputs, options.show_paths)
    info = described_model(loaded.info, options)
    max_length = _max_length(options.max_length, loaded.info.max_length)
    encoded = encode_texts(loaded, inputs.texts, max_length)

    # Every head goes straight into the page's size-bounded store as it is extracted.
    ladder = budget.AttentionLadder([len(e.input_ids) for e in encoded], options.max_bytes)
    progress.start(len(encoded), "attention")
    try:
        results = extract(
            loaded, encoded, options.batch_size, on_batch=progress.advance,
            on_attention=ladder.add, keep_heads=options.keep_heads,
        )
    finally:
        progress.stop()
    shown = ladder.result()

    records = with_words(
        [TextRecord(item, result, display=shown.get(k)) for k, (item, result) in enumerate(zip(inputs.texts, results))],
        options.words,
    )
    ctx = MethodContext(loaded, tuple(results), options.batch_size, options.ig_steps)
    measure = options.faithfulness != "off"
    progress.start(len(methods) + int(measure), "explaining")
    faithful = None
    try:
        for method in methods:
            records = with_scores(records, run_methods([method], ctx))
            progress.advance(1)
        scores = {m.info.name: [r.scores[m.info.name] for r in records] for m in methods}
        if measure:
            faithful = evaluate_faithfulness(
                loaded, results, scores, batch_size=options.batch_size, words=[r.words for r in records],
                mode=options.faithfulness,
            )
            records = with_faithfulness(records, faithful)
            progress.advance(1)
    finally:
        progress.stop()
    agreed = None
    if len(methods) > 1:
        agreed = agreement([e.special for e in encoded], scores)
        records = [replace(r, agreement=a) for r, a in zip(records, agreed.per_text)]

    run = RunInfo(
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
    return Computation(
        run, info, tuple(m.info for m in methods), tuple(records), faithful, agreed, DELTA_TOLERANCE
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

    def plan(self, report: Report, computation: Computation | None = None, page: Rendered | None = None) -> list[PlannedFile]:
        """Every file's bytes, rendered from ``report``; nothing is written yet.

        The data file needs the records behind the report (``computation``); ``page``: the HTML
        already rendered by :meth:`render`.
        """
        files = []
        if self.data is not None:
            if computation is None:
                raise ValueError("a data file needs the computation behind the report")
            from .data import write_data

            c = computation
            content = write_data(
                None, c.run, c.model, c.methods, c.records, faithfulness=c.faithfulness,
                agreement=c.agreement, ig_tolerance=c.ig_tolerance, attention=self.data_attention,
            )
            files.append(PlannedFile(self.data, content))
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
    check_options(options.explain)
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
    configure_threads(options.threads)
    loaded = load_model(options.model_dir, options.checkpoint, options.device)
    computation = compute(loaded, inputs, options.explain, progress)
    report = computation.report()
    page = outputs.render(report) if outputs.out is not None else None
    files = outputs.plan(report, computation, page)
    write_all(files, force=outputs.force)
    return RunResult(
        written=tuple(f.path for f in files),
        texts=len(report.texts),
        skipped_blank=inputs.skipped_blank,
        truncated=report.truncated_count,
        fit=page.fit if page is not None else None,
    )


def render_data_file(source: Path, outputs: Outputs) -> RunResult:
    """``reportgen render``: the report (and any CSV) of a data file, without the model."""
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


def _max_length(requested: int | None, model_limit: int) -> int:
    if requested is None:
        return model_limit
    if requested < 3:
        raise InputError(f"--max-length {requested}: must be at least 3 ([CLS], one token, [SEP])")
    if requested > model_limit:
        raise InputError(f"--max-length {requested}: the model accepts at most {model_limit} tokens")
    return requested
