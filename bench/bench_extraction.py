"""Benchmark of extraction (issue 4): reportgen's batched extraction against the article's way.

Three ways to get predictions and attention for the same texts and model, timed in one run:

``reportgen``
    ``encode_texts`` + ``extract`` from ``reportgen.extraction`` (default batch size 16):
    length-sorted batches padded to their longest text, every layer's attention kept (head
    mean in float32 and every head quantised to uint16), tokenisation with offsets included.
``article``
    The original article's way: each text alone, tokenised with ``padding="max_length"`` to
    512 (or the model's maximum positions when smaller), one forward pass with
    ``output_attentions=True`` under ``torch.no_grad()``, then the last layer summed over
    heads (sliced to the text's real tokens).
``floor eager`` / ``floor sdpa``
    A bare forward pass on the same length-sorted, dynamically padded batches with
    ``output_attentions=False`` (one plain batched tokenizer call included). With eager
    attention the floor computes the very same attention probabilities as reportgen and only
    drops them, so ``floor eager / reportgen`` is the cost of keeping attention; sdpa is
    PyTorch's fused attention, the fastest the model can run here (it cannot return weights).

Each way is warmed up once, then timed ``--rounds`` times round-robin (``time.perf_counter``);
rates and ratios use the best round (on a shared CPU other processes only ever add time), and
the median is printed beside it. Targets: reportgen >= 20x the article's texts/second, and
``floor eager / reportgen <= 1.5``. Optionally (default on) the peak RSS growth of a reportgen
extraction of 25 and of 100 texts is measured, each in a fresh process (Linux ``/proc``).

Usage (from the repository root, venv active)::

    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/bench_extraction.py \\
        [--texts samples/texts.txt] [--repeat 4] [--models sample,base] \\
        [--out bench/out/extraction.json]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import multiprocessing
from pathlib import Path
from typing import Any, Callable, Sequence

from benchlib import (
    add_common_arguments,
    SAMPLE_TEXTS,
    BenchModel,
    models_from_args,
    begin,
    describe_models,
    finish,
    markdown_table,
    median,
    models_table,
    parse_per_model,
    read_texts,
    setup_threads,
    interleaved_rounds,
    write_json,
)

import torch

from reportgen.budget import DEFAULT_MAX_MB, MB, AttentionLadder  # noqa: E402
from reportgen.extraction import encode_texts, extract, length_sorted_batches, pad_batch
from reportgen.inputs import InputText
from reportgen.loading import LoadedModel, load_model

ARTICLE_LENGTH = 512
TARGET_VS_ARTICLE = 20.0
TARGET_FLOOR_RATIO = 1.5
WAYS = ("reportgen", "article", "floor eager", "floor sdpa")


# --------------------------------------------------------------------------- the three ways


def reportgen_way(loaded: LoadedModel, texts: Sequence[InputText], batch_size: int) -> list[float]:
    encoded = encode_texts(loaded, texts, loaded.info.max_length)
    return [r.prediction for r in extract(loaded, encoded, batch_size)]


def article_length(loaded: LoadedModel) -> int:
    return min(ARTICLE_LENGTH, int(loaded.model.config.max_position_embeddings))


def article_way(loaded: LoadedModel, texts: Sequence[InputText]) -> list[float]:
    """One text at a time, padded to 512, last layer's attention summed over heads."""
    length = article_length(loaded)
    predictions, maps = [], []
    for item in texts:
        enc = loaded.tokenizer(
            item.text, padding="max_length", truncation=True, max_length=length, return_tensors="pt"
        )
        with torch.no_grad():
            out = loaded.model(
                input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_attentions=True
            )
        n = int(enc["attention_mask"].sum())
        maps.append(out.attentions[-1][0].sum(dim=0)[:n, :n].numpy())
        predictions.append(float(out.logits[0, 0]))
    return predictions


def floor_way(loaded: LoadedModel, texts: Sequence[InputText], batch_size: int) -> list[float]:
    """Predictions only: one tokenizer call, the same batches as reportgen, no attention output."""
    ids = loaded.tokenizer(
        [t.text for t in texts], truncation=True, max_length=loaded.info.max_length
    )["input_ids"]
    predictions = [0.0] * len(ids)
    for batch in length_sorted_batches([len(row) for row in ids], batch_size):
        inputs = pad_batch(loaded, [ids[i] for i in batch])
        with torch.inference_mode():
            logits = loaded.model(**inputs, output_attentions=False).logits
        for row, index in enumerate(batch):
            predictions[index] = float(logits[row, 0])
    return predictions


