"""Benchmark of the explanation methods (issue 5): cost per text, and IG against Captum.

For each model (``sample``, ``base``; see ``benchlib``) and each token length (default 32 and
64), texts of exactly that many tokens ([CLS] and [SEP] included) are built by concatenating
the sample texts in rotated order and truncating them with ``encode_texts(max_length=L)``.
Then, in one run:

* ``extraction``: ``reportgen.extraction.extract`` (the attention methods read its output);
* every method of ``reportgen.methods.REGISTRY`` through its ``compute(MethodContext)``, with
  Integrated Gradients at reportgen's default steps and at 50 steps;
* ``faithfulness``: ``reportgen.faithfulness.evaluate_faithfulness`` over every method's scores
  (deletion curves and the random reference), which a report also pays for;
* Captum's default usage of Integrated Gradients: ``LayerIntegratedGradients`` on the word
  embeddings layer, one text at a time, ``n_steps=50`` (Captum's default Gauss-Legendre rule,
  no ``internal_batch_size``), the same [CLS] [PAD]... [SEP] baseline as reportgen.

Every method is warmed up once on one text, then timed ``--rounds`` times (the best round, in
seconds per text by ``time.perf_counter``; all rounds are in the JSON). Reportgen's 50-step IG and Captum's are also compared value by
value (they integrate the same path with the same quadrature nodes).

Usage (from the repository root, venv active)::

    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/bench_methods.py \\
        [--models sample,base] [--lengths 32,64] [--texts-per-model sample=16,base=4] \\
        [--out bench/out/methods.json]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Callable, Sequence

from benchlib import (
    add_common_arguments,
    SAMPLE_TEXTS,
    BenchModel,
    begin,
    describe_models,
    finish,
    interleaved_rounds,
    models_from_args,
    markdown_table,
    milliseconds,
    models_table,
    parse_per_model,
    read_texts,
    write_json,
)

import numpy as np
import torch

from reportgen.faithfulness import evaluate_faithfulness
from reportgen.extraction import EncodedText, encode_texts, extract
from reportgen.inputs import InputText
from reportgen.loading import LoadedModel
from reportgen.methods import REGISTRY, MethodContext, TokenScores
from reportgen.methods.integrated_gradients import DEFAULT_STEPS, baseline_ids

CAPTUM_STEPS = 50
IG = "integrated_gradients"
CAPTUM = "captum LayerIntegratedGradients"
FAITHFULNESS = "faithfulness (all methods + random)"


# --------------------------------------------------------------------------- inputs


def fixed_length_texts(loaded: LoadedModel, lines: Sequence[str], count: int, length: int) -> list[EncodedText]:
    """``count`` texts of exactly ``length`` tokens: rotated concatenations, truncated."""
    texts = [InputText(i, "".join(lines[i % len(lines) :] + lines[: i % len(lines)]), f"rotation {i}") for i in range(count)]
    encoded = encode_texts(loaded, texts, length)
    short = [e.full_length for e in encoded if len(e.input_ids) != length]
    if short:
        raise SystemExit(f"cannot build {length}-token texts: the sample texts give only {min(short)} tokens")
    return encoded


def context(loaded: LoadedModel, encoded: Sequence[EncodedText], batch_size: int, ig_steps: int) -> MethodContext:
    extractions = extract(loaded, encoded, batch_size)
    return MethodContext(loaded, tuple(extractions), batch_size, ig_steps)


# --------------------------------------------------------------------------- Captum


def captum_integrated_gradients(ctx: MethodContext, steps: int = CAPTUM_STEPS) -> list[TokenScores]:
    """Captum's default usage: one ``attribute`` call per text on the word embeddings layer."""
    from captum.attr import LayerIntegratedGradients

    loaded = ctx.loaded
    model = loaded.model
    pad_id = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor, target: int) -> torch.Tensor:
        return model(input_ids=input_ids, attention_mask=attention_mask).logits[:, target]

    lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
    results = []
    for enc, target in zip(ctx.encoded, ctx.targets):
        ids = torch.tensor([enc.input_ids], dtype=torch.long, device=loaded.device)
        base = torch.tensor([baseline_ids(enc.input_ids, enc.special, pad_id)], dtype=torch.long, device=loaded.device)
        attributions, delta = lig.attribute(
            ids,
            baselines=base,
            additional_forward_args=(torch.ones_like(ids), target),
            n_steps=steps,
            return_convergence_delta=True,
        )
        scores = attributions[0].sum(dim=-1).detach().double().cpu().numpy()
        results.append(TokenScores(CAPTUM, enc.text_id, scores, delta=float(delta[0])))
    return results


def compare_ig(ours: Sequence[TokenScores], captum: Sequence[TokenScores]) -> dict[str, float]:
    """How far reportgen's 50-step IG is from Captum's, relative to the attributions' size."""
    diff = max(float(np.abs(a.scores - b.scores).max()) for a, b in zip(ours, captum))
    scale = max(float(np.abs(b.scores).max()) for b in captum)
    return {
        "max_abs_difference": diff,
        "max_abs_attribution": scale,
        "relative_difference": diff / scale if scale else float("nan"),
        "reportgen_max_abs_delta": max(abs(s.delta or 0.0) for s in ours),
        "captum_max_abs_delta": max(abs(s.delta or 0.0) for s in captum),
    }


# --------------------------------------------------------------------------- timing


