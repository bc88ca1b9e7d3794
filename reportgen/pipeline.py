"""One run, start to finish: the stages wired together, with no CLI concerns.

``run_report`` reads inputs, loads the model, extracts, builds the report model, renders it
and writes every requested file at once (crash-safe). The CLI only parses options into
:class:`RunOptions` and prints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Mapping, Sequence

from . import budget
from .agreement import agreement
from .export import faithfulness_csv, tokens_csv
from .extraction import encode_texts, extract
from .faithfulness import evaluate_faithfulness
from .inputs import InputError, read_inputs
from .loading import load_model
from .methods import DELTA_TOLERANCE, MethodContext, resolve, run_methods
from .methods.integrated_gradients import DEFAULT_STEPS
from .output import OutputError, PlannedFile, check_target, write_all
from .render import render_report
from .report import RunInfo, build_report, run_time, software_versions
from .types import Faithfulness, FaithfulnessReport, TextRecord, TokenScores


@dataclass(frozen=True)
class RunOptions:
    inputs: tuple[str, ...]
    model_dir: Path
    out: Path
    checkpoint: Path | None = None
    csv: Path | None = None
    faithfulness_csv: Path | None = None
    methods: tuple[str, ...] | None = None
    """None: every registered method."""
    gradients: bool = True
    ig_steps: int = DEFAULT_STEPS
    text_column: str = "text"
    label_column: str | None = None
    encoding: str = "utf-8"
    max_length: int | None = None
    batch_size: int = 16
    device: str = "auto"
    title: str = "reportgen attention report"
    force: bool = False
    command: str = "reportgen"
    max_size: float = budget.DEFAULT_MAX_MB
    """Largest HTML file in MB (1,000,000 bytes); 0: no limit (see ``reportgen.budget``)."""

    @property
    def max_bytes(self) -> int | None:
        return int(self.max_size * budget.MB) if self.max_size > 0 else None


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


def run_report(
    options: RunOptions, progress: Progress | None = None, stdin: BinaryIO | None = None
) -> RunResult:
    progress = progress or Progress()
    targets = [options.out] + [p for p in (options.csv, options.faithfulness_csv) if p is not None]
    if len(set(map(Path.resolve, targets))) != len(targets):
        raise OutputError("--out, --csv and --faithfulness-csv must name different files")
    for target in targets:
        check_target(target, options.force)
    if options.max_size < 0:
        raise InputError(f"--max-size {options.max_size:g}: must be 0 (no limit) or more")
    if options.ig_steps < 1:
        raise InputError(f"--ig-steps {options.ig_steps}: must be at least 1")
    try:
        methods = resolve(options.methods, options.gradients)
    except ValueError as err:
        raise InputError(f"--methods: {err}") from None

    inputs = read_inputs(
        options.inputs,
        text_column=options.text_column,
        label_column=options.label_column,
        encoding=options.encoding,
        stdin=stdin,
    )
    loaded = load_model(options.model_dir, options.checkpoint, options.device)
    max_length = _max_length(options.max_length, loaded.info.max_length)
    encoded = encode_texts(loaded, inputs.texts, max_length)

    # Every head goes straight into the page's size-bounded store as it is extracted.
    ladder = budget.AttentionLadder([len(e.input_ids) for e in encoded], options.max_bytes)
    progress.start(len(encoded), "attention")
    try:
        results = extract(loaded, encoded, options.batch_size, on_batch=progress.advance, on_attention=ladder.add)
    finally:
        progress.stop()
    shown = ladder.result()

    records = [
        TextRecord(item, result, display=shown.get(index))
        for index, (item, result) in enumerate(zip(inputs.texts, results))
    ]
    ctx = MethodContext(loaded, tuple(results), options.batch_size, options.ig_steps)
    progress.start(len(methods) + 1, "explaining")
    try:
        for method in methods:
            records = with_scores(records, run_methods([method], ctx))
            progress.advance(1)
        scores = {m.info.name: [r.scores[m.info.name] for r in records] for m in methods}
        faithful = evaluate_faithfulness(loaded, results, scores, batch_size=options.batch_size)
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
        inputs=tuple("<stdin>" if p == "-" else p for p in options.inputs),
        skipped_blank=inputs.skipped_blank,
        max_length=max_length,
        batch_size=options.batch_size,
        device=loaded.device,
    )
    report = build_report(
        run, loaded.info, records, [m.info for m in methods],
        faithfulness=faithful, agreement=agreed, ig_tolerance=DELTA_TOLERANCE,
    )
    rendered = render_report(report, options.max_bytes)
    if not rendered.fit.fits:
        raise InputError(
            f"--max-size {options.max_size:g}: too small for this report; with only the overview row of "
            f"each of its {len(report.texts):,} texts the file is {rendered.fit.file_bytes / budget.MB:.1f} MB "
            "(use a larger --max-size, or 0 for no limit)"
        )
    files = [PlannedFile(options.out, rendered.html.encode("utf-8"))]
    if options.csv is not None:
        files.append(PlannedFile(options.csv, tokens_csv(report)))
    if options.faithfulness_csv is not None:
        files.append(PlannedFile(options.faithfulness_csv, faithfulness_csv(report)))
    write_all(files, force=options.force)
    return RunResult(
        written=tuple(f.path for f in files),
        texts=len(report.texts),
        skipped_blank=inputs.skipped_blank,
        truncated=report.truncated_count,
        fit=rendered.fit,
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
    """Each record with its own faithfulness results (every method and the random reference)."""
    by_text: dict[int, dict[str, Faithfulness]] = {}
    for f in report.per_text:
        by_text.setdefault(f.text_id, {})[f.method] = f
    return [replace(r, faithfulness=by_text.get(r.text_id, {})) for r in records]


def _max_length(requested: int | None, model_limit: int) -> int:
    if requested is None:
        return model_limit
    if requested < 3:
        raise InputError(f"--max-length {requested}: must be at least 3 ([CLS], one token, [SEP])")
    if requested > model_limit:
        raise InputError(f"--max-length {requested}: the model accepts at most {model_limit} tokens")
    return requested
