"""The ``reportgen`` command line: thin Typer commands over :mod:`reportgen.pipeline`.

Exit codes: 0 success, 2 bad usage or bad input (one-line message on stderr), 1 anything else.

Importing this module loads neither the pipeline nor torch: each command imports what it runs,
so ``--help``, ``--version`` and bad usage answer at once (torch alone takes seconds to import).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer

from . import __version__
from .budget import DEFAULT_MAX_MB
from .errors import InputError, ReportgenError
from .inputs import hide_paths
from .method_infos import METHOD_INFOS
from .resources import sample_model_dir, sample_texts
from .types import DEFAULT_CHUNK_SIZE, DEFAULT_FAITHFULNESS, DEFAULT_TITLE

if TYPE_CHECKING:
    from .pipeline import RunOptions, RunResult

BAD_INPUT = 2

app = typer.Typer(
    name="reportgen",
    help=(
        "Explain a fine-tuned ALBERT model's predictions in one self-contained HTML report: "
        "every text with its prediction, token-by-token attention heatmaps, [CLS]-attention and "
        "attention-received bar charts, and these explanation methods, each with a measured "
        "faithfulness score: " + ", ".join(m.title for m in METHOD_INFOS) + ". The report "
        "opens offline in any browser and needs no Python to read. Start with: reportgen demo"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reportgen {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Explain a fine-tuned ALBERT model's predictions in one self-contained, offline HTML report."""


def _fail(message: str, code: int = BAD_INPUT) -> None:
    typer.echo(f"reportgen: error: {message}", err=True)
    raise typer.Exit(code)


def _execute(options: RunOptions | Callable[[], RunResult], quiet: bool = False) -> None:
    from .pipeline import RunOptions, run_report

    try:
        if isinstance(options, RunOptions):
            from .progress import TextProgress

            result = run_report(options, progress=None if quiet else TextProgress(sys.stderr))
        else:
            result = options()
    except ReportgenError as err:
        _fail(str(err))
        return
    except KeyboardInterrupt:
        # Files are written whole or not at all (output.py): a one-line note, not a traceback.
        _fail("interrupted", code=130)
        return
    summary = f"{result.texts} text{'s' if result.texts != 1 else ''}"
    if result.skipped_blank:
        summary += f", {result.skipped_blank} blank skipped"
    if result.truncated:
        summary += f", {result.truncated} truncated"
    typer.echo(f"reportgen: {summary}", err=True)
    if result.fit is not None:
        typer.echo(f"reportgen: {result.fit.summary_line()}", err=True)
    for path in result.written:
        typer.echo(str(path))


# --- Options shared by the commands: declared once, here. ------------------------------------

InputsArg = Annotated[
    list[str],
    typer.Argument(
        help="Texts to explain: .txt (one text per line; blank lines are skipped and counted), "
        ".csv/.tsv (see --text-column), .jsonl (one JSON object per line), or - for standard input.",
        show_default=False,
    ),
]
ModelOpt = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        help="Hugging Face model folder (config.json, weights, tokenizer files), or a hub id (org/name) "
        "already in the local Hugging Face cache (never downloaded; a folder of that name wins). "
        "Default: the bundled sample model (Japanese politeness regression).",
        show_default=False,
    ),
]
OutOpt = Annotated[
    Optional[Path],
    typer.Option("--out", help="Report file to write. Default: a new reports/report-YYYYmmdd-HHMMSS.html.", show_default=False),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
ThreadsOpt = Annotated[
    Optional[int],
    typer.Option(
        "--threads",
        help="CPU threads for torch. Default: this machine's physical cores. On a CPU busy with other "
        "jobs, fewer threads (even 1) is often faster.",
        min=1,
        show_default=False,
    ),
]
MaxSizeOpt = Annotated[
    float,
    typer.Option(
        "--max-size",
        help="Largest report file in MB (1 MB = 1,000,000 bytes); 0 = no limit. When the full detail "
        "does not fit, the longest texts lose detail first, one step at a time: every layer and "
        "head -> every layer, heads averaged -> last layer only -> no attention matrix (bars and "
        "method scores) -> overview row only. The command and the report say what was left out; "
        "--csv always writes every number.",
        min=0,
    ),
]
CsvOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--csv",
        help="Also write one CSV row per token per text (text_id, text, position, token, is_special, "
        "cls_attention, mean_received, prediction, ...).",
        show_default=False,
    ),
]
FaithfulnessCsvOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--faithfulness-csv",
        help="Also write one CSV row per text and method: text_id, method, comprehensiveness, "
        "sufficiency, ... and the deletion curve; the random-order reference is method 'random'.",
        show_default=False,
    ),
]
WordsCsvOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--words-csv",
        help="Also write one CSV row per word per text (text_id, word_id, surface, lemma, start, end, pos, "
        "mode, then every method's word score), and beside it FILE with the suffix .corpus.csv "
        "(words.csv -> words.corpus.csv): one row per dictionary form with its texts, mean and total "
        "signed score, 95% interval and share of |attribution|.",
        show_default=False,
    ),
]
PngOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--png",
        help="Also write pictures for a ticket into this folder: one PNG card per text (the text shaded by its "
        "explanation, prediction, top tokens up and down, Integrated Gradients waterfall) and overview.png "
        "(every prediction). Needs a font with Japanese glyphs (fonts-ipafont-gothic).",
        show_default=False,
    ),
]
SvgOpt = Annotated[
    Optional[Path],
    typer.Option("--svg", help="The same pictures as --png, as SVG files, into this folder.", show_default=False),
]
SummaryOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--summary",
        help="Also write a short Markdown summary for a ticket: model, counts, the faithfulness verdict, a table "
        "of texts (prediction, gold, error, top tokens) and links to the --png (or --svg) pictures.",
        show_default=False,
    ),
]


