"""Benchmark of ``--faithfulness full|fast|off`` (issue 13) on the demo, in one run.

The bundled sample model on the bundled 25 sample texts, every method, one torch thread. The
model is loaded once; then each way runs the whole computation behind a report
(``reportgen.pipeline.compute``: extraction, every method, faithfulness, agreement) ``--rounds``
times, the ways interleaved round by round so that a change in the machine's load hits all of
them alike. Reported: best and median wall seconds, the ratio to ``off`` and to ``full``, the
model rows the faithfulness stage evaluated (counted by wrapping
``reportgen.faithfulness.evaluate_outputs``) and the verdict each way reaches.

A fourth way, ``checkpoint steps, 5 orders``, runs the perturbations main used before token
resolution (the steps at 1, 5, 10, 20, 50% of the tokens, each count once, and 5 random
orders): ``fast`` is that with 2 random orders.

Usage (from the repository root)::

    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/bench_faithfulness.py [--rounds 3] [--out bench/out/faithfulness.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import reportgen.faithfulness as F  # noqa: E402
import reportgen.pipeline as P  # noqa: E402
from reportgen.inputs import read_inputs  # noqa: E402
from reportgen.loading import load_model  # noqa: E402
from reportgen.report import default_highlight  # noqa: E402

WAYS = ("off", "fast", "checkpoint steps, 5 orders", "full")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = load_model(REPO / "samples" / "model", device="cpu")
    inputs = read_inputs([str(REPO / "samples" / "texts.txt")])
    rows: dict[str, int] = {}
    real = F.evaluate_outputs
    counted = {"rows": 0}

    def counting(loaded_, batch_rows, targets, per_pass):  # noqa: ANN001, ANN202
        counted["rows"] += len(batch_rows)
        return real(loaded_, batch_rows, targets, per_pass)

    F.evaluate_outputs = counting
    real_evaluate = F.evaluate_faithfulness

    def five_orders(*a, **k):  # noqa: ANN002, ANN003, ANN202
        k["random_orders"] = 5
        return real_evaluate(*a, **k)

    times: dict[str, list[float]] = {w: [] for w in WAYS}
    verdicts: dict[str, dict] = {}
    for r in range(args.rounds):
        order = WAYS if r % 2 == 0 else WAYS[::-1]
        for way in order:
            mode = {"checkpoint steps, 5 orders": "fast"}.get(way, way)
            P.evaluate_faithfulness = five_orders if way.startswith("checkpoint") else real_evaluate
            counted["rows"] = 0
            start = time.perf_counter()
            computed = P.compute(loaded, inputs, P.ExplainOptions(faithfulness=mode))
            times[way].append(time.perf_counter() - start)
            rows[way] = counted["rows"]
            faith = computed.faithfulness
            verdicts[way] = {
                "verdict": faith.verdict if faith else None,
                "first": faith.best if faith else None,
                "tied": list(faith.tied) if faith else [],
                "highlight": default_highlight(computed.methods, faith),
                "ranking": [s.method for s in faith.summary if s.rank is not None] if faith else [],
            }
            print(f"round {r + 1} {way}: {times[way][-1]:.2f} s, {rows[way]} rows", flush=True)
    P.evaluate_faithfulness = real_evaluate
    F.evaluate_outputs = real

    best = {w: min(t) for w, t in times.items()}
    print()
    print(f"{len(inputs.texts)} demo texts, sample model, 1 thread, {args.rounds} rounds interleaved")
    print()
    print("| way | best s | median s | vs off | vs full | faithfulness model rows | verdict | default highlight |")
    print("|---|---|---|---|---|---|---|---|")
    for w in WAYS:
        v = verdicts[w]
        verdict = "-" if v["verdict"] is None else (v["verdict"] + (f" ({', '.join(v['tied'])})" if v["tied"] else f" ({v['first']})"))
        print(
            f"| {w} | {best[w]:.2f} | {statistics.median(times[w]):.2f} | {best[w] / best['off']:.2f}x | "
            f"{best[w] / best['full']:.2f}x | {rows[w]} | {verdict} | {v['highlight']} |"
        )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"times": times, "rows": rows, "verdicts": verdicts}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