def with_attention(loaded: LoadedModel, implementation: str) -> LoadedModel:
    """A copy of ``loaded`` whose model (same weights) uses another attention implementation."""
    if implementation == loaded.model.config._attn_implementation:
        return loaded
    model = type(loaded.model)._from_config(copy.deepcopy(loaded.model.config), attn_implementation=implementation)
    model.load_state_dict(loaded.model.state_dict())
    return dataclasses.replace(loaded, model=model.eval())


# --------------------------------------------------------------------------- one model


def way_cases(
    variants: dict[str, LoadedModel], texts: Sequence[InputText], article_texts: Sequence[InputText], batch_size: int
) -> dict[str, Callable[[], list[float]]]:
    """The timed calls, by way name; ``variants`` holds the eager and the sdpa copy of the model."""
    eager, sdpa = variants["eager"], variants["sdpa"]
    return {
        "reportgen": lambda: reportgen_way(eager, texts, batch_size),
        "article": lambda: article_way(eager, article_texts),
        "floor eager": lambda: floor_way(eager, texts, batch_size),
        "floor sdpa": lambda: floor_way(sdpa, texts, batch_size),
    }


def bench_model(model: BenchModel, texts: list[InputText], article_count: int, rounds: int, batch_size: int) -> dict[str, Any]:
    loaded = model.loaded
    variants = {name: with_attention(loaded, name) for name in ("eager", "sdpa")}
    article_texts = texts[: min(article_count, len(texts))]
    counts = {way: len(texts) for way in WAYS} | {"article": len(article_texts)}
    interleaved_rounds(way_cases(variants, texts[:4], texts[:1], batch_size), 1)  # warm-up
    print(f"[{model.key}] warmed up; timing {rounds} round(s) of {counts}", flush=True)
    times, predictions = interleaved_rounds(way_cases(variants, texts, article_texts, batch_size), rounds)
    tokenise, _ = interleaved_rounds({"encode": lambda: encode_texts(loaded, texts, loaded.info.max_length)}, rounds)
    ways = {
        name: {
            "texts": counts[name],
            "seconds_best": min(times[name]),
            "seconds_median": median(times[name]),
            "seconds_all": times[name],
            "texts_per_second": counts[name] / min(times[name]),
            "texts_per_second_median": counts[name] / median(times[name]),
        }
        for name in WAYS
    }
    return {
        "model": model.name,
        "article_length": article_length(loaded),
        "batch_size": batch_size,
        "ways": ways,
        "ratios": ratios(ways),
        "reportgen_tokenisation_seconds": min(tokenise["encode"]),
        "max_abs_prediction_difference_vs_reportgen": prediction_agreement(predictions),
    }


def prediction_agreement(predictions: dict[str, list[float]]) -> dict[str, float]:
    """Largest |prediction - reportgen's| per way, over the texts both ran (a sanity check)."""
    reference = predictions["reportgen"]
    return {
        name: max(abs(a - b) for a, b in zip(values, reference))
        for name, values in predictions.items()
        if name != "reportgen"
    }


def ratios(ways: dict[str, dict[str, Any]]) -> dict[str, float]:
    rate = {name: ways[name]["texts_per_second"] for name in WAYS}
    return {
        "reportgen_vs_article": rate["reportgen"] / rate["article"],
        "floor_eager_vs_reportgen": rate["floor eager"] / rate["reportgen"],
        "floor_sdpa_vs_reportgen": rate["floor sdpa"] / rate["reportgen"],
    }


# --------------------------------------------------------------------------- memory


def rss_child(model_dir: str, texts_path: str, repeat: int, threads: int, batch_size: int) -> dict[str, float]:
    """In a fresh process: RSS before, and peak RSS during, one reportgen extraction.

    The peak is the kernel's high-water mark (``VmHWM``), reset to the current RSS just before
    the extraction (``/proc/self/clear_refs``) so that model loading does not count.
    ``resource.getrusage``'s ``ru_maxrss`` is no use here: Linux carries it over from the
    parent across fork and exec, so a child would report the benchmark process's own peak.
    """
    setup_threads(threads)
    loaded = load_model(model_dir)
    texts = read_texts(Path(texts_path), repeat)
    Path("/proc/self/clear_refs").write_text("5")
    before = proc_status_mib("VmRSS")
    encoded = encode_texts(loaded, texts, loaded.info.max_length)
    # The page's store at the default budget keeps each text's compressed heads (issue 14).
    ladder = AttentionLadder([len(e.input_ids) for e in encoded], int(DEFAULT_MAX_MB * MB))
    results = extract(loaded, encoded, batch_size, on_attention=ladder.add)
    peak = proc_status_mib("VmHWM")
    kept = (sum(r.layer_mean.nbytes for r in results) + ladder.peak_bytes) / 2**20
    return {"texts": len(texts), "rss_before_mib": before, "peak_rss_mib": peak, "growth_mib": peak - before, "results_mib": kept}


