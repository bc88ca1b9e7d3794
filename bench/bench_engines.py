"""Benchmark of the engines (issue 13, item 4): ``--engine local`` against ``--engine ray``.

The whole CLI, as a user runs it, in fresh subprocesses, on the first ``--texts`` KeiCO sentences
(``samples/data/keico``) with the bundled sample model and every method: the local engine with
``--local-threads T`` (default 1: on this shared 2-core machine two torch threads spin-wait and
one is faster, see README) against a local Ray with ``--ray-workers W`` actors of one torch
thread each, both ``--chunk-size C``, ``--data`` and ``--out``. Runs alternate (local, ray,
local, ray, ...) for ``--rounds`` rounds; reported are the wall times (``time.perf_counter``
around the subprocess: Ray's start and shutdown and each actor's model load included), their
ratio, and the largest difference between the two data files' numbers (predictions, every
method's token scores, comprehensiveness).

Usage (from the repository root, the ``ray`` extra installed)::

    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/bench_engines.py --texts 150 --workers 2 \\
        --chunk-size 25 [--rounds 1] [--out bench/out/engines.json]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchlib import REPO, begin, finish, markdown_table, write_json

KEICO = REPO / "samples" / "data" / "keico" / "keico_corpus.csv"


def run_cli(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "SOURCE_DATE_EPOCH": "1700000000"}
    env.pop("RAY_ADDRESS", None)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "reportgen", *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"reportgen {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds


def largest_difference(a: Path, b: Path) -> float:
    from reportgen.data import read_data

    x, y = read_data(a), read_data(b)
    worst = 0.0
    for r, s in zip(x.records, y.records, strict=True):
        worst = max(worst, abs(r.extraction.prediction - s.extraction.prediction))
        for name, scores in r.scores.items():
            worst = max(worst, float(np.max(np.abs(scores.scores - s.scores[name].scores))))
        for name, f in r.faithfulness.items():
            if not np.isnan(f.comprehensiveness):
                worst = max(worst, abs(f.comprehensiveness - s.faithfulness[name].comprehensiveness))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--local-threads", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/out/engines.json"))
    args = parser.parse_args()
    info = begin(1)

    with open(KEICO, encoding="utf-8") as handle:
        texts = [row["本文"] for _, row in zip(range(args.texts), csv.DictReader(handle))]
    times: dict[str, list[float]] = {"local": [], "ray": []}
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as temp:
        folder = Path(temp)
        (folder / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
        common = ["run", "texts.txt", "--chunk-size", str(args.chunk_size), "--quiet", "--force"]
        for _ in range(args.rounds):
            for engine in ("local", "ray"):
                extra = (
                    ["--threads", str(args.local_threads)]
                    if engine == "local"
                    else ["--threads", "1", "--engine", "ray", "--ray-workers", str(args.workers)]
                )
                seconds = run_cli([*common, "--data", f"{engine}.parquet", "--out", f"{engine}.html", *extra], folder)
                times[engine].append(seconds)
                print(f"{engine}: {seconds:.1f} s", flush=True)
        diff = largest_difference(folder / "local.parquet", folder / "ray.parquet")
    finish(info)
    local, ray = statistics.median(times["local"]), statistics.median(times["ray"])
    print()
    print(
        markdown_table(
            ["texts", "chunks", f"local, {args.local_threads} thread(s) (s)", f"ray, {args.workers} workers (s)", "ray / local", "largest difference"],
            [[len(texts), -(-len(texts) // args.chunk_size), f"{local:.1f}", f"{ray:.1f}", f"{ray / local:.2f}x", f"{diff:.1e}"]],
        )
    )
    write_json(args.out, {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "seconds": times,
                          "ratio": ray / local, "largest_difference": diff})


if __name__ == "__main__":
    main()