def _methods_help() -> str:
    """Generated from the methods' infos (the registry is built in their order), so it lists exactly
    the methods that exist."""
    listed = "; ".join(f"{m.name} ({m.title})" for m in METHOD_INFOS)
    return f"Comma-separated explanation methods to run (default: all, in this order): {listed}."


def _gradient_methods() -> str:
    return ", ".join(m.name for m in METHOD_INFOS if m.needs_gradients)


def _parse_methods(value: Optional[str]) -> Optional[tuple[str, ...]]:
    """Names as given; unknown names are refused by the pipeline with the list of known ones."""
    if value is None:
        return None
    return tuple(m.strip() for m in value.split(",") if m.strip())


FaithfulnessOpt = Annotated[
    str,
    typer.Option(
        help="How much of the faithfulness measurement to run: fast (the default: the deletion steps at 1, 5, "
        "10, 20 and 50% of each text's tokens, each count once, and 2 random orders), full (token "
        "resolution: every step 1, 2, 3, ... tokens up to 50% of each text, at most 32 steps: past 64 "
        "tokens, 1-16 one by one then 16 spread evenly; 5 random orders; about 3x the model calls of "
        "fast, slightly different values), or off (not measured: no faithfulness table, no verdict; "
        "texts are shaded by the preferred signed method).",
    ),
]


