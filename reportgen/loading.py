"""Loading a fine-tuned model and its tokenizer from local files, and describing it.

Owns the two checkpoint formats: a Hugging Face directory, and the original article's raw
``state_dict`` of a custom module (``self.albert = AlbertModel(...)`` plus a linear head on the
pooled output). Every failure becomes a :class:`ModelLoadError` with a one-line message.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Buffers that some transformers versions save and others do not: never a mismatch.
_IGNORED_KEYS = re.compile(r"(^|\.)(position_ids|token_type_ids)$")


class ModelLoadError(RuntimeError):
    """A checkpoint that cannot be used: the message is one line, fit to print as it is."""


@dataclass(frozen=True)
class ModelInfo:
    path: str
    checkpoint: str | None
    architecture: str
    model_type: str
    num_layers: int
    num_heads: int
    hidden_size: int
    num_parameters: int
    weights_file: str
    weights_sha256: str
    task: str
    """``"regression"`` (one output, shown as it is) or ``"classification"``."""
    labels: tuple[str, ...]
    max_length: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    """A ``transformers`` sequence-classification model in eval mode, eager attention."""
    tokenizer: Any
    info: ModelInfo
    device: str


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda: no CUDA device is available here")
    if device not in ("cpu", "cuda"):
        raise ModelLoadError(f"--device {device!r}: expected auto, cpu or cuda")
    return device


def load_model(model_dir: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> LoadedModel:
    """Load tokenizer and model from ``model_dir``; weights from ``checkpoint`` when given."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(f"{model_dir}: model folder not found")
    if not (model_dir / "config.json").is_file():
        raise ModelLoadError(f"{model_dir}: no config.json (expected a Hugging Face model folder)")
    try:
        config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - any parse failure is a bad checkpoint
        raise ModelLoadError(f"{model_dir / 'config.json'}: cannot read config ({_one_line(err)})") from None
    tokenizer, notes = _load_tokenizer(model_dir, config)
    device = resolve_device(device)

    _quiet_transformers()
    if checkpoint is None:
        weights = _weights_file(model_dir)
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                model_dir, local_files_only=True, attn_implementation="eager"
            )
        except Exception as err:  # noqa: BLE001
            raise ModelLoadError(f"{weights}: cannot load weights ({_one_line(err)})") from None
    else:
        weights = Path(checkpoint)
        model = _load_state_dict_checkpoint(weights, config)
    model.eval().to(device)
    info = _describe(model, model_dir, checkpoint, weights, notes, tokenizer)
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, device=device)