def proc_status_mib(field: str) -> float:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure_rss(model: BenchModel, texts_path: Path, repeats: Sequence[int], threads: int, batch_size: int) -> list[dict[str, float]]:
    context = multiprocessing.get_context("spawn")
    rows = []
    for repeat in repeats:
        with context.Pool(1) as pool:
            rows.append(pool.apply(rss_child, (str(model.folder), str(texts_path), repeat, threads, batch_size)))
    return rows


# --------------------------------------------------------------------------- output


def speed_table(results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for result in results.values():
        for name in WAYS:
            way = result["ways"][name]
            rows.append([
                result["model"], name, way["texts"], f"{way['seconds_best']:.3f}", f"{way['seconds_median']:.3f}",
                f"{way['texts_per_second']:.1f}",
                f"{way['texts_per_second'] / result['ways']['reportgen']['texts_per_second']:.2f}x",
            ])
    headers = ["Model", "Way", "Texts", "Best s", "Median s", "Texts/s (best)", "Speed vs reportgen"]
    return markdown_table(headers, rows)


def target_table(results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for result in results.values():
        r = result["ratios"]
        rows.append([
            result["model"],
            f"{r['reportgen_vs_article']:.1f}x ({'met' if r['reportgen_vs_article'] >= TARGET_VS_ARTICLE else 'MISSED'})",
            f"{r['floor_eager_vs_reportgen']:.2f} ({'met' if r['floor_eager_vs_reportgen'] <= TARGET_FLOOR_RATIO else 'MISSED'})",
            f"{r['floor_sdpa_vs_reportgen']:.2f}",
        ])
    return markdown_table(
        ["Model", "reportgen / article (target >= 20x)", "floor eager / reportgen (target <= 1.5)", "floor sdpa / reportgen"],
        rows,
    )


def rss_table(rss: dict[str, list[dict[str, float]]], labels: dict[str, str]) -> str:
    rows = [
        [labels[key], int(r["texts"]), f"{r['rss_before_mib']:.0f}", f"{r['peak_rss_mib']:.0f}", f"{r['growth_mib']:.1f}", f"{r['results_mib']:.1f}"]
        for key, measured in rss.items()
        for r in measured
    ]
    return markdown_table(["Model", "Texts", "RSS before (MiB)", "Peak RSS (MiB)", "Peak growth (MiB)", "Results kept (MiB)"], rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=Path, default=SAMPLE_TEXTS)
    parser.add_argument("--repeat", type=int, default=4, help="repeat the texts file N times (default 4: 100 texts)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per way (best and median reported)")
    parser.add_argument(
        "--article-texts", default="sample=100,base=25",
        help="at most this many texts for the article way, per model (it is slow on ALBERT-base)",
    )
    parser.add_argument("--no-rss", action="store_true", help="skip the peak RSS measurement")
    add_common_arguments(parser, "bench/out/extraction.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    machine = begin(args.threads)
    article_counts = parse_per_model(args.article_texts, "--article-texts")
    texts = read_texts(args.texts, args.repeat)
    with models_from_args(args) as models:
        results = {
            key: bench_model(model, texts, article_counts.get(key, len(texts)), args.rounds, args.batch_size)
            for key, model in models.items()
        }
        rss = {} if args.no_rss else {
            key: measure_rss(model, args.texts, sorted({1, args.repeat}), args.threads, args.batch_size) for key, model in models.items()
        }
    finish(machine)
    print()
    print(models_table(models))
    print()
    print(speed_table(results))
    print()
    print(target_table(results))
    if rss:
        print()
        print(rss_table(rss, {key: models[key].name for key in rss}))
    write_json(args.out, {"machine": machine, "models": describe_models(models), "results": results, "rss": rss})


if __name__ == "__main__":
    main()