@app.command()
def run(
    inputs: InputsArg,
    model: ModelOpt = None,
    checkpoint: Annotated[
        Optional[Path],
        typer.Option(
            help="A raw state_dict saved with torch.save (the original article's format: albert.* keys "
            "plus one linear head). --model then only gives config and tokenizer. Loaded with "
            "weights_only=True: pickles that need code are refused.",
            show_default=False,
        ),
    ] = None,
    out: OutOpt = None,
    csv: CsvOpt = None,
    faithfulness_csv: FaithfulnessCsvOpt = None,
    words_csv: WordsCsvOpt = None,
    words: Annotated[
        str,
        typer.Option(
            help="How texts are cut into words for the word views, whole-word faithfulness and the corpus view: "
            "auto (per text: morphemes with MeCab/IPAdic when it has Japanese characters, else spaces), ja, "
            "space, or pieces (no words: tokens only).",
        ),
    ] = "auto",
    methods: Annotated[Optional[str], typer.Option(help=_methods_help(), show_default=False)] = None,
    no_gradients: Annotated[
        bool, typer.Option("--no-gradients", help=f"Skip the methods that need gradients ({_gradient_methods()}).")
    ] = False,
    ig_steps: Annotated[
        Optional[int],
        typer.Option(
            help="Integrated Gradients: use exactly N steps (Gauss-Legendre) on every text. Default: adaptive, "
            "8 to 128 steps per text, refined until the attributions sum to f(x) - f(baseline) within 1%.",
            min=1,
            show_default=False,
        ),
    ] = None,
    text_column: Annotated[str, typer.Option(help="Column (CSV/TSV) or field (JSONL) holding the text.")] = "text",
    label_column: Annotated[
        Optional[str],
        typer.Option(help="Column or field with a gold score, shown beside the prediction with the error.", show_default=False),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Encoding of the input files.")] = "utf-8",
    max_length: Annotated[
        Optional[int],
        typer.Option(help="Longest input in tokens, [CLS]/[SEP] included; longer texts are truncated and "
        "marked. Default: the model's limit.", show_default=False, min=3),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per forward pass (sorted by length, padded per batch).", min=1)] = 16,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    threads: ThreadsOpt = None,
    title: Annotated[str, typer.Option(help="Title at the top of the report.")] = DEFAULT_TITLE,
    data: Annotated[
        Optional[Path],
        typer.Option(
            help="Also write every computed number to a Parquet data file (documented in docs/data-file.md); "
            "`reportgen render FILE` re-renders the report from it without the model.",
            show_default=False,
        ),
    ] = None,
    data_attention: Annotated[
        str,
        typer.Option(
            help="Attention kept in the data file: all (every layer and head; needed by render), mean (heads "
            "averaged), last (last layer, heads averaged) or none.",
        ),
    ] = "all",
    faithfulness: FaithfulnessOpt = DEFAULT_FAITHFULNESS,
    target_name: Annotated[
        Optional[str],
        typer.Option(
            help="What the model's output is (e.g. politeness), shown with every prediction. Default: the "
            "model config's reportgen.target_name, else its one label (id2label) for a regression model.",
            show_default=False,
        ),
    ] = None,
    target_range: Annotated[
        Optional[str],
        typer.Option(
            help="The output's scale as LO,HI (e.g. 0,1). Default: the model config's reportgen.target_range.",
            show_default=False,
        ),
    ] = None,
    show_paths: Annotated[
        bool,
        typer.Option(
            "--show-paths",
            help="Name inputs and the model by their paths as typed, absolute ones too. Default: an absolute "
            "path (or one under ~ or ..) is cut to its file name in the report, CSVs, data file, summary and "
            "pictures, so a report can be attached to a ticket without private folder names.",
        ),
    ] = False,
    chunk_size: Annotated[
        int,
        typer.Option(
            help="Texts computed at once, at most (a chunk of long texts closes earlier, at about 300 MB of "
            "attention): each chunk's numbers are written to disk when it is done (beside "
            "--data, else in a temporary folder) and its attention released, so memory while computing does not "
            "grow with the number of texts; the report, which embeds every text, is built at the end.",
            min=1,
        ),
    ] = DEFAULT_CHUNK_SIZE,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue a run that was killed part-way: the chunks it wrote beside --data (FILE.parts/) are "
            "reused, the rest computed. Needs the same --data, inputs, model and options (checked; a mismatch "
            "is refused).",
        ),
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="Where the chunks are computed: local (this process) or ray (a pool of Ray actors, one model "
            "each: connects to RAY_ADDRESS when set, else starts a local Ray; needs pip install "
            '"reportgen[ray]"). The data file and report are the same; rendering stays local.',
        ),
    ] = "local",
    ray_workers: Annotated[
        int, typer.Option(help="--engine ray: actors in the pool, each with its own copy of the model (and one GPU with --device cuda).", min=1)
    ] = 2,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", help="No progress on stderr (texts done, rate, time left)."),
    ] = False,
    png: PngOpt = None,
    svg: SvgOpt = None,
    summary: SummaryOpt = None,
    max_size: MaxSizeOpt = DEFAULT_MAX_MB,
    force: ForceOpt = False,
) -> None:
    """Explain a model's predictions on your texts in one self-contained HTML report.

    The report shows every text with its prediction, attention heatmaps (any layer and head),
    the [CLS]-attention and attention-received charts raw beside [CLS]/[SEP]-free views, every
    explanation method's token scores and how faithful each method is. It opens offline in any
    browser. Exit code 0 on success, 2 on bad usage, bad input or an unusable checkpoint.

    Example: reportgen run texts.txt --model ./checkpoint --out report.html --csv tokens.csv

    For a ticket: reportgen run texts.txt --model ./checkpoint --out report.html --png pictures --summary summary.md
    """
    from .pipeline import RunOptions, default_out_path

    try:
        scale = _parse_range(target_range)
    except ReportgenError as err:
        _fail(str(err))
        return
    options = RunOptions(
        inputs=tuple(inputs),
        model_dir=model if model is not None else sample_model_dir(),
        checkpoint=checkpoint,
        out=out if out is not None else default_out_path(),
        csv=csv,
        faithfulness_csv=faithfulness_csv,
        methods=_parse_methods(methods),
        gradients=not no_gradients,
        ig_steps=ig_steps,
        text_column=text_column,
        label_column=label_column,
        encoding=encoding,
        max_length=max_length,
        batch_size=batch_size,
        device=device,
        title=title,
        force=force,
        command=_command_line(show_paths),
        png=png,
        svg=svg,
        summary=summary,
        words=words,
        faithfulness=faithfulness,
        target_name=target_name,
        target_range=scale,
        show_paths=show_paths,
        words_csv=words_csv,
        data=data,
        data_attention=data_attention,
        threads=threads,
        chunk_size=chunk_size,
        resume=resume,
        engine=engine,
        ray_workers=ray_workers,
        max_size=max_size,
    )
    _execute(options, quiet=quiet)


