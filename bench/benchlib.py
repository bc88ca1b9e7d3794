"""Shared set-up of reportgen's benchmarks: threads, models, texts, timing and tables.

Both benchmark scripts import this module (it sits beside them, so ``python bench/<script>.py``
finds it). Models are never downloaded:

* ``sample``: the bundled ``samples/model``; while that folder has not been built yet, the tiny
  seeded fixture of ``tests/conftest.py`` (``build_tiny_albert``) stands in for it, and every
  table says so.
* ``base``: an ALBERT-base-sized model with random, seeded weights (hidden 768, 12 heads,
  12 layers, intermediate 3072, embedding 128, ``num_labels=1``) and the sample model's
  tokenizer, saved to a temporary folder and loaded through ``reportgen.loading.load_model``
  like a user's model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402  (after the environment above)

from reportgen.inputs import InputText, read_inputs  # noqa: E402
from reportgen.loading import LoadedModel, load_model  # noqa: E402

SAMPLE_MODEL = REPO / "samples" / "model"
SAMPLE_TEXTS = REPO / "samples" / "texts.txt"
MODEL_NAMES = ("sample", "base")
BASE_SHAPE = dict(
    embedding_size=128,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=512,
)
"""albert-base-v2's shape (AlbertConfig's own defaults are the xxlarge shape)."""


@dataclass(frozen=True)
class BenchModel:
    key: str
    """``sample`` or ``base``."""
    name: str
    """What the tables call it: ``samples/model``, ``tiny fixture`` or ``ALBERT-base random``."""
    shape: str
    """Layers, heads, sizes and parameter count, for the models table."""
    loaded: LoadedModel

    @property
    def folder(self) -> Path:
        return Path(self.loaded.info.path)


def setup_threads(threads: int) -> int:
    """Pin torch's intra-op threads (and one inter-op thread); return what torch reports."""
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass
    return torch.get_num_threads()


