"""Where a model's files are, found and checked without torch or transformers.

Owns turning ``--model`` (or ``model=``) into a folder: a folder that exists, else a hub id
(``org/name``) looked up in the local Hugging Face cache, never the network; and the checks
that folder must pass before anything is loaded from it (a folder, not a file, holding a
``config.json``). :mod:`reportgen.loading` loads the model from there; the pipeline calls
these first so a wrong ``--model`` is refused before torch is imported (seconds).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelLoadError, printable as _name

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
"""A Hugging Face repository id: ``name`` or ``org/name``."""


@dataclass(frozen=True)
class ModelSource:
    folder: Path
    """The folder holding config.json, weights and tokenizer files."""
    label: str
    """What messages and the report call it: the path as given, or the hub id."""
    notes: tuple[str, ...] = ()


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time.

    The same rule as ``huggingface_hub``: ``HF_HUB_CACHE`` (or the older
    ``HUGGINGFACE_HUB_CACHE``), else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``,
    else ``~/.cache/huggingface/hub``. Read here rather than from ``huggingface_hub.constants``
    (fixed when that module is imported), so a changed environment is honoured.
    """
    env = os.environ
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(key):
            return Path(env[key]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(xdg).expanduser() / "huggingface" / "hub"


def looks_like_hub_id(value: str) -> bool:
    """``org/name`` or ``name`` as the hub spells ids: not a path that only happens to be missing."""
    return bool(HUB_ID.match(value)) and "--" not in value and ".." not in value and not value.endswith(".git")


def resolve_model_source(model: str | Path) -> ModelSource:
    """A folder that exists wins; otherwise a hub id is looked up in the local cache, offline.

    A missing id is a one-line :class:`ModelLoadError` that names the cache and how to fill it.
    """
    text = str(model)
    path = Path(model)
    if path.exists() or not looks_like_hub_id(text):
        return ModelSource(path, str(path))
    cache = hub_cache_dir()
    snapshot = _cached_snapshot(text, cache)
    if snapshot is None:
        if "/" not in text:
            raise ModelLoadError(f"{_name(text)}: model folder not found (nor a model of that id in the local Hugging Face cache at {_name(cache)})")
        raise ModelLoadError(
            f"{_name(text)}: not in the local Hugging Face cache at {_name(cache)}; download it once with "
            f"`huggingface-cli download {text}` (or `hf download {text}`)"
        )
    return ModelSource(snapshot, text, (f"loaded from the local Hugging Face cache: {snapshot}",))


def _cached_snapshot(repo_id: str, cache: Path) -> Path | None:
    """The cached snapshot folder of ``repo_id`` (its ``main`` revision), without any network."""
    if not cache.is_dir():
        return None
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, cache_dir=str(cache), local_files_only=True))
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError, a malformed cache, an invalid id: not there
        return None
    return folder if folder.is_dir() else None


def check_folder(source: ModelSource) -> None:
    """Refuse a source that is not a Hugging Face model folder: a file, nothing, or no config.json."""
    model_dir = source.folder
    where = source.label
    if model_dir.exists() and not model_dir.is_dir():
        raise ModelLoadError(f"{_name(where)}: is a file; --model takes the model's folder (config.json, weights, tokenizer)")
    if not model_dir.is_dir():
        raise ModelLoadError(f"{_name(where)}: model folder not found")
    if not (model_dir / "config.json").is_file():
        raise ModelLoadError(f"{_name(where)}: no config.json (expected a Hugging Face model folder)")