@app.command()
def demo(
    out: OutOpt = None,
    png: PngOpt = None,
    svg: SvgOpt = None,
    summary: SummaryOpt = None,
    max_size: MaxSizeOpt = DEFAULT_MAX_MB,
    threads: ThreadsOpt = None,
    faithfulness: FaithfulnessOpt = DEFAULT_FAITHFULNESS,
    force: ForceOpt = False,
) -> None:
    """Run the bundled sample model on the bundled sample texts and write a report."""
    from .pipeline import RunOptions, default_out_path

    options = RunOptions(
        inputs=(str(sample_texts()),),
        model_dir=sample_model_dir(),
        out=out if out is not None else default_out_path(),
        title="reportgen demo: Japanese politeness model",
        force=force,
        command=_command_line(),
        png=png,
        svg=svg,
        summary=summary,
        max_size=max_size,
        threads=threads,
        faithfulness=faithfulness,
    )
    _execute(options)


@app.command()
def render(
    data: Annotated[Path, typer.Argument(help="A data file written by reportgen run --data.", show_default=False)],
    out: OutOpt = None,
    csv: CsvOpt = None,
    faithfulness_csv: FaithfulnessCsvOpt = None,
    words_csv: WordsCsvOpt = None,
    png: PngOpt = None,
    svg: SvgOpt = None,
    summary: SummaryOpt = None,
    max_size: MaxSizeOpt = DEFAULT_MAX_MB,
    force: ForceOpt = False,
) -> None:
    """Render the report of a data file (reportgen run --data FILE), without the model: the HTML
    report and any of the run's other files (CSVs, pictures, summary).

    Each file is byte for byte the one the run itself wrote (same reportgen version, same
    --max-size; set SOURCE_DATE_EPOCH for a fixed creation time). Exit code 2 for a file that is
    not a reportgen data file, or one of another schema version.
    """
    from .pipeline import Outputs, default_out_path, render_data_file

    outputs = Outputs(
        out=out if out is not None else default_out_path(), csv=csv, faithfulness_csv=faithfulness_csv,
        words_csv=words_csv, png=png, svg=svg, summary=summary, force=force, max_size=max_size,
    )
    _execute(lambda: render_data_file(data, outputs))


def _command_line(show_paths: bool = False) -> str:
    """The command as typed; without ``--show-paths`` absolute paths in it are cut to their name."""
    args = sys.argv[1:] if show_paths else [hide_paths(a) for a in sys.argv[1:]]
    # --resume changes no number: a resumed run records the command of the run it completes.
    return " ".join(shlex.quote(a) for a in ["reportgen", *args] if a != "--resume")


def _parse_range(value: str | None) -> tuple[float, float] | None:
    """``--target-range LO,HI`` as two numbers (checked further by the pipeline)."""
    if value is None:
        return None
    parts = value.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(f"--target-range {value!r}: expected LO,HI, e.g. 0,1") from None
if __name__ == "__main__":
    app(prog_name="reportgen")
