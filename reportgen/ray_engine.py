"""``--engine ray``: chunks computed by a pool of Ray actors, one model per actor.

Owns the Ray side of a run: connecting to a cluster (``RAY_ADDRESS``) or starting a local Ray
with bounded CPUs, the actor pool (Ray Data ``map_batches`` over the chunks, one chunk per call,
each actor loading the model once; ``num_gpus=1`` per actor with ``--device cuda``), and
shutting down what it started. Each actor runs the very :func:`reportgen.engine.compute_chunk`
the local engine runs and returns its chunk as part-file bytes (a data file of that chunk), so
the driver only writes what arrives; the aggregates and the report are computed locally at the
end, as for the local engine. Ray is an optional extra: ``pip install "reportgen[ray]"``.

CPU shares: a 2-CPU local Ray with two 1-CPU actors has no CPU left for Ray Data's own tasks
and stalls. Actors therefore ask for a fraction of a CPU (:data:`ACTOR_CPU_SHARE`), and a local
Ray is started with one CPU per worker plus one for Ray Data's tasks; each actor sets torch to
``threads`` CPU threads (default 1).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

from .errors import InputError
from .inputs import InputText

ACTOR_CPU_SHARE = 0.5
"""Ray CPUs each actor reserves: under one, so Ray Data's own tasks always find a CPU."""
DEFAULT_WORKERS = 2


class ChunkActor:
    """One model per actor; called with one chunk at a time, returns its part file's bytes."""

    def __init__(
        self, model_dir: str, checkpoint: str | None, device: str, threads: int, methods: Sequence[str] | None,
        gradients: bool, options: Any, max_length: int, header: Any,
    ) -> None:
        import torch

        from .loading import load_model
        from .methods import resolve

        torch.set_num_threads(threads)
        self.loaded = load_model(model_dir, Path(checkpoint) if checkpoint else None, device)
        self.methods = resolve(methods, gradients)
        self.options = options
        self.max_length = max_length
        self.header = header

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        from .engine import compute_chunk, encode_part

        indices, parts = [], []
        for index, payload in zip(batch["index"], batch["texts"]):
            texts = [InputText(**t) for t in json.loads(payload)]
            o = self.options
            result = compute_chunk(
                self.loaded, texts, self.methods, batch_size=o.batch_size, ig_steps=o.ig_steps, words=o.words,
                max_length=self.max_length, faithfulness=o.faithfulness,
            )
            indices.append(int(index))
            parts.append(encode_part(result, self.header))
        return {"index": np.array(indices, dtype=np.int64), "part": np.array(parts, dtype=object)}


class RayEngine:
    """Computes the chunks on Ray; see the module docstring."""

    def __init__(
        self, model_dir: Path | str, checkpoint: Path | None, device: str, *, workers: int = DEFAULT_WORKERS,
        threads: int | None = None,
    ) -> None:
        if workers < 1:
            raise InputError(f"--ray-workers {workers}: must be at least 1")
        try:
            import ray  # noqa: F401
            import ray.data  # noqa: F401
        except ImportError:
            raise InputError('--engine ray needs Ray: pip install "reportgen[ray]"') from None
        self.model_dir = str(model_dir)
        self.checkpoint = str(checkpoint) if checkpoint is not None else None
        self.device = device
        self.workers = workers
        self.threads = threads or 1

    def run(self, todo, methods, options, max_length, header, progress) -> Iterator[tuple[int, bytes]]:  # noqa: ANN001
        if not todo:
            return
        import ray

        started = _connect(self.workers)
        try:
            ds = ray.data.from_items(
                [
                    {"index": index, "texts": json.dumps([_plain(t) for t in texts], ensure_ascii=False)}
                    for index, texts in todo
                ],
                override_num_blocks=len(todo),
            )
            gpus = 1 if self.device == "cuda" else 0
            with warnings.catch_warnings():
                # max_restarts goes through **ray_remote_args, deprecated in Ray 2.60 with no named
                # replacement yet; without it Ray logs an error line about restartable actors.
                warnings.filterwarnings("ignore", message=".*ray_remote_args.*")
                ds = ds.map_batches(
                    ChunkActor,
                    batch_size=1,
                    batch_format="numpy",
                    compute=ray.data.ActorPoolStrategy(size=min(self.workers, len(todo))),
                    num_cpus=ACTOR_CPU_SHARE,
                    num_gpus=gpus,
                    max_restarts=0,  # a failed actor fails the run (its arguments are not kept to restart it)
                    fn_constructor_kwargs=dict(
                        model_dir=self.model_dir, checkpoint=self.checkpoint, device=self.device, threads=self.threads,
                        methods=[m.info.name for m in methods], gradients=True, options=options, max_length=max_length,
                        header=header,
                    ),
                )
            for row in ds.iter_rows():
                yield int(row["index"]), bytes(row["part"])
        finally:
            if started:
                ray.shutdown()


def _plain(text: InputText) -> dict[str, Any]:
    return {"text_id": text.text_id, "text": text.text, "source": text.source, "gold": text.gold}


def _connect(workers: int) -> bool:
    """Connect to ``RAY_ADDRESS`` when set, else start a local Ray; True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    import logging

    import ray.data

    # reportgen draws its own progress; Ray Data's bars and per-dataset log lines would bury it.
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR", configure_logging=False)
    if os.environ.get("RAY_ADDRESS"):
        ray.init(**{k: v for k, v in quiet.items() if k != "include_dashboard"})
        return True  # disconnects the driver at the end; the cluster stays up
    # One CPU per worker plus one for Ray Data's tasks, never more than this machine has plus one.
    cpus = min(workers, os.cpu_count() or 1) + 1
    ray.init(num_cpus=cpus, num_gpus=None, **quiet)
    return True


__all__ = ["ACTOR_CPU_SHARE", "ChunkActor", "DEFAULT_WORKERS", "RayEngine"]
