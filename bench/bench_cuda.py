"""--device cuda end to end (issue 13, item 5): the same runs on the GPU and on the CPU, numbers compared.

Needs a CUDA machine; the test suite never does. Runs in-process through
``reportgen.pipeline.run_report`` with no HTML (``out=None``), so the machine needs torch,
transformers, pandas and pyarrow but not vl-convert: render the data file elsewhere with
``reportgen render OUT/demo-cuda.parquet``. Runs:

* the demo (sample model, every method, full faithfulness) on ``cpu`` and ``cuda``: the token
  CSV and the faithfulness CSV compared column by column (largest absolute difference);
* workloads (b) 20 KeiCO sentences and (c) 5 Aozora paragraphs at ``--max-length 128`` on the
  base-size random ALBERT of ``bench_workloads.py``, on both devices, compared the same way.

Prints one JSON line per run (wall seconds, the GPU's peak allocated memory) and per comparison.
``--smoke`` runs the demo's first three texts on the CPU twice (a check of this script without a GPU).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402
import torch  # noqa: E402

import bench_workloads as workloads  # noqa: E402
from reportgen.pipeline import RunOptions, run_report  # noqa: E402


def run(out: Path, device: str, name: str, inputs: Path, model: Path, **options) -> dict[str, object]:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    run_report(RunOptions(
        inputs=(str(inputs),), model_dir=model, out=None, device=device, force=True,
        data=out / f"{name}.parquet", csv=out / f"{name}.csv", faithfulness_csv=out / f"{name}-faith.csv",
        **options,
    ))
    row = {
        "run": name, "device": device, "wall_s": round(time.perf_counter() - start, 2),
        "gpu_peak_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None,
    }
    print(json.dumps(row), flush=True)
    return row


def largest_differences(a: Path, b: Path) -> dict[str, float]:
    """Largest |a - b| per float column; every other column must be equal."""
    x, y = pd.read_csv(a), pd.read_csv(b)
    if list(x.columns) != list(y.columns) or len(x) != len(y):
        raise SystemExit(f"{a.name} and {b.name} differ in shape")
    worst = {}
    for column in x.columns:
        if pd.api.types.is_float_dtype(x[column]):
            worst[column] = float((x[column] - y[column]).abs().max(skipna=True) or 0.0)
        elif not (x[column].astype(str) == y[column].astype(str)).all():
            raise SystemExit(f"{a.name} and {b.name} differ in column {column}")
    return worst


def compare(out: Path, name: str, first: str, second: str) -> None:
    for suffix in (".csv", "-faith.csv"):
        worst = largest_differences(out / f"{name}-{first}{suffix}", out / f"{name}-{second}{suffix}")
        column = max(worst, key=worst.get)
        print(json.dumps({"compared": f"{name}{suffix}", "largest_abs_difference": worst[column], "column": column}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench/out/cuda")))
    parser.add_argument("--cpu-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    gpu = "cpu" if args.smoke else "cuda"  # --smoke: the "cuda" files are made on the CPU
    print(json.dumps({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}), flush=True)
    demo, sample = REPO / "samples" / "texts.txt", REPO / "samples" / "model"
    if args.smoke:
        demo = workloads.write_lines(args.out / "smoke.txt", demo.read_text(encoding="utf-8").splitlines()[:3])
    rows = [run(args.out, "cpu", "demo-cpu", demo, sample, threads=args.cpu_threads), run(args.out, gpu, "demo-cuda", demo, sample)]
    compare(args.out, "demo", "cpu", "cuda")
    if not args.smoke:
        base = workloads.build_base_model(args.out)
        inputs = {
            "b": workloads.write_lines(args.out / "b.txt", workloads.keico_sentences(20)),
            "c": workloads.write_lines(args.out / "c.txt", workloads.aozora_paragraphs(5)),
        }
        for name, path in inputs.items():
            rows.append(run(args.out, "cuda", f"{name}-cuda", path, base, max_length=128))
            rows.append(run(args.out, "cpu", f"{name}-cpu", path, base, max_length=128, threads=args.cpu_threads))
            compare(args.out, name, "cpu", "cuda")
    (args.out / "runs.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
