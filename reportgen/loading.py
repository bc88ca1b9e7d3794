"""Loading a fine-tuned model and its tokenizer from local files, and describing it.

Owns where a model comes from: a Hugging Face folder, a hub id found in the local Hugging Face
cache (never the network; both found and checked by :mod:`reportgen.model_source`), the
original article's raw ``state_dict`` of a custom module (``self.albert = AlbertModel(...)``
plus a linear head on the pooled output), and models already in memory (a
``PreTrainedModel``, or the article's module itself, see :func:`borrow_model`).
Every failure becomes a :class:`ModelLoadError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from .errors import ModelLoadError, printable as _name, short as _short
# Where the files are is model_source's (torch-free, so a run checks --model before importing
# torch); its names stay importable from here, where they used to live.
from .model_source import (  # noqa: F401 - HUB_ID, hub_cache_dir, looks_like_hub_id: re-exported
    HUB_ID, ModelSource, check_folder, hub_cache_dir, looks_like_hub_id, resolve_model_source,
)
from .types import ModelInfo, check_device_name, check_target_range

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
    try:
        check_device_name(device)
    except ValueError as err:
        raise ModelLoadError(str(err)) from None
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda: no CUDA device is available here")
    return device


def load_model(
    model_dir: str | Path | ModelSource, checkpoint: str | Path | None = None, device: str = "cpu"
) -> LoadedModel:
    """Load tokenizer and model from ``model_dir``; weights from ``checkpoint`` when given.

    ``model_dir`` is a folder or, when no folder of that name exists, a hub id (``org/name``)
    looked up in the local Hugging Face cache only (see :func:`resolve_model_source`), or the
    :class:`ModelSource` that function already found.
    Every failure, expected or not, becomes a one-line :class:`ModelLoadError`: a checkpoint
    may come from anywhere, and the CLI must never print a traceback for one.
    """
    source = model_dir if isinstance(model_dir, ModelSource) else resolve_model_source(model_dir)
    try:
        return _load(source, checkpoint, device)
    except ModelLoadError:
        raise
    except Exception as err:  # noqa: BLE001 - the last line of defence for hostile checkpoints
        raise ModelLoadError(f"{_name(source.label)}: cannot load the model ({type(err).__name__}: {_short(err)})") from None


def _load(source: ModelSource, checkpoint: str | Path | None, device: str) -> LoadedModel:
    from transformers import AutoConfig, AutoModelForSequenceClassification

    check_folder(source)
    model_dir = source.folder
    where = source.label
    try:
        config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - any parse failure is a bad checkpoint
        raise ModelLoadError(f"{_name(where)}/config.json: cannot read config ({_short(err)})") from None
    _check_architecture(where, config)
    tokenizer, notes = _load_tokenizer(model_dir, config, where)
    notes = source.notes + notes
    device = resolve_device(device)

    _quiet_transformers()
    if checkpoint is None:
        weights = _weights_file(model_dir, where)
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
    check_attentions(model, tokenizer, device, where=_name(where))
    info = _describe(model, where, checkpoint, weights.name, _sha256(weights), notes, tokenizer)
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, device=device)


# --- Models already in memory (the Python API) ---------------------------------------------


@contextlib.contextmanager
def borrow_model(model: Any, tokenizer: Any = None, device: str = "auto") -> Iterator[LoadedModel]:
    """A model already in memory, ready for the stages; the caller's model is left as it was.

    ``model`` is either

    * a ``transformers`` sequence-classification model (``PreTrainedModel`` with a head): used
      as it is, switched to eval mode and eager attention for the run and switched back after;
    * any ``torch.nn.Module`` that holds an encoder (``.albert``, or its one ``PreTrainedModel``
      submodule) and one linear head on the pooled output, like the original article's
      ``AlbertForRegression``: its weights are copied into a sequence-classification model of
      the encoder's type, the head found as for ``--checkpoint`` (:func:`model_from_state_dict`),
      and the copy is checked to give the module's own output on a test input.

    ``tokenizer`` defaults to the one saved with the model (its ``name_or_path``: a folder or a
    hub id in the local cache). ``device="auto"`` keeps the model where it is.
    """
    from torch import nn
    from transformers import PreTrainedModel

    if not isinstance(model, nn.Module):
        raise ModelLoadError(
            f"model: expected a folder, a hub id, a transformers model or a torch module, got {type(model).__name__}"
        )
    where = f"<{type(model).__name__}>"
    current = _module_device(model)
    target = current if device == "auto" else resolve_device(device)
    was_training = model.training
    _quiet_transformers()
    if isinstance(model, PreTrainedModel) and _has_classification_head(model):
        previous_attention = getattr(model.config, "_attn_implementation", None)
        tokenizer, notes = _tokenizer_for(model, tokenizer, model.config, where)
        try:
            if previous_attention != "eager":
                model.set_attn_implementation("eager")
            model.eval().to(target)
            yield _describe_in_memory(model, tokenizer, target, where, notes, _in_memory_label(where, model))
        finally:
            model.train(was_training)
            if current != target:
                model.to(current)
            if previous_attention not in (None, "eager"):
                with contextlib.suppress(Exception):
                    model.set_attn_implementation(previous_attention)
        return
    try:
        encoder = _encoder_of(model)[1]
    except ModelLoadError:
        if isinstance(model, PreTrainedModel):  # a bare encoder such as AlbertModel
            raise ModelLoadError(
                f"{where}: a model without a prediction head; pass a ...ForSequenceClassification model, or your "
                "module that holds this encoder and its linear head"
            ) from None
        raise
    wrapped, notes = _wrap_module(model, where)
    tokenizer, tok_notes = _tokenizer_for(encoder, tokenizer, wrapped.config, where)
    wrapped.eval().to(target)
    try:
        notes += _verify_wrapped(model, wrapped, tokenizer, target, where)
    finally:
        model.train(was_training)
    yield _describe_in_memory(wrapped, tokenizer, target, where, notes + tok_notes, _in_memory_label(where, encoder))


def _module_device(model: Any) -> str:
    for param in model.parameters():
        return param.device.type
    return "cpu"


def _has_classification_head(model: Any) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    model_type = str(getattr(model.config, "model_type", ""))
    return type(model).__name__ == MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES.get(model_type) or (
        type(model).__name__.endswith("ForSequenceClassification")
    )


def _encoder_of(module: Any) -> tuple[str, Any]:
    """The module's encoder: ``.albert`` when it is a ``PreTrainedModel``, else its one such submodule."""
    from transformers import PreTrainedModel

    albert = getattr(module, "albert", None)
    if isinstance(albert, PreTrainedModel):
        return "albert", albert
    found: list[tuple[str, Any]] = []
    for name, child in module.named_modules():
        if name and isinstance(child, PreTrainedModel) and not any(name.startswith(f + ".") for f, _ in found):
            found.append((name, child))
    if len(found) != 1:
        names = ", ".join(n for n, _ in found) or "none"
        raise ModelLoadError(
            f"<{type(module).__name__}>: expected one transformers encoder inside the module (like self.albert = "
            f"AlbertModel(...)); found {names}"
        )
    return found[0]