def _quiet_transformers() -> None:
    # Loading prints progress bars and "weights not initialised" notices; we report problems ourselves.
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _load_tokenizer(model_dir: Path, config: Any) -> tuple[Any, tuple[str, ...]]:
    from transformers import AutoTokenizer

    kwargs: dict[str, object] = {}
    notes: list[str] = []
    tok_config = model_dir / "tokenizer_config.json"
    saved = json.loads(tok_config.read_text(encoding="utf-8")) if tok_config.is_file() else {}
    if getattr(config, "model_type", "") == "albert" and "keep_accents" not in saved:
        # Japanese SentencePiece vocabularies break without it (ご would become こ).
        kwargs["keep_accents"] = True
        notes.append("tokenizer loaded with keep_accents=True (not set in tokenizer_config.json)")
    has_files = any((model_dir / f).is_file() for f in ("tokenizer.json", "spiece.model", "vocab.txt", "sentencepiece.bpe.model"))
    if not has_files:
        raise ModelLoadError(f"{model_dir}: no tokenizer files (tokenizer.json, spiece.model or vocab.txt)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, **kwargs)
    except Exception as err:  # noqa: BLE001
        raise ModelLoadError(f"{model_dir}: cannot load tokenizer ({_one_line(err)})") from None
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise ModelLoadError(f"{model_dir}: tokenizer has no [CLS]/[SEP] tokens; reportgen needs an encoder tokenizer")
    return tokenizer, tuple(notes)


def _weights_file(model_dir: Path) -> Path:
    for name in WEIGHT_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    raise ModelLoadError(
        f"{model_dir}: no weights (expected {' or '.join(WEIGHT_FILES)}; "
        "for an article-style state_dict pass --checkpoint FILE)"
    )


def _load_state_dict_checkpoint(path: Path, config: Any) -> Any:
    """Load the article's format: ``torch.save(module.state_dict())`` of albert + linear head."""
    from transformers import AutoModelForSequenceClassification

    if not path.is_file():
        raise ModelLoadError(f"{path}: checkpoint file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ModelLoadError(
            f"{path}: refused: the file needs arbitrary code to unpickle (only plain tensors are "
            f"loaded, weights_only=True): {_one_line(err)[:160]}"
        ) from None
    except Exception as err:  # noqa: BLE001
        raise ModelLoadError(f"{path}: not a readable torch checkpoint ({_one_line(err)[:160]})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"{path}: expected a state_dict (a dict of tensors), got {type(state).__name__}")

    state = {k.removeprefix("module."): v for k, v in state.items()}
    base = getattr(config, "model_type", "albert")
    body = {k: v for k, v in state.items() if k.startswith(f"{base}.")}
    rest = {k: v for k, v in state.items() if not k.startswith(f"{base}.")}
    head_weight, head_bias, head_prefix = _find_head(rest, config.hidden_size, path)
    num_labels = head_weight.shape[0]
    config.num_labels = num_labels
    if num_labels == 1:
        config.problem_type = "regression"
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation="eager")
    target_prefix = "classifier"
    mapped = dict(body)
    mapped[f"{target_prefix}.weight"] = head_weight
    mapped[f"{target_prefix}.bias"] = head_bias
    leftover = sorted(k for k in rest if not k.startswith(head_prefix + ".") and not _IGNORED_KEYS.search(k))

    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in mapped and not _IGNORED_KEYS.search(k))
    unexpected = sorted(k for k in mapped if k not in expected and not _IGNORED_KEYS.search(k)) + leftover
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing, e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected, e.g. {', '.join(unexpected[:3])}")
        raise ModelLoadError(f"{path}: state_dict keys do not match the {base} config: " + "; ".join(parts))
    bad_shapes = [k for k, v in mapped.items() if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    if bad_shapes:
        k = bad_shapes[0]
        raise ModelLoadError(
            f"{path}: tensor {k} has shape {tuple(mapped[k].shape)}, the config expects {tuple(expected[k].shape)}"
        )
    model.load_state_dict({k: v for k, v in mapped.items() if k in expected}, strict=False)
    return model


def _find_head(rest: dict[str, torch.Tensor], hidden: int, path: Path) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The linear head: a ``(labels, hidden)`` weight and ``(labels,)`` bias under any name."""
    candidates = []
    for key, weight in rest.items():
        if not key.endswith(".weight") or weight.ndim != 2 or weight.shape[1] != hidden:
            continue
        prefix = key[: -len(".weight")]
        bias = rest.get(prefix + ".bias")
        if bias is not None and bias.shape == (weight.shape[0],):
            candidates.append((weight, bias, prefix))
    if len(candidates) != 1:
        found = ", ".join(c[2] for c in candidates) or "none"
        others = ", ".join(sorted(rest)[:4]) or "none"
        raise ModelLoadError(
            f"{path}: expected exactly one linear head (a (n, {hidden}) weight with its bias) outside the "
            f"encoder; found {found} (other keys: {others})"
        )
    return candidates[0]


def _describe(
    model: Any, model_dir: Path, checkpoint: str | Path | None, weights: Path, notes: tuple[str, ...], tokenizer: Any
) -> ModelInfo:
    config = model.config
    num_labels = int(config.num_labels)
    task = "regression" if num_labels == 1 or config.problem_type == "regression" else "classification"
    id2label = getattr(config, "id2label", None) or {}
    labels = tuple(str(id2label.get(i, f"LABEL_{i}")) for i in range(num_labels))
    limits = [int(getattr(config, "max_position_embeddings", 512) or 512)]
    if 0 < int(getattr(tokenizer, "model_max_length", 0) or 0) < 100_000:
        limits.append(int(tokenizer.model_max_length))
    return ModelInfo(
        path=str(model_dir),
        checkpoint=str(checkpoint) if checkpoint is not None else None,
        architecture=type(model).__name__,
        model_type=str(config.model_type),
        num_layers=int(config.num_hidden_layers),
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        num_parameters=sum(p.numel() for p in model.parameters()),
        weights_file=weights.name,
        weights_sha256=_sha256(weights),
        task=task,
        labels=labels,
        max_length=min(limits),
        notes=notes,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__
