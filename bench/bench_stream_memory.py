"""Benchmark of streaming memory (issue 13, item 3): peak RSS for 1,000 against 10,000 texts.

Each size runs in a fresh subprocess: the bundled sample model, the first N KeiCO sentences
(``samples/data/keico``; N above the corpus size repeats it), one cheap method
(``--methods cls_attention``; faithfulness runs too, unless ``--no-faithfulness``: this branch has
no option to turn it off, so the bench replaces ``evaluate_faithfulness`` by an empty report; it
holds at most 64 texts' masked inputs at once whatever the corpus size, and costs most of the time),
chunks of ``--chunk-size`` texts written to a part folder as ``reportgen run --data`` does
(:class:`reportgen.engine.PartStore`). In the child, ``VmHWM`` (the RSS high-water mark) is read
from ``/proc/self/status``:

* **compute**: after the model is loaded and every chunk is computed and written, before any part
  is read back: what streaming bounds;
* **data file** (``--full``): after the parts are read back, the aggregates computed and the
  final data file written (every text's records in memory, as the report needs them);
* **report** (``--full``): after the HTML report is rendered, which embeds every attention head of
  every text.

Usage (from the repository root)::

    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/bench_stream_memory.py --sizes 1000,10000 \\
        [--chunk-size 256] [--full] [--no-faithfulness] [--out bench/out/stream_memory.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, begin, finish, markdown_table, write_json

KEICO = REPO / "samples" / "data" / "keico" / "keico_corpus.csv"


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def child(size: int, chunk_size: int, full: bool, faithfulness: bool) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    if not faithfulness:
        import reportgen.engine
        from reportgen.faithfulness import FRACTIONS, RULES
        from reportgen.types import FaithfulnessReport

        def no_faithfulness(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            return FaithfulnessReport((), (), None, FRACTIONS, RULES)

        reportgen.engine.evaluate_faithfulness = no_faithfulness
    from reportgen import pipeline
    from reportgen.data import write_data
    from reportgen.engine import PartStore
    from reportgen.inputs import InputSet, InputText
    from reportgen.loading import load_model
    from reportgen.render import render_html

    with open(KEICO, encoding="utf-8") as handle:
        corpus = [row["本文"] for row in csv.DictReader(handle)]
    texts = tuple(InputText(i, corpus[i % len(corpus)], f"keico:{i % len(corpus) + 2}") for i in range(size))
    loaded = load_model(REPO / "samples" / "model", None, "cpu")
    out: dict[str, float] = {"loaded": peak_mib()}

    class Measured(PartStore):
        def results(self, count: int):  # noqa: ANN201
            out["compute"] = peak_mib()
            out["compute_seconds"] = time.perf_counter() - start
            return super().results(count)

    options = pipeline.ExplainOptions(methods=("cls_attention",), chunk_size=chunk_size)
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as temp:
        store = Measured(Path(temp) / "parts", "bench", resume=False)
        start = time.perf_counter()
        computation = pipeline.compute(loaded, InputSet(texts, 0, ("keico",)), options, store=store)
        if full:
            c = computation
            write_data(Path(temp) / "d.parquet", c.run, c.model, c.methods, c.records, faithfulness=c.faithfulness,
                       agreement=c.agreement, ig_tolerance=c.ig_tolerance)
            out["data_file"] = peak_mib()
            render_html(computation.report())
            out["report"] = peak_mib()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--no-faithfulness", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/out/stream_memory.json"))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.chunk_size, args.full, not args.no_faithfulness)))
        return
    info = begin(1)
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--child", str(size), "--chunk-size", str(args.chunk_size)]
        cmd += ["--full"] if args.full else []
        cmd += ["--no-faithfulness"] if args.no_faithfulness else []
        env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        results[size] = json.loads(done.stdout.strip().splitlines()[-1])
        print(size, results[size], flush=True)
    finish(info)
    sizes = list(results)
    rows = []
    for size in sizes:
        r = results[size]
        rows.append([size, f"{r['compute_seconds']:.0f}", f"{r['loaded']:.0f}", f"{r['compute']:.0f}",
                     f"{r['data_file']:.0f}" if "data_file" in r else "-", f"{r['report']:.0f}" if "report" in r else "-"])
    print(markdown_table(["texts", "compute (s)", "peak after load (MiB)", "peak, computing (MiB)", "peak, data file (MiB)",
                          "peak, report (MiB)"], rows))
    if len(sizes) >= 2:
        a, b = results[sizes[0]], results[sizes[-1]]
        print(f"compute peak ratio {sizes[-1]} / {sizes[0]}: {b['compute'] / a['compute']:.2f}x")
    write_json(args.out, {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "results": results})


if __name__ == "__main__":
    main()
