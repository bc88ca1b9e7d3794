"""Benchmark of Integrated Gradients (issue 13, item 1): adaptive steps and memory-sized passes.

In one run:

* **steps**: for each model (``sample``: the bundled model on every line of
  ``samples/texts.txt``; ``base``: the ALBERT-base-shaped random model on the first
  ``--base-texts`` lines), today's way (32 Gauss-Legendre steps on every text, passes of a fixed
  ``2 x batch_size`` rows: ``MethodContext(..., ig_steps=32, memory_budget=None)``) against the
  new default (adaptive steps, 1 GiB budget: ``MethodContext(...)``). Each is warmed up once,
  then timed ``--rounds`` times round-robin (``time.perf_counter``). Reported: seconds, steps
  per text, model rows evaluated, the largest ``|delta| / |f(x) - f(baseline)|``, and the token
  values' error against a 64-step Gauss-Legendre reference (``sum |s - ref| / sum |ref|``, the
  largest over texts; computed once, untimed).
* **memory**: the base-shaped model on ``--long-texts`` texts of exactly ``--long-length``
  tokens, each way in a fresh subprocess: forced 32 steps with today's fixed rows, forced 32
  steps with the 1 GiB budget, and the new default (adaptive + budget). In the child, after
  loading the model and extracting attention, the RSS high-water mark is reset
  (``/proc/self/clear_refs`` 5) and ``VmRSS`` read ("before"); after Integrated Gradients,
  ``VmHWM`` is the peak. (``ru_maxrss`` is recorded in the JSON but not used: Linux carries the
  parent's high-water mark into a forked child.)

Usage (from the repository root, venv active)::

    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/bench_ig.py --threads 1 --rounds 2 \\
        [--base-texts 10] [--long-texts 3] [--long-length 128] [--out bench/out/ig.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from benchlib import (
    REPO,
    SAMPLE_TEXTS,
    begin,
    describe_models,
    finish,
    interleaved_rounds,
    markdown_table,
    median,
    models_from_args,
    models_table,
    read_texts,
    setup_threads,
    write_json,
)

import numpy as np

from reportgen.extraction import encode_texts, extract
from reportgen.inputs import InputText
from reportgen.loading import LoadedModel, load_model
from reportgen.methods import MethodContext, TokenScores
from reportgen.methods import gradients as gradients_module
from reportgen.methods.base import DEFAULT_MEMORY_BUDGET
from reportgen.methods.integrated_gradients import INTEGRATED_GRADIENTS, rows_used

TODAY = "fixed 32 steps, fixed rows (today)"
ADAPTIVE = "adaptive steps + 1 GiB budget (new default)"
FORCED_BUDGET = "fixed 32 steps + 1 GiB budget"
REFERENCE_STEPS = 64


def contexts(loaded: LoadedModel, extractions: Sequence, batch_size: int) -> dict[str, MethodContext]:
    return {
        TODAY: MethodContext(loaded, tuple(extractions), batch_size, ig_steps=32, memory_budget=None),
        ADAPTIVE: MethodContext(loaded, tuple(extractions), batch_size),
    }


def fixed_length_texts(loaded: LoadedModel, lines: Sequence[str], count: int, length: int):
    """``count`` texts of exactly ``length`` tokens: rotated concatenations of the sample lines, truncated."""
    texts = [
        InputText(i, "".join(lines[i % len(lines) :] + lines[: i % len(lines)]), f"rotation {i}") for i in range(count)
    ]
    encoded = encode_texts(loaded, texts, length)
    if any(len(e.input_ids) != length for e in encoded):
        raise SystemExit(f"cannot build {length}-token texts from the sample lines")
    return encoded


def token_error(scores: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(scores - reference).sum() / max(np.abs(reference).sum(), 1e-300))


def summarise(results: list[TokenScores], reference: list[TokenScores], adaptive: bool) -> dict[str, Any]:
    steps = [int(r.steps) for r in results]
    rel = [float(r.delta_relative) for r in results]
    return {
        "steps": steps,
        "steps_histogram": {str(s): steps.count(s) for s in sorted(set(steps))},
        "rows": sum(rows_used(s, adaptive) for s in steps),
        "max_delta_relative": max(rel),
        "texts_within_1pct": sum(r <= 0.01 for r in rel),
        "delta_relative": rel,
        "max_token_error_vs_reference": max(token_error(r.scores, f.scores) for r, f in zip(results, reference)),
    }


def bench_steps(model, items: list[InputText], batch_size: int, rounds: int) -> list[dict[str, Any]]:
    loaded = model.loaded
    encoded = encode_texts(loaded, items, loaded.info.max_length)
    extractions = extract(loaded, encoded, batch_size)
    ways = contexts(loaded, extractions, batch_size)
    reference = INTEGRATED_GRADIENTS.compute(MethodContext(loaded, tuple(extractions), batch_size, ig_steps=REFERENCE_STEPS))
    warm = {name: MethodContext(loaded, tuple(extractions[:1]), batch_size, ctx.ig_steps, memory_budget=ctx.memory_budget)
            for name, ctx in ways.items()}
    for ctx in warm.values():
        INTEGRATED_GRADIENTS.compute(ctx)
    times, last = interleaved_rounds({name: (lambda c=ctx: INTEGRATED_GRADIENTS.compute(c)) for name, ctx in ways.items()}, rounds)
    lengths = [len(e.input_ids) for e in encoded]
    rows = []
    for name in ways:
        rows.append({
            "model": model.name,
            "way": name,
            "texts": len(encoded),
            "tokens_mean": float(np.mean(lengths)),
            "tokens_max": max(lengths),
            "seconds": times[name],
            "best": min(times[name]),
            "median": median(times[name]),
            **summarise(last[name], reference, adaptive=ways[name].adaptive),
        })
    return rows


# --------------------------------------------------------------------------- memory (subprocesses)


def _status(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (its high-water mark) of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux ``clear_refs`` 5); False where refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: load, extract, then one Integrated Gradients call; report memory."""
    setup_threads(spec["threads"])
    loaded = load_model(spec["model"])
    lines = [t.text for t in read_texts(SAMPLE_TEXTS)]
    encoded = fixed_length_texts(loaded, lines, spec["texts"], spec["length"])
    extractions = extract(loaded, encoded, spec["batch_size"])
    budget = DEFAULT_MEMORY_BUDGET if spec["budget"] else None
    ctx = MethodContext(loaded, tuple(extractions), spec["batch_size"], spec["ig_steps"], memory_budget=budget)
    passes: list[list[int]] = []
    real_pad = gradients_module.pad_batch

    def spy(loaded_model, rows):
        passes.append([len(rows), max(len(r) for r in rows)])
        return real_pad(loaded_model, rows)

    gradients_module.pad_batch = spy
    high_before = _status("VmHWM")
    reset = _reset_peak()
    before = _status("VmRSS")
    start = time.perf_counter()
    results = INTEGRATED_GRADIENTS.compute(ctx)
    seconds = time.perf_counter() - start
    return {
        "rss_before": before,
        "peak_before": high_before,
        "peak_reset": reset,
        "peak": _status("VmHWM"),
        # ru_maxrss survives exec (Linux keeps the parent's high-water mark at fork), so it is
        # kept for reference only; VmHWM belongs to this process's own memory map.
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "seconds": seconds,
        "passes": passes,
        "steps": [int(r.steps) for r in results],
        "max_delta_relative": max(float(r.delta_relative) for r in results),
    }


