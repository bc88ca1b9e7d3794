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
* **report** (``--full``): after the HTML report is rendered.

These in-process modes call the stages as the Python API does (records keep every head; the data
file is written from them in memory), not as ``reportgen run`` does since the end of a run was
bounded (records without heads, the data file streamed from the parts): ``--cli`` measures that.

**Whole runs** (``--cli``): the ``reportgen run`` command exactly as a user types it, each in a
fresh process; its peak RSS is the child's ``ru_maxrss`` from ``os.wait4`` (the parent's own
imports are not inherited: a fresh ``exec``). Two cases:

* ``--case keico``: the sample model, the first N KeiCO sentences (``bench_workloads.keico_sentences``),
  ``--methods cls_attention --faithfulness off --threads 1``;
* ``--case mem128``: the 12-layer, 12-head, hidden-768 ALBERT with random weights
  (``benchlib``), N Aozora paragraphs of over 1,400 characters (the ``mem128`` texts of
  ``bench_page.py`` and the ones after them) cut to ``--max-length 128``, every method,
  ``--faithfulness off --threads 1``: how the peak grows with texts and with ``--max-size``.

``--data no,yes`` runs each size without and with ``--data X.parquet`` (default
``--data-attention``); ``--max-sizes 10,5,...`` repeats each run at those page budgets.

Usage (from the repository root)::

    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/bench_stream_memory.py --sizes 1000,10000 \\
        [--chunk-size 256] [--full] [--no-faithfulness] [--out bench/out/stream_memory.json]
    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/bench_stream_memory.py --cli --case keico --sizes 1000,10000 \\
        --data no,yes [--out bench/out/stream_memory_cli.json]
    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/bench_stream_memory.py --cli --case mem128 --sizes 10,20 \\
        --max-sizes 10 [--out bench/out/stream_memory_mem128.json]
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
        def results(self, count: int, heads: bool = True):  # noqa: ANN201
            if "compute" not in out:  # the first read-back (a data file reads the parts again)
                out["compute"] = peak_mib()
                out["compute_seconds"] = time.perf_counter() - start
            return super().results(count, heads)

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


def cli_inputs(case: str, size: int, folder: Path) -> Path:
    """The input file of a ``--cli`` run: ``size`` texts of ``case``, one per line."""
    if case == "keico":
        from bench_workloads import keico_sentences

        texts = keico_sentences(size)
    elif case == "mem128":
        from bench_page import AOZORA

        paragraphs = [line.strip() for line in AOZORA.read_text(encoding="utf-8").splitlines() if len(line) > 1400]
        texts = paragraphs[20 : 20 + size]
    else:
        raise SystemExit(f"--case {case}: keico or mem128")
    if len(texts) < size:
        raise SystemExit(f"--case {case}: only {len(texts)} texts, not {size}")
    path = folder / f"{case}-{size}.txt"
    path.write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")
    return path


def cli_run(case: str, size: int, data: bool, max_size: float, model: Path, folder: Path, chunk_size: int) -> dict[str, object]:
    """One ``reportgen run`` in a fresh process: wall seconds and the child's peak RSS (``ru_maxrss``)."""
    out = folder / f"{case}-{size}-{'data' if data else 'nodata'}-{max_size:g}.html"
    cmd = [sys.executable, "-m", "reportgen", "run", str(cli_inputs(case, size, folder)), "--model", str(model),
           "--out", str(out), "--faithfulness", "off", "--threads", "1", "--max-size", f"{max_size:g}",
           "--chunk-size", str(chunk_size), "--force"]
    if case == "keico":
        cmd += ["--methods", "cls_attention"]
    else:
        cmd += ["--max-length", "128"]
    if data:
        cmd += ["--data", str(out.with_suffix(".parquet"))]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    child_process = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # Read the output while waiting (a full pipe would stall the run); wait4 gives this child's rusage.
    output = child_process.stdout.read() if child_process.stdout is not None else b""
    _, status, usage = os.wait4(child_process.pid, 0)
    child_process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child_process.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}\nexit {child_process.returncode}\n{output.decode(errors='replace')[-3000:]}")
    lines = output.decode(errors="replace").strip().splitlines()
    return {
        "case": case, "texts": size, "data": data, "max_size": max_size, "seconds": round(seconds, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),  # ru_maxrss is in KiB on Linux
        "html_bytes": out.stat().st_size,
        "data_bytes": out.with_suffix(".parquet").stat().st_size if data else None,
        "said": [line for line in lines if line.startswith("reportgen: ")],
        "command": " ".join(["reportgen", *cmd[3:]]),
    }


def cli_main(args: argparse.Namespace) -> None:
    info = begin(1)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-stream-cli-") as temp:
        folder = Path(temp)
        if args.case == "mem128":
            from benchlib import load_models

            model = load_models(["sample", "base"], folder)["base"].folder
        else:
            model = REPO / "samples" / "model"
        for size in (int(s) for s in args.sizes.split(",")):
            for max_size in (float(m) for m in args.max_sizes.split(",")):
                for data in (d == "yes" for d in args.data.split(",")):
                    runs.append(cli_run(args.case, size, data, max_size, model, folder, args.chunk_size))
                    print(json.dumps(runs[-1], ensure_ascii=False), flush=True)
    finish(info)
    rows = [[r["texts"], "yes" if r["data"] else "no", f"{r['max_size']:g}", f"{r['seconds']:.0f}", r["peak_rss_mib"],
             f"{r['html_bytes'] / 1e6:.2f}"] for r in runs]
    print(markdown_table(["texts", "--data", "--max-size", "wall (s)", "peak RSS (MiB)", "HTML (MB)"], rows))
    for data in (True, False):
        same = [r for r in runs if r["data"] == data and r["max_size"] == runs[0]["max_size"]]
        if len(same) >= 2:
            print(f"peak ratio {same[-1]['texts']} / {same[0]['texts']} texts, --data {'yes' if data else 'no'}: "
                  f"{same[-1]['peak_rss_mib'] / same[0]['peak_rss_mib']:.2f}x")
    write_json(args.out, {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "runs": runs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--no-faithfulness", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/out/stream_memory.json"))
    parser.add_argument("--cli", action="store_true", help="measure whole `reportgen run` commands (see the module doc)")
    parser.add_argument("--case", default="keico", help="--cli: keico or mem128")
    parser.add_argument("--data", default="no,yes", help="--cli: runs without (no) and with (yes) --data")
    parser.add_argument("--max-sizes", default="10", help="--cli: --max-size of each run (MB, comma-separated)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cli:
        cli_main(args)
        return
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