def _wrap_module(module: Any, where: str) -> tuple[Any, tuple[str, ...]]:
    """The article's module as a sequence-classification model: encoder weights and head copied."""
    name, encoder = _encoder_of(module)
    base = encoder.base_model
    prefix = name if base is encoder else f"{name}.{encoder.base_model_prefix}"
    config = copy.deepcopy(base.config)
    _check_architecture(where, config)
    target_prefix = _sequence_class_prefix(config)
    state = {}
    for key, tensor in module.state_dict().items():
        key = key.removeprefix("module.")
        if key.startswith(prefix + "."):
            state[f"{target_prefix}.{key[len(prefix) + 1:]}"] = tensor.detach().to("cpu")
        else:
            state[key] = tensor.detach().to("cpu")
    model = model_from_state_dict(state, config, where)
    head = next(k for k in state if not k.startswith(target_prefix + ".") and k.endswith(".weight") and state[k].ndim == 2
                and state[k].shape[1] == config.hidden_size)
    note = f"wrapped from your {type(module).__name__}: encoder .{name} and linear head .{head.removesuffix('.weight')} copied"
    return model, (note,)


def _sequence_class_prefix(config: Any) -> str:
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

    return str(MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[type(config)].base_model_prefix)


def _verify_wrapped(module: Any, wrapped: Any, tokenizer: Any, device: str, where: str) -> tuple[str, ...]:
    """Run the module and its copy on one input: they must agree, or the head was not on the pooled output."""
    ids = tokenizer("reportgen", add_special_tokens=True)["input_ids"][:8]
    inputs = {
        "input_ids": torch.tensor([ids], dtype=torch.long, device=device),
        "attention_mask": torch.ones((1, len(ids)), dtype=torch.long, device=device),
    }
    module.eval()
    with torch.inference_mode():
        expected = wrapped(**inputs).logits.float().flatten().cpu()
        try:
            theirs = module(**{k: v.to(_module_device(module)) for k, v in inputs.items()})
        except Exception:  # noqa: BLE001 - a forward with another signature: nothing to compare
            return (f"could not call {type(module).__name__}(input_ids=..., attention_mask=...) to check the copy",)
    if isinstance(theirs, (tuple, list)) and theirs:
        theirs = theirs[0]
    theirs = getattr(theirs, "logits", theirs)
    if not isinstance(theirs, torch.Tensor) or theirs.numel() != expected.numel():
        return (f"{type(module).__name__}'s output is not one prediction per label; the copy was not checked",)
    theirs = theirs.float().flatten().cpu()
    if not torch.allclose(theirs, expected, rtol=1e-4, atol=1e-5):
        raise ModelLoadError(
            f"{where}: reportgen's copy of the model gives {expected.tolist()} where your module gives "
            f"{theirs.tolist()} on a test input; reportgen assumes one linear head on the encoder's pooled output "
            "(as AlbertForSequenceClassification has)"
        )
    return ()