def bench_memory(model_dir: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    ways = {
        TODAY: dict(ig_steps=32, budget=False),
        FORCED_BUDGET: dict(ig_steps=32, budget=True),
        ADAPTIVE: dict(ig_steps=None, budget=True),
    }
    rows = []
    for name, way in ways.items():
        spec = dict(model=str(model_dir), texts=args.long_texts, length=args.long_length,
                    batch_size=args.batch_size, threads=args.threads, **way)
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", json.dumps(spec)],
            capture_output=True, text=True, check=False, cwd=REPO,
        )
        if done.returncode != 0:
            raise SystemExit(f"memory child for {name!r} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"way": name, "spec": spec, **result})
        print(f"  {name}: peak {result['peak'] / 2**30:.2f} GiB, {result['seconds']:.1f} s", flush=True)
    return rows


# --------------------------------------------------------------------------- tables


def gib(n: int) -> str:
    return f"{n / 2**30:.2f}"


def steps_table(rows: list[dict[str, Any]]) -> str:
    body = []
    today = {r["model"]: r for r in rows if r["way"] == TODAY}
    for r in rows:
        base = today[r["model"]]
        hist = ", ".join(f"{k}: {v}" for k, v in r["steps_histogram"].items())
        body.append([
            r["model"], f"{r['texts']} ({r['tokens_mean']:.1f} / {r['tokens_max']})", r["way"],
            f"{r['best']:.2f}", f"{r['median']:.2f}", f"{base['best'] / r['best']:.2f}x",
            hist, r["rows"], f"{r['max_delta_relative']:.2e}", f"{r['texts_within_1pct']}/{r['texts']}",
            f"{r['max_token_error_vs_reference']:.2e}",
        ])
    return markdown_table(
        ["Model", "Texts (tokens mean / max)", "Way", "Best s", "Median s", "Speed vs today",
         "Steps per text (steps: texts)", "Model rows", "Max |delta| rel.", "Texts within 1%",
         "Max token error vs 64 steps"],
        body,
    )


def memory_table(rows: list[dict[str, Any]], model_name: str) -> str:
    today = next(r for r in rows if r["way"] == TODAY)
    body = []
    for r in rows:
        sizes = sorted({p[0] for p in r["passes"]}, reverse=True)
        body.append([
            model_name, f"{r['spec']['texts']} x {r['spec']['length']}", r["way"],
            "/".join(map(str, sizes)), len(r["passes"]), gib(r["rss_before"]), gib(r["peak"]),
            gib(r["peak"] - r["rss_before"]), f"{(today['peak'] - today['rss_before']) / max(r['peak'] - r['rss_before'], 1):.1f}x",
            f"{r['seconds']:.1f}", ",".join(map(str, sorted(set(r["steps"])))), f"{r['max_delta_relative']:.2e}",
        ])
    if not all(r["peak_reset"] for r in rows):
        print("note: /proc/self/clear_refs was refused; a peak may predate Integrated Gradients")
    return markdown_table(
        ["Model", "Texts x tokens", "Way", "Rows per pass", "Passes", "RSS before GiB", "Peak RSS GiB",
         "Growth GiB", "Growth today / this", "Seconds", "Steps", "Max |delta| rel."],
        body,
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
        print(json.dumps(memory_child(json.loads(sys.argv[2]))))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--tables":  # print the tables of a saved run again
        print_tables(json.loads(Path(sys.argv[2]).read_text(encoding="utf-8")))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="sample,base")
    parser.add_argument("--sample-model", type=Path, default=REPO / "samples" / "model")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--base-texts", type=int, default=10, help="sample lines run on the base-shaped model")
    parser.add_argument("--long-texts", type=int, default=3)
    parser.add_argument("--long-length", type=int, default=128)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/out/ig.json"))
    args = parser.parse_args()

    machine = begin(args.threads)
    items = read_texts(SAMPLE_TEXTS)
    with models_from_args(args) as models:
        print(models_table(models))
        steps_rows = []
        for key, model in models.items():
            chosen = items if key == "sample" else items[: args.base_texts]
            print(f"steps: {model.name}, {len(chosen)} texts", flush=True)
            steps_rows += bench_steps(model, chosen, args.batch_size, args.rounds)
        memory_rows = []
        if "base" in models and not args.no_memory:
            print(f"memory: {models['base'].name}, {args.long_texts} x {args.long_length} tokens", flush=True)
            memory_rows = bench_memory(models["base"].folder, args)
        finish(machine)
        data = {
            "machine": machine,
            "models": describe_models(models),
            "args": {k: str(v) for k, v in vars(args).items()},
            "steps": steps_rows,
            "memory": memory_rows,
            "memory_model": models["base"].name if memory_rows else None,
        }
        write_json(args.out, data)
    print_tables(data)


def print_tables(data: dict[str, Any]) -> None:
    print()
    print(steps_table(data["steps"]))
    if data["memory"]:
        print()
        print(memory_table(data["memory"], data["memory_model"]))


if __name__ == "__main__":
    main()