def parse_models(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown or not names:
        raise SystemExit(f"--models: expected a comma-separated subset of {','.join(MODEL_NAMES)}, got {value!r}")
    return names


def parse_per_model(value: str, option: str) -> dict[str, int]:
    """``"sample=100,base=25"`` -> ``{"sample": 100, "base": 25}`` (counts for each model)."""
    counts = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, number = part.partition("=")
        if name not in MODEL_NAMES or not number.isdigit() or int(number) < 1:
            raise SystemExit(f"{option}: expected NAME=COUNT pairs like sample=100,base=25, got {value!r}")
        counts[name] = int(number)
    return counts


def read_texts(path: Path, repeat: int = 1) -> list[InputText]:
    """The lines of ``path`` (blank lines skipped), repeated ``repeat`` times, renumbered."""
    texts = [t.text for t in read_inputs([str(path)]).texts] * max(1, repeat)
    return [InputText(i, text, f"{path.name}#{i}") for i, text in enumerate(texts)]


def add_common_arguments(parser: argparse.ArgumentParser, out: str) -> None:
    """The options both benchmarks share."""
    parser.add_argument("--models", default="sample,base", help="comma-separated: sample, base")
    parser.add_argument(
        "--sample-model", type=Path, default=SAMPLE_MODEL,
        help="the 'sample' model folder (default samples/model; the tiny fixture while it is missing)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--out", type=Path, default=Path(out), help=f"JSON results (default {out})")


@contextlib.contextmanager
def models_from_args(args: argparse.Namespace) -> Iterator[dict[str, BenchModel]]:
    """The models named by ``--models`` / ``--sample-model``, in a temporary folder kept open meanwhile."""
    with tempfile.TemporaryDirectory(prefix="reportgen-bench-") as workdir:
        yield load_models(parse_models(args.models), Path(workdir), args.sample_model)


def load_models(names: Sequence[str], workdir: Path, sample_dir: Path = SAMPLE_MODEL) -> dict[str, BenchModel]:
    """The requested models; ``base`` borrows the sample (or fixture) tokenizer."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    sample = _sample_model(sample_dir, workdir)
    models = {"sample": sample}
    if "base" in names:
        models["base"] = _base_model(sample.loaded, workdir / "albert-base-random")
    return {name: models[name] for name in names}


def _sample_model(folder: Path, workdir: Path) -> BenchModel:
    if (folder / "config.json").is_file():
        loaded = load_model(folder)
        name = "samples/model" if folder.resolve() == SAMPLE_MODEL.resolve() else folder.name
        return BenchModel("sample", name, _shape(loaded), loaded)
    from tests.conftest import build_tiny_albert

    loaded = load_model(build_tiny_albert(workdir / "tiny" / "model"))
    return BenchModel("sample", "tiny fixture", _shape(loaded) + "; stands in while samples/model is not built", loaded)


def _base_model(tokenizer_source: LoadedModel, folder: Path, seed: int = 0) -> BenchModel:
    from transformers import AlbertConfig, AlbertForSequenceClassification

    tokenizer = tokenizer_source.tokenizer
    config = AlbertConfig(
        vocab_size=len(tokenizer),
        num_labels=1,
        problem_type="regression",
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        **BASE_SHAPE,
    )
    torch.manual_seed(seed)
    model = AlbertForSequenceClassification(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    loaded = load_model(folder)
    return BenchModel("base", "ALBERT-base random", _shape(loaded) + f"; random weights, seed {seed}", loaded)


def _shape(loaded: LoadedModel) -> str:
    info = loaded.info
    return (
        f"{info.num_layers} layers, {info.num_heads} heads, hidden {info.hidden_size}, "
        f"vocab {len(loaded.tokenizer)}, {info.num_parameters / 1e6:.1f}M params"
    )


def models_table(models: dict[str, BenchModel]) -> str:
    return markdown_table(["Model", "Shape"], [[m.name, m.shape] for m in models.values()])


def describe_models(models: dict[str, BenchModel]) -> dict[str, dict[str, str]]:
    return {key: {"name": m.name, "shape": m.shape, "folder": str(m.folder)} for key, m in models.items()}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call, by ``time.perf_counter``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def interleaved_rounds(
    cases: dict[str, Callable[[], Any]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Time every case ``rounds`` times, round-robin, so slow spells of a shared CPU hit all alike.

    Returns the seconds of every round per case, and each case's result from its last round.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    last: dict[str, Any] = {}
    for _ in range(rounds):
        for name, fn in cases.items():
            seconds, last[name] = timed(fn)
            times[name].append(seconds)
    return times, last


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def other_load() -> list[str]:
    """Other busy processes right now (``ps``, more than 20% CPU), to note beside the numbers."""
    try:
        ps = subprocess.run(["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    busy = []
    for line in ps.stdout.splitlines()[1:]:
        pid, pcpu, args = (line.split(None, 2) + ["", ""])[:3]
        if pid.isdigit() and int(pid) != os.getpid() and _float(pcpu) > 20.0:
            busy.append(f"{pcpu}% {args[:100]}")
    return busy


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def machine_info(threads: int) -> dict[str, object]:
    import transformers

    return {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "other_busy_processes": other_load(),
        "utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def begin(threads: int) -> dict[str, object]:
    """Pin the threads, print the thread count and the machine; return the machine's description."""
    actual = setup_threads(threads)
    print(f"torch threads: {actual}")
    info = machine_info(actual)
    print_machine(info)
    return info


def finish(info: dict[str, object]) -> None:
    """Note the load average at the end of the run beside the one at its start."""
    info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    info["other_busy_processes_after"] = other_load()


def milliseconds(seconds: float) -> str:
    """Three significant digits: 0.0123 ms, 1.23 ms, 1234 ms."""
    ms = seconds * 1000
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.3g}"


def print_machine(info: dict[str, object]) -> None:
    print(
        f"machine: {info['cpu']}, {info['cpu_count']} CPUs, torch {info['torch']} with "
        f"{info['torch_threads']} threads, transformers {info['transformers']}, load average {info['load_average']}"
    )
    for line in info["other_busy_processes"] or ["(no other process above 20% CPU)"]:
        print(f"  busy: {line}")


def write_json(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
