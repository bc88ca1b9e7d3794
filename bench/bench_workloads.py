"""Benchmark of whole runs on real workloads (issue 13): the pipeline as it was vs as it is.

One script, one machine, one run. Each workload is run by the ``reportgen run`` command of two
source trees, side by side:

* **before**: the pipeline as the issue measured it, a ``git archive`` of ``--baseline``
  (default ``bff6592``, the last commit before issues 9-14) unpacked in a temporary folder;
* **after**: this checkout with its defaults (``--faithfulness fast``); with ``--full`` also
  **after-full**, this checkout with ``--faithfulness full`` (token resolution), and with
  ``--pieces`` **after-pieces**, this checkout with ``--words pieces`` (no word level: the work the
  old pipeline did; see ``TREES``).

Both run as separate processes with one torch thread (``OMP_NUM_THREADS=1``, and ``--threads 1``
where the option exists), the same model folder and the same input file; ``before`` and
``after`` alternate (``after`` first in odd rounds) so slow phases of a shared machine hit both.
Recorded per run: wall seconds, peak RSS (``ru_maxrss`` of that child from ``os.wait4``; the
parent never imports torch, so no high-water mark is inherited), and from the files the run
wrote: Integrated Gradients steps per text and the largest relative completeness delta (from
``--data`` where the tree has it; the old tree used 32 fixed steps and wrote no deltas), and the
faithfulness ranking (median over texts of each method's rank by raw comprehensiveness minus raw
sufficiency, from ``--faithfulness-csv``: the same rule applied to both runs' numbers).

Workloads (issue 13's benchmark):

* ``a``: 100 KeiCO sentences on the bundled sample model;
* ``b``: 20 KeiCO sentences on an ALBERT-base-sized model with random weights;
* ``c``: 5 Aozora paragraphs cut to 128 tokens (``--max-length 128``) on the same base model.

The base model is built once in a child process (``benchlib``: albert-base-v2's shape, the
sample tokenizer, seed 0).

Usage (from the repository root)::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_workloads.py --workloads a,b,c --rounds 1 \\
        [--baseline bff6592] [--out bench/out/workloads.json]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEICO = REPO / "samples" / "data" / "keico" / "keico_corpus.csv"
AOZORA = REPO / "samples" / "data" / "aozora"
SAMPLE_MODEL = REPO / "samples" / "model"


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    model: str  # "sample" or "base"
    inputs: Path
    extra: tuple[str, ...] = ()


TREES = {"before": (), "after": (), "after-full": ("--faithfulness", "full"), "after-pieces": ("--words", "pieces")}
"""The runs of each workload and their extra options. ``after`` runs this checkout's defaults
(``--faithfulness fast``: the steps the old pipeline used, 1, 5, 10, 20 and 50% of the tokens, each
count once, with 2 random orders instead of its 5); ``after-full`` (``--full``) measures at token
resolution (issue 10), which evaluates about 3x (short texts) to 10x (128 tokens) as many model rows;
``after-pieces`` (``--pieces``) leaves out the word level (whole-word faithfulness, word views, the
corpus view), which the old pipeline did not have and which adds 80% to fast faithfulness's rows
on KeiCO sentences."""


@dataclass(frozen=True)
class Measured:
    workload: str
    tree: str
    round: int
    texts: int
    wall_s: float
    peak_rss_mb: float
    ig_steps_median: float | None
    ig_steps_max: int | None
    ig_delta_max: float | None
    ranking: tuple[str, ...]


def keico_sentences(count: int, skip: int = 0) -> list[str]:
    with KEICO.open(encoding="utf-8", newline="") as handle:
        rows = [row["本文"].strip() for row in csv.DictReader(handle)]
    rows = [r for r in rows if r]
    return rows[skip : skip + count]


def aozora_paragraphs(count: int, min_chars: int = 300) -> list[str]:
    """The first ``count`` paragraphs of at least ``min_chars`` characters (enough for 128
    tokens), taken in file-name order, one per file before a second from any file."""
    per_file = []
    for path in sorted(AOZORA.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        per_file.append([line for line in lines if len(line) >= min_chars])
    chosen: list[str] = []
    depth = 0
    while len(chosen) < count and any(len(p) > depth for p in per_file):
        chosen += [p[depth] for p in per_file if len(p) > depth][: count - len(chosen)]
        depth += 1
    return chosen


def write_lines(path: Path, texts: list[str]) -> Path:
    path.write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")
    return path


def unpack_baseline(revision: str, folder: Path) -> Path:
    tree = folder / f"baseline-{revision}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", revision], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def build_base_model(folder: Path) -> Path:
    """The ALBERT-base-shaped random model, built in a child so this process stays torch-free."""
    code = (
        "import sys; sys.path[:0] = [%r, %r]\n"
        "from pathlib import Path\n"
        "from benchlib import _base_model, _sample_model\n"
        "sample = _sample_model(Path(%r), Path(%r))\n"
        "_base_model(sample.loaded, Path(%r))\n"
    ) % (str(REPO / "bench"), str(REPO), str(SAMPLE_MODEL), str(folder), str(folder / "base"))
    subprocess.run([sys.executable, "-c", code], check=True, env=child_env(REPO))
    return folder / "base"


def child_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SOURCE_DATE_EPOCH")}
    env.update(
        PYTHONPATH=str(tree),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    return env


def has_option(tree: Path, option: str) -> bool:
    return option in (tree / "reportgen" / "cli.py").read_text(encoding="utf-8")


def run_once(
    tree: Path, tree_name: str, work: Workload, model: Path, folder: Path, round_: int, options: tuple[str, ...] = ()
) -> Measured:
    folder.mkdir(parents=True)
    args = [
        "run", str(work.inputs), "--model", str(model), "--out", str(folder / "report.html"),
        "--faithfulness-csv", str(folder / "faithfulness.csv"), *work.extra, *options,
    ]
    if has_option(tree, '"--threads"') or has_option(tree, "threads:"):
        args += ["--threads", "1"]
    data = folder / "run.parquet"
    if has_option(tree, "data_attention"):
        args += ["--data", str(data), "--data-attention", "none"]
    command = [sys.executable, "-c", "from reportgen.cli import app; app(prog_name='reportgen')", *args]
    log = folder / "stderr.txt"
    started = time.perf_counter()
    with log.open("wb") as err, open(os.devnull, "wb") as out:
        proc = subprocess.Popen(command, cwd=folder, env=child_env(tree), stdout=out, stderr=err)
        # wait4 reaps the child and gives its own rusage: its peak RSS, not the largest of all
        # children so far (Popen.wait would reap it first and lose the rusage).
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{tree_name} failed on {work.key}: {log.read_text(errors='replace')[-2000:]}")
    peak = usage.ru_maxrss / 1024
    steps, delta = ig_numbers(data) if data.exists() else (None, None)
    return Measured(
        workload=work.key,
        tree=tree_name,
        round=round_,
        texts=sum(1 for line in work.inputs.read_text(encoding="utf-8").splitlines() if line.strip()),
        wall_s=round(wall, 2),
        peak_rss_mb=round(peak, 1),
        ig_steps_median=statistics.median(steps) if steps else None,
        ig_steps_max=max(steps) if steps else None,
        ig_delta_max=delta,
        ranking=ranking(folder / "faithfulness.csv"),
    )


def ig_numbers(data: Path) -> tuple[list[int], float | None]:
    import pyarrow.parquet as pq

    names = pq.read_schema(data).names
    columns = [c for c in ("integrated_gradients_steps", "integrated_gradients_delta_relative") if c in names]
    if len(columns) < 2:
        return [], None
    table = pq.read_table(data, columns=columns).to_pydict()
    steps = [int(s) for s in table[columns[0]] if s is not None]
    deltas = [float(d) for d in table[columns[1]] if d is not None]
    return steps, (max(deltas) if deltas else None)


def ranking(path: Path) -> tuple[str, ...]:
    """Methods by their median per-text rank of raw comprehensiveness minus raw sufficiency."""
    if not path.exists():
        return ()
    per_text: dict[str, dict[str, float]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["method"] == "random" or not row["comprehensiveness_raw"] or not row["sufficiency_raw"]:
                continue
            if row.get("unit") not in (None, "", "token"):  # whole-word rows are another measure
                continue
            value = float(row["comprehensiveness_raw"]) - float(row["sufficiency_raw"])
            per_text.setdefault(row["text_id"], {})[row["method"]] = value
    ranks: dict[str, list[int]] = {}
    for values in per_text.values():
        for rank, method in enumerate(sorted(values, key=lambda m: (-values[m], m)), start=1):
            ranks.setdefault(method, []).append(rank)
    return tuple(sorted(ranks, key=lambda m: (statistics.median(ranks[m]), m)))


def table(results: list[Measured], workloads: dict[str, Workload]) -> str:
    lines = [
        "| workload | tree | texts | wall s (median) | s per text | peak RSS MB | IG steps median / max | max IG delta | top 3 by median rank |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, work in workloads.items():
        for tree in TREES:
            runs = [r for r in results if r.workload == key and r.tree == tree]
            if not runs:
                continue
            wall = statistics.median(r.wall_s for r in runs)
            last = runs[-1]
            steps = "32 / 32 (fixed)" if last.ig_steps_median is None else f"{last.ig_steps_median:g} / {last.ig_steps_max}"
            delta = "-" if last.ig_delta_max is None else f"{last.ig_delta_max:.2%}"
            lines.append(
                f"| {work.label} | {tree} | {last.texts} | {wall:.1f} | {wall / last.texts:.2f} | "
                f"{max(r.peak_rss_mb for r in runs):.0f} | {steps} | {delta} | {', '.join(last.ranking[:3])} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="bff6592")
    parser.add_argument("--workloads", default="a,b,c")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "workloads.json")
    parser.add_argument("--full", action="store_true", help='also run this checkout with --faithfulness full ("after-full")')
    parser.add_argument("--pieces", action="store_true", help='also run this checkout with --words pieces ("after-pieces")')
    parser.add_argument("--no-before", action="store_true", help="skip the baseline tree (e.g. to add after-full rows to an earlier run)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-workloads-") as tmp:
        folder = Path(tmp)
        before = unpack_baseline(args.baseline, folder)
        keys = args.workloads.split(",")
        base = build_base_model(folder / "models") if {"b", "c"} & set(keys) else None
        every = {
            "a": Workload("a", "(a) 100 KeiCO sentences, sample model", "sample", write_lines(folder / "a.txt", keico_sentences(100))),
            "b": Workload("b", "(b) 20 KeiCO sentences, base-size model", "base", write_lines(folder / "b.txt", keico_sentences(20, skip=100))),
            "c": Workload("c", "(c) 5 paragraphs at 128 tokens, base-size model", "base",
                          write_lines(folder / "c.txt", aozora_paragraphs(5)), ("--max-length", "128")),
        }
        workloads = {k: every[k] for k in keys}
        results: list[Measured] = []
        for round_ in range(1, args.rounds + 1):
            for key, work in workloads.items():
                model = SAMPLE_MODEL if work.model == "sample" else base
                assert model is not None
                wanted = {"before": not args.no_before, "after": True, "after-full": args.full, "after-pieces": args.pieces}
                names = [n for n in ("after", "after-full", "after-pieces", "before") if wanted[n]]
                if round_ % 2 == 0:
                    names.reverse()
                order = [(name, before if name == "before" else REPO) for name in names]
                for name, tree in order:
                    measured = run_once(tree, name, work, model, folder / f"r{round_}-{key}-{name}", round_, TREES[name])
                    print(json.dumps(asdict(measured), ensure_ascii=False), flush=True)
                    results.append(measured)
        print()
        print(f"baseline {args.baseline}; after {subprocess.run(['git', '-C', str(REPO), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}"
              f" (+ uncommitted changes, if any); one torch thread each; load at the end {os.getloadavg()[0]:.1f}")
        print(table(results, workloads))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
