"""The output-only forward (``reportgen.logits.output_logits``) vs the model's own forward (issue 13).

Faithfulness and the gradient methods read one output per row, so ``output_logits`` runs an
ALBERT classifier's last layer at [CLS] only, with fused attention and tanh-GELU kernels. This
script times both ways on the same rows, interleaved round by round:

* **faithfulness passes**: the masked inputs ``evaluate_faithfulness`` builds for the first
  ``--texts`` KeiCO sentences (ranked by ``cls_attention``, every step and random order), in the
  same padded passes of ``4 x batch_size`` rows, under ``torch.inference_mode``;
* **gradient passes**: the same rows as word embeddings, forward and backward of the summed
  outputs, ``2 x batch_size`` rows per pass (as ``reportgen.methods.gradients`` runs them).

Reported: best and median seconds per 1,000 rows each way, the ratio, and the largest absolute
difference of the outputs (and of the gradients, relative to their largest value).

Usage (from the repository root)::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_logits.py --models sample,base --threads 1 \\
        --texts sample=40,base=8 --rounds 3
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import benchlib
import torch

from reportgen import faithfulness as F
from reportgen.extraction import encode_texts, extract
from reportgen.forward import padded_batches
from reportgen.inputs import InputText
from reportgen.logits import output_logits, uses_direct_path
from reportgen.methods import MethodContext, resolve, run_methods

KEICO = benchlib.REPO / "samples" / "data" / "keico" / "keico_corpus.csv"


def keico(count: int) -> list[InputText]:
    with KEICO.open(encoding="utf-8", newline="") as handle:
        rows = [r["本文"].strip() for r in csv.DictReader(handle) if r["本文"].strip()]
    return [InputText(i, text, f"keico#{i}") for i, text in enumerate(rows[:count])]


def faithfulness_rows(model: benchlib.BenchModel, count: int, batch_size: int) -> list[tuple[int, ...]]:
    """The distinct masked inputs full faithfulness evaluates for ``count`` sentences."""
    loaded = model.loaded
    encoded = encode_texts(loaded, keico(count), loaded.info.max_length)
    extractions = extract(loaded, encoded, batch_size)
    scores = run_methods(resolve(["cls_attention"]), MethodContext(loaded, tuple(extractions), batch_size))
    captured: list[tuple[int, ...]] = []
    real = F.evaluate_outputs

    def capture(loaded_, rows, targets, per_pass):  # noqa: ANN001, ANN202
        captured.extend(rows)
        return real(loaded_, rows, targets, per_pass)

    F.evaluate_outputs = capture
    try:
        F.evaluate_faithfulness(loaded, extractions, scores, batch_size=batch_size)
    finally:
        F.evaluate_outputs = real
    return captured


def forward_pass(model: benchlib.BenchModel, batches: list, direct: bool) -> torch.Tensor:
    outs = []
    with torch.inference_mode():
        for batch in batches:
            inputs = batch.inputs
            outs.append(output_logits(model.loaded.model, inputs) if direct else model.loaded.model(**inputs).logits)
    return torch.cat(outs)


def gradient_pass(model: benchlib.BenchModel, batches: list, direct: bool) -> tuple[torch.Tensor, torch.Tensor]:
    table = model.loaded.model.get_input_embeddings()
    outs, grads = [], []
    for batch in batches:
        mask = batch.inputs["attention_mask"]
        embeds = table(batch.inputs["input_ids"]).detach().requires_grad_(True)
        if direct:
            logits = output_logits(model.loaded.model, {"inputs_embeds": embeds, "attention_mask": mask})
        else:
            logits = model.loaded.model(inputs_embeds=embeds, attention_mask=mask).logits
        (grad,) = torch.autograd.grad(logits[:, 0].sum(), embeds)
        outs.append(logits.detach()[:, 0])
        grads.append((grad * mask[:, :, None]).flatten())  # padding's gradient is never read
    return torch.cat(outs), torch.cat(grads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    benchlib.add_common_arguments(parser, "bench/out/logits.json")
    parser.add_argument("--texts", default="sample=40,base=8", help="sentences per model")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    info = benchlib.begin(args.threads)
    counts = benchlib.parse_per_model(args.texts, "--texts")
    results = []
    table = []
    with benchlib.models_from_args(args) as models:
        for key, model in models.items():
            assert uses_direct_path(model.loaded.model)
            rows = faithfulness_rows(model, counts.get(key, 8), args.batch_size)
            tokens = sum(len(r) for r in rows) / len(rows)
            for kind, per_pass, run in (
                ("faithfulness (forward)", 4 * args.batch_size, forward_pass),
                ("gradients (forward + backward)", 2 * args.batch_size, gradient_pass),
            ):
                batches = list(padded_batches(model.loaded, rows, per_pass))
                times, last = benchlib.interleaved_rounds(
                    {"model": lambda: run(model, batches, False), "direct": lambda: run(model, batches, True)}, args.rounds
                )
                if kind.startswith("faithfulness"):
                    diff = float((last["direct"] - last["model"]).abs().max())
                    grad_diff = "-"
                else:
                    diff = float((last["direct"][0] - last["model"][0]).abs().max())
                    scale = float(last["model"][1].abs().max())
                    grad_diff = f"{float((last['direct'][1] - last['model'][1]).abs().max()) / scale:.1e}"
                per_k = {way: [1000 * s / len(rows) for s in seconds] for way, seconds in times.items()}
                best = {way: min(v) for way, v in per_k.items()}
                table.append([
                    model.name, kind, f"{len(rows)} ({tokens:.1f})", per_pass,
                    f"{best['model']:.2f}", f"{benchlib.median(per_k['model']):.2f}",
                    f"{best['direct']:.2f}", f"{benchlib.median(per_k['direct']):.2f}",
                    f"{best['direct'] / best['model']:.2f}x", f"{diff:.1e}", grad_diff,
                ])
                results.append({"model": key, "kind": kind, "rows": len(rows), "seconds": times, "output_diff": diff})
                print(table[-1], flush=True)
        benchlib.finish(info)
    print()
    print(benchlib.markdown_table(
        ["model", "pass", "rows (mean tokens)", "rows per pass", "model s/1k rows best", "median",
         "output_logits s/1k rows best", "median", "best ratio", "max output diff", "max gradient diff (rel.)"],
        table,
    ))
    print(f"load average at the end: {info['load_average_after']}")
    benchlib.write_json(args.out, {"machine": info, "results": results})


if __name__ == "__main__":
    main()
