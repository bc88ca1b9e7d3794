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

from .errors import ModelLoadError, printable as _name, short as _short
from .types import ModelInfo

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Buffers that some transformers versions save and others do not: never a mismatch.
_IGNORED_KEYS = re.compile(r"(^|\.)(position_ids|token_type_ids)$")


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
    """Load tokenizer and model from ``model_dir``; weights from ``checkpoint`` when given.

    Every failure, expected or not, becomes a one-line :class:`ModelLoadError`: a checkpoint
    may come from anywhere, and the CLI must never print a traceback for one.
    """
    model_dir = Path(model_dir)
    try:
        return _load(model_dir, checkpoint, device)
    except ModelLoadError:
        raise
    except Exception as err:  # noqa: BLE001 - the last line of defence for hostile checkpoints
        raise ModelLoadError(f"{_name(model_dir)}: cannot load the model ({type(err).__name__}: {_short(err)})") from None


def _load(model_dir: Path, checkpoint: str | Path | None, device: str) -> LoadedModel:
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if model_dir.exists() and not model_dir.is_dir():
        raise ModelLoadError(f"{_name(model_dir)}: is a file; --model takes the model's folder (config.json, weights, tokenizer)")
    if not model_dir.is_dir():
        raise ModelLoadError(f"{_name(model_dir)}: model folder not found")
    if not (model_dir / "config.json").is_file():
        raise ModelLoadError(f"{_name(model_dir)}: no config.json (expected a Hugging Face model folder)")
    try:
        config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - any parse failure is a bad checkpoint
        raise ModelLoadError(f"{_name(model_dir / 'config.json')}: cannot read config ({_short(err)})") from None
    _check_architecture(model_dir, config)
    tokenizer, notes = _load_tokenizer(model_dir, config)
    device = resolve_device(device)

    _quiet_transformers()
    if checkpoint is None:
        weights = _weights_file(model_dir)
        try:
            model, loading_info = AutoModelForSequenceClassification.from_pretrained(
                model_dir, local_files_only=True, attn_implementation="eager", output_loading_info=True
            )
        except Exception as err:  # noqa: BLE001
            if "weights only load failed" in str(err).lower():
                needs = _unsafe_globals(weights)
                raise ModelLoadError(
                    f"{_name(weights)}: refused: unpickling it would run code outside plain tensors"
                    f"{' (' + needs + ')' if needs else ''}; reportgen loads checkpoints with weights_only=True only"
                ) from None
            raise ModelLoadError(f"{_name(weights)}: cannot load weights ({_short(err)})") from None
        notes += _check_loading_info(weights, loading_info)
    else:
        weights = Path(checkpoint)
        model = _load_state_dict_checkpoint(weights, config)
    model.eval().to(device)
    _check_finite(model, weights)
    check_attentions(model, tokenizer, device, where=_name(model_dir))
    info = _describe(model, model_dir, checkpoint, weights, notes, tokenizer)
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, device=device)


def _check_loading_info(weights: Path, info: dict[str, Any]) -> tuple[str, ...]:
    """Refuse a checkpoint that leaves weights at their random initial values.

    transformers only warns when a checkpoint lacks some of the model's weights (a base
    model without its fine-tuned head, a head saved under another name): the model would
    still run, on random numbers. Weights present but unused are only noted.
    """
    missing = sorted(k for k in info.get("missing_keys") or () if not _IGNORED_KEYS.search(k))
    mismatched = [entry[0] if isinstance(entry, (tuple, list)) else entry for entry in info.get("mismatched_keys") or ()]
    if missing:
        raise ModelLoadError(
            f"{_name(weights)}: {len(missing)} weight{'s' if len(missing) != 1 else ''} missing from the checkpoint "
            f"(they would be random), e.g. {', '.join(_clip(k) for k in missing[:3])}"
        )
    if mismatched:
        raise ModelLoadError(
            f"{_name(weights)}: {len(mismatched)} weight(s) have another shape than the config says, "
            f"e.g. {', '.join(_clip(str(k)) for k in mismatched[:3])}"
        )
    unexpected = sorted(k for k in info.get("unexpected_keys") or () if not _IGNORED_KEYS.search(k))
    if unexpected:
        return (f"{len(unexpected)} weights in the checkpoint are not used by the model, e.g. {', '.join(_clip(k) for k in unexpected[:3])}",)
    return ()