def method_cases(ctx: MethodContext, batch_size: int) -> dict[str, Callable[[], Any]]:
    """Every timed call on ``ctx``'s texts, by row name."""
    cases: dict[str, Callable[[], Any]] = {
        "extraction": lambda: extract(ctx.loaded, ctx.encoded, batch_size),
    }
    for name, method in REGISTRY.items():
        if name == IG:
            continue
        cases[name] = lambda method=method: method.compute(ctx)
    ig = REGISTRY[IG]
    steps = dataclasses.replace(ctx, ig_steps=CAPTUM_STEPS)
    cases[f"{IG} ({DEFAULT_STEPS} steps)"] = lambda: ig.compute(ctx)
    cases[f"{IG} ({CAPTUM_STEPS} steps)"] = lambda: ig.compute(steps)
    cases[f"{CAPTUM} ({CAPTUM_STEPS} steps)"] = lambda: captum_integrated_gradients(ctx)
    return cases


def registry_scores(last: dict[str, Any]) -> dict[str, list[TokenScores]]:
    """Each registry method's scores from the timed runs (IG at reportgen's default steps)."""
    return {name: last[f"{IG} ({DEFAULT_STEPS} steps)" if name == IG else name] for name in REGISTRY}


def time_faithfulness(ctx: MethodContext, scores: dict[str, list[TokenScores]], rounds: int) -> list[float]:
    """Deletion curves of every method plus the random reference, as ``run_report`` runs them."""
    first = {name: values[:1] for name, values in scores.items()}
    interleaved_rounds({"warm": lambda: evaluate_faithfulness(ctx.loaded, ctx.extractions[:1], first, ctx.batch_size)}, 1)
    run = {"faithfulness": lambda: evaluate_faithfulness(ctx.loaded, ctx.extractions, scores, ctx.batch_size)}
    return interleaved_rounds(run, rounds)[0]["faithfulness"]


def bench_length(model: BenchModel, lines: Sequence[str], count: int, length: int, batch_size: int, rounds: int) -> dict[str, Any]:
    loaded = model.loaded
    encoded = fixed_length_texts(loaded, lines, count, length)
    warm = context(loaded, encoded[:1], batch_size, DEFAULT_STEPS)
    interleaved_rounds(method_cases(warm, batch_size), 1)
    ctx = context(loaded, encoded, batch_size, DEFAULT_STEPS)
    print(f"[{model.key} {length} tokens] warmed up; timing {rounds} round(s) on {count} texts", flush=True)
    times, last = interleaved_rounds(method_cases(ctx, batch_size), rounds)
    times[FAITHFULNESS] = time_faithfulness(ctx, registry_scores(last), rounds)
    per_text = {name: min(seconds) / count for name, seconds in times.items()}
    return {
        "model": model.name,
        "tokens": length,
        "texts": count,
        "seconds_per_text": per_text,
        "seconds_all_rounds": times,
        "ig_vs_captum": compare_ig(last[f"{IG} ({CAPTUM_STEPS} steps)"], last[f"{CAPTUM} ({CAPTUM_STEPS} steps)"]),
    }


# --------------------------------------------------------------------------- output


def cost_table(runs: Sequence[dict[str, Any]]) -> str:
    names = list(runs[0]["seconds_per_text"])
    headers = ["Method"] + [f"{r['model']}, {r['tokens']} tok ({r['texts']} texts)" for r in runs]
    rows = [[name] + [milliseconds(r["seconds_per_text"][name]) for r in runs] for name in names]
    return "Milliseconds per text (best of the rounds):\n\n" + markdown_table(headers, rows)


def captum_table(runs: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in runs:
        t = r["seconds_per_text"]
        ours, captum, cmp = t[f"{IG} ({CAPTUM_STEPS} steps)"], t[f"{CAPTUM} ({CAPTUM_STEPS} steps)"], r["ig_vs_captum"]
        rows.append([
            r["model"], r["tokens"], r["texts"],
            milliseconds(t[f"{IG} ({DEFAULT_STEPS} steps)"]), milliseconds(ours), milliseconds(captum),
            f"{captum / ours:.2f}x", f"{captum / t[f'{IG} ({DEFAULT_STEPS} steps)']:.2f}x", f"{cmp['relative_difference']:.1e}",
            f"{cmp['reportgen_max_abs_delta']:.1e} / {cmp['captum_max_abs_delta']:.1e}",
        ])
    headers = [
        "Model", "Tokens", "Texts", f"reportgen IG {DEFAULT_STEPS} steps (ms/text)", f"reportgen IG {CAPTUM_STEPS} steps (ms/text)",
        f"Captum LIG {CAPTUM_STEPS} steps (ms/text)", f"Captum / reportgen ({CAPTUM_STEPS} steps)",
        f"Captum {CAPTUM_STEPS} / reportgen {DEFAULT_STEPS}",
        f"Largest difference / largest attribution ({CAPTUM_STEPS} steps)",
        f"Largest abs. delta, reportgen / Captum ({CAPTUM_STEPS} steps)",
    ]
    return markdown_table(headers, rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=Path, default=SAMPLE_TEXTS, help="lines concatenated into the fixed-length texts")
    parser.add_argument("--lengths", default="32,64", help="comma-separated token lengths ([CLS]/[SEP] included)")
    parser.add_argument("--texts-per-model", default="sample=16,base=4", help="texts timed per model and length")
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds per method (the best is reported)")
    add_common_arguments(parser, "bench/out/methods.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    machine = begin(args.threads)
    counts = parse_per_model(args.texts_per_model, "--texts-per-model")
    lengths = [int(n) for n in args.lengths.split(",") if n.strip()]
    lines = [t.text for t in read_texts(args.texts)]
    with models_from_args(args) as models:
        runs = [
            bench_length(model, lines, counts.get(key, 4), length, args.batch_size, args.rounds)
            for key, model in models.items()
            for length in lengths
        ]
    finish(machine)
    print()
    print(models_table(models))
    print()
    print(cost_table(runs))
    print()
    print(captum_table(runs))
    write_json(args.out, {"machine": machine, "models": describe_models(models), "runs": runs})


if __name__ == "__main__":
    main()