def _tokenizer_for(model: Any, tokenizer: Any, config: Any, where: str) -> tuple[Any, tuple[str, ...]]:
    """The tokenizer given, else the one saved where the model came from (folder or hub cache)."""
    if tokenizer is not None:
        if getattr(config, "model_type", "") == "albert" and getattr(tokenizer, "keep_accents", True) is False:
            return tokenizer, ("the tokenizer strips accents (keep_accents=False): Japanese voiced marks are lost (ご becomes こ)",)
        return tokenizer, ()
    name = str(getattr(model, "name_or_path", "") or getattr(config, "name_or_path", "") or "")
    if not name:
        raise ModelLoadError(f"{where}: the model does not say where it was loaded from; pass tokenizer=")
    source = resolve_model_source(name)
    if not source.folder.is_dir():
        raise ModelLoadError(f"{_name(name)}: no tokenizer found there (the model's name_or_path); pass tokenizer=")
    tokenizer, notes = _load_tokenizer(source.folder, config, source.label)
    return tokenizer, source.notes + notes


def _in_memory_label(where: str, model: Any) -> str:
    """What the report calls a model with no folder: its class, and where its weights first came from."""
    origin = str(getattr(model, "name_or_path", "") or "")
    return f"{where} in memory" + (f" (from {origin})" if origin else "")


def _describe_in_memory(
    model: Any, tokenizer: Any, device: str, where: str, notes: tuple[str, ...], label: str
) -> LoadedModel:
    _check_finite(model, where)
    check_attentions(model, tokenizer, device, where=where)
    digest = _state_sha256(model)
    info = _describe(model, label, None, "in memory", digest, notes, tokenizer)
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, device=device)


def _state_sha256(model: Any) -> str:
    """A hash of the weights themselves (names, shapes and values), for a model with no file."""
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode("utf-8"))
            digest.update(str(tuple(tensor.shape)).encode("ascii"))
            digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


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


def _check_architecture(model_dir: str | Path, config: Any) -> None:
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    model_type = str(getattr(config, "model_type", ""))
    if model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise ModelLoadError(
            f"{_name(model_dir)}: model type {model_type!r} has no sequence-classification model in transformers; "
            "reportgen explains encoder classifiers and regressors (ALBERT, BERT, RoBERTa, DistilBERT, ELECTRA)"
        )
    if getattr(config, "is_encoder_decoder", False) or getattr(config, "is_decoder", False):
        raise ModelLoadError(f"{_name(model_dir)}: model type {model_type!r} is not an encoder; reportgen needs one")


def _check_finite(model: Any, weights: str | Path) -> None:
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


def _load_tokenizer(model_dir: Path, config: Any, where: str | Path | None = None) -> tuple[Any, tuple[str, ...]]:
    from transformers import AutoTokenizer

    where = model_dir if where is None else where
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
            f"{_name(where)}: no tokenizer files (expected tokenizer.json, spiece.model, vocab.txt "
            "or sentencepiece.bpe.model beside config.json)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, **kwargs)
    except Exception as err:  # noqa: BLE001
        raise ModelLoadError(f"{_name(where)}: cannot load tokenizer ({_short(err)})") from None
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise ModelLoadError(f"{_name(where)}: tokenizer has no [CLS]/[SEP] tokens; reportgen needs an encoder tokenizer")
    return tokenizer, tuple(notes)