def _check_architecture(model_dir: Path, config: Any) -> None:
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    model_type = str(getattr(config, "model_type", ""))
    if model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise ModelLoadError(
            f"{_name(model_dir)}: model type {model_type!r} has no sequence-classification model in transformers; "
            "reportgen explains encoder classifiers and regressors (ALBERT, BERT, RoBERTa, DistilBERT, ELECTRA)"
        )
    if getattr(config, "is_encoder_decoder", False) or getattr(config, "is_decoder", False):
        raise ModelLoadError(f"{_name(model_dir)}: model type {model_type!r} is not an encoder; reportgen needs one")


def _check_finite(model: Any, weights: Path) -> None:
    """Corrupt weights (NaN or infinite values) would give NaN scores and a broken page."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise ModelLoadError(f"{_name(weights)}: weight {_clip(name)} holds {bad} NaN or infinite value{'s' if bad != 1 else ''}")


def check_attentions(model: Any, tokenizer: Any, device: str = "cpu", where: str = "model") -> None:
    """Run one tiny input through the model and check it returns one attention map per layer.

    A model that cannot output attention weights (an implementation without eager attention,
    a wrapper that drops them) is refused here, before any real work, with a clear message.
    """
    ids = [tokenizer.cls_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id]
    if tokenizer.unk_token_id is not None:
        ids[1] = tokenizer.unk_token_id
    inputs = {
        "input_ids": torch.tensor([ids], dtype=torch.long, device=device),
        "attention_mask": torch.ones((1, len(ids)), dtype=torch.long, device=device),
    }
    try:
        with torch.inference_mode():
            out = model(**inputs, output_attentions=True)
    except Exception as err:  # noqa: BLE001
        raise ModelLoadError(f"{where}: the model fails on a 3-token input ({type(err).__name__}: {_short(err)})") from None
    attentions = getattr(out, "attentions", None)
    layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if not attentions or any(a is None for a in attentions):
        raise ModelLoadError(
            f"{where}: the model returns no attention weights (output_attentions gave "
            f"{'nothing' if not attentions else 'None for some layers'}); reportgen needs a model "
            "that outputs them with eager attention"
        )
    if layers and len(attentions) != layers:
        raise ModelLoadError(f"{where}: the model returns {len(attentions)} attention maps for {layers} layers")
    shape = tuple(attentions[-1].shape)
    if len(shape) != 4 or shape[0] != 1 or shape[2:] != (len(ids), len(ids)):
        raise ModelLoadError(f"{where}: attention weights have shape {shape}, expected (1, heads, 3, 3)")
    if getattr(out, "logits", None) is None:
        raise ModelLoadError(f"{where}: the model returns no logits (not a sequence-classification model)")
    if not bool(torch.isfinite(out.logits).all()) or not all(bool(torch.isfinite(a).all()) for a in attentions):
        raise ModelLoadError(f"{where}: the model outputs NaN or infinite values on a 3-token input")


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
    try:
        saved = json.loads(tok_config.read_text(encoding="utf-8")) if tok_config.is_file() else {}
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{_name(tok_config)}: cannot read tokenizer config ({_short(err)})") from None
    if not isinstance(saved, dict):
        raise ModelLoadError(f"{_name(tok_config)}: expected a JSON object, got {type(saved).__name__}")
    if getattr(config, "model_type", "") == "albert" and "keep_accents" not in saved:
        # Japanese SentencePiece vocabularies break without it (ご would become こ).
        kwargs["keep_accents"] = True
        notes.append("tokenizer loaded with keep_accents=True (not set in tokenizer_config.json)")
    has_files = any((model_dir / f).is_file() for f in ("tokenizer.json", "spiece.model", "vocab.txt", "sentencepiece.bpe.model"))
    if not has_files:
        raise ModelLoadError(
            f"{_name(model_dir)}: no tokenizer files (expected tokenizer.json, spiece.model, vocab.txt "
            "or sentencepiece.bpe.model beside config.json)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, **kwargs)
    except Exception as err:  # noqa: BLE001
        raise ModelLoadError(f"{_name(model_dir)}: cannot load tokenizer ({_short(err)})") from None
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise ModelLoadError(f"{_name(model_dir)}: tokenizer has no [CLS]/[SEP] tokens; reportgen needs an encoder tokenizer")
    return tokenizer, tuple(notes)


def _weights_file(model_dir: Path) -> Path:
    for name in WEIGHT_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    raise ModelLoadError(
        f"{_name(model_dir)}: no weights (expected {' or '.join(WEIGHT_FILES)}; "
        "for an article-style state_dict pass --checkpoint FILE)"
    )


def _read_state(path: Path) -> object:
    """The checkpoint's object: safetensors as they are, torch pickles with ``weights_only=True``."""
    if not path.is_file():
        raise ModelLoadError(f"{_name(path)}: checkpoint file not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as err:  # noqa: BLE001
            raise ModelLoadError(f"{_name(path)}: not a readable safetensors file ({_short(err)})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        needs = _unsafe_globals(path)
        raise ModelLoadError(
            f"{_name(path)}: refused: unpickling it would run code outside plain tensors"
            f"{' (' + needs + ')' if needs else ''}; reportgen loads checkpoints with weights_only=True only"
        ) from None
    except Exception as err:  # noqa: BLE001
        raise ModelLoadError(f"{_name(path)}: not a readable torch checkpoint ({_short(err)})") from None


def _unsafe_globals(path: Path) -> str:
    """The globals a refused pickle asks for (read from the pickle, never executed)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - a legacy or odd file: the refusal stands without names
        return ""
    return "needs " + ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "") if names else ""


def _load_state_dict_checkpoint(path: Path, config: Any) -> Any:
    """Load the article's format: ``torch.save(module.state_dict())`` of albert + linear head."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

    state = _read_state(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"{_name(path)}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    if not all(isinstance(k, str) for k in state):
        raise ModelLoadError(f"{_name(path)}: expected a state_dict with string keys")

    model_class = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[type(config)]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    base = model_class.base_model_prefix
    body = {k: v for k, v in state.items() if k.startswith(f"{base}.")}
    rest = {k: v for k, v in state.items() if not k.startswith(f"{base}.")}
    head_weight, head_bias, head_prefix = _find_head(rest, config.hidden_size, path)
    num_labels = head_weight.shape[0]
    config.num_labels = num_labels
    if num_labels == 1:
        config.problem_type = "regression"
    model = model_class._from_config(config, attn_implementation="eager")
    target_prefix = "classifier"
    expected = model.state_dict()
    head_keys = sorted(k for k in expected if not k.startswith(f"{base}.") and not _IGNORED_KEYS.search(k))
    if head_keys != [f"{target_prefix}.bias", f"{target_prefix}.weight"]:
        raise ModelLoadError(
            f"{_name(path)}: --checkpoint (an article-style state_dict with one linear head) fits models whose "
            f"head is one linear layer (ALBERT, BERT); {config.model_type}'s head is {', '.join(head_keys[:4])}. "
            "Save the model with save_pretrained and pass its folder as --model instead"
        )
    mapped = dict(body)
    mapped[f"{target_prefix}.weight"] = head_weight
    mapped[f"{target_prefix}.bias"] = head_bias
    leftover = sorted(k for k in rest if not k.startswith(head_prefix + ".") and not _IGNORED_KEYS.search(k))

    missing = sorted(k for k in expected if k not in mapped and not _IGNORED_KEYS.search(k))
    unexpected = sorted(k for k in mapped if k not in expected and not _IGNORED_KEYS.search(k)) + leftover
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing, e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected, e.g. {', '.join(_clip(k) for k in unexpected[:3])}")
        raise ModelLoadError(f"{_name(path)}: state_dict keys do not match the {config.model_type} config: " + "; ".join(parts))
    bad_shapes = [k for k, v in mapped.items() if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    if bad_shapes:
        k = bad_shapes[0]
        raise ModelLoadError(
            f"{_name(path)}: tensor {k} has shape {tuple(mapped[k].shape)}, the config expects {tuple(expected[k].shape)}"
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
        found = ", ".join(_clip(c[2]) for c in candidates) or "none"
        others = ", ".join(_clip(k) for k in sorted(rest)[:4]) or "none"
        raise ModelLoadError(
            f"{_name(path)}: expected exactly one linear head (a (n, {hidden}) weight with its bias) outside the "
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
    limits = [_position_limit(model)]
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


def _position_limit(model: Any) -> int:
    """How many tokens the position embeddings hold.

    RoBERTa-style embeddings number positions from ``padding_idx + 1``, so a table of 514
    rows holds 512 tokens; reading ``max_position_embeddings`` alone would let a 514-token
    input index past the table.
    """
    limit = int(getattr(model.config, "max_position_embeddings", 512) or 512)
    for name, module in model.named_modules():
        if name.endswith("embeddings.position_embeddings") and isinstance(module, torch.nn.Embedding):
            limit = int(module.num_embeddings)
            if module.padding_idx is not None:
                limit -= int(module.padding_idx) + 1
            break
    return limit


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _clip(text: str, limit: int = 80) -> str:
    return _name(text if len(text) <= limit else text[: limit - 1] + "…")