def _weights_file(model_dir: Path, where: str | Path | None = None) -> Path:
    for name in WEIGHT_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    raise ModelLoadError(
        f"{_name(model_dir if where is None else where)}: no weights (expected {' or '.join(WEIGHT_FILES)}; "
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
    state = _read_state(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"{_name(path)}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    if not all(isinstance(k, str) for k in state):
        raise ModelLoadError(f"{_name(path)}: expected a state_dict with string keys")
    return model_from_state_dict({k.removeprefix("module."): v for k, v in state.items()}, config, path)


def model_from_state_dict(state: dict[str, torch.Tensor], config: Any, path: str | Path) -> Any:
    """A sequence-classification model from an encoder's weights plus one linear head.

    ``state`` holds the encoder under the model type's base prefix (``albert.*`` for ALBERT) and,
    under any other name, exactly one linear head (see :func:`_find_head`), as the article's
    module saves them. ``config`` is changed in place to the head's number of labels. ``path``
    names the source in messages.
    """
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

    model_class = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[type(config)]
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


def _find_head(rest: dict[str, torch.Tensor], hidden: int, path: str | Path) -> tuple[torch.Tensor, torch.Tensor, str]:
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
    model: Any,
    label: str,
    checkpoint: str | Path | None,
    weights_file: str,
    weights_sha256: str,
    notes: tuple[str, ...],
    tokenizer: Any,
) -> ModelInfo:
    config = model.config
    num_labels = int(config.num_labels)
    task = "regression" if num_labels == 1 or config.problem_type == "regression" else "classification"
    id2label = getattr(config, "id2label", None) or {}
    labels = tuple(str(id2label.get(i, f"LABEL_{i}")) for i in range(num_labels))
    limits = [_position_limit(model)]
    if 0 < int(getattr(tokenizer, "model_max_length", 0) or 0) < 100_000:
        limits.append(int(tokenizer.model_max_length))
    name, scale, description = declared_target(config, task, labels, label)
    return ModelInfo(
        path=label,
        checkpoint=str(checkpoint) if checkpoint is not None else None,
        architecture=type(model).__name__,
        model_type=str(config.model_type),
        num_layers=int(config.num_hidden_layers),
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        num_parameters=sum(p.numel() for p in model.parameters()),
        weights_file=weights_file,
        weights_sha256=weights_sha256,
        task=task,
        labels=labels,
        max_length=min(limits),
        notes=notes,
        target_name=name,
        target_range=scale,
        target_description=description,
    )


TARGET_BLOCK = "reportgen"
"""The optional block of ``config.json`` that says what the output is, e.g.
``{"reportgen": {"target_name": "politeness", "target_range": [0, 1],
"target_description": "0 = casual ... 1 = most polite"}}``."""


def declared_target(config: Any, task: str, labels: Sequence[str], where: str) -> tuple[str | None, tuple[float, float] | None, str | None]:
    """The output's name, scale and meaning as the model's config declares them.

    The ``reportgen`` block wins; else a regression model's one ``id2label`` entry names the
    output unless it is transformers' default (``LABEL_0``). A malformed block is a one-line
    :class:`ModelLoadError`.
    """
    block = getattr(config, TARGET_BLOCK, None)
    if block is None:
        block = {}
    if not isinstance(block, dict):
        raise ModelLoadError(f"{_name(where)}/config.json: \"{TARGET_BLOCK}\" must be an object")
    name = block.get("target_name")
    scale = block.get("target_range")
    description = block.get("target_description")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ModelLoadError(f"{_name(where)}/config.json: {TARGET_BLOCK}.target_name must be a non-empty string")
    if description is not None and not isinstance(description, str):
        raise ModelLoadError(f"{_name(where)}/config.json: {TARGET_BLOCK}.target_description must be a string")
    if scale is not None:
        try:
            scale = check_target_range(scale)
        except ValueError as err:
            raise ModelLoadError(f"{_name(where)}/config.json: {TARGET_BLOCK}.target_range: {err}") from None
    if name is None and task == "regression" and labels and not re.fullmatch(r"LABEL_\d+", labels[0]):
        name = labels[0]
    return name, scale, description


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
