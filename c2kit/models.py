"""Load a chat model and its tokenizer for generation, with an identity that names exactly what was loaded.

The identity goes into cache keys and ``config.json``: a Hub model is named by its id and the commit its
revision resolved to; a local directory by a content hash of its config and weights (a path says nothing
about what is inside it); an adapter by a hash of its weights file. ``is_tiny`` marks the random-weight
smoke models of :mod:`c2kit.tiny`, whose numbers mean nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c2kit.errors import UserError
from c2kit.paths import permission_problem
from c2kit.tiny import MARKER

DTYPES = ("auto", "bfloat16", "float16", "float32")
# Files whose content defines a model or adapter (tokenizer files are hashed separately via the template).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
MODEL_CONFIG_FILES = ("config.json", "generation_config.json")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
# Files of a model or adapter folder that transformers and PEFT read: configs, weights, tokenizer and template.
LOADER_SUFFIXES = (".json", ".jinja", ".model", ".txt", ".tiktoken") + WEIGHT_SUFFIXES


@dataclass
class LoadedModel:
    """A model ready for :func:`c2kit.engines.transformers_engine.generate_continuations`, with what identifies it."""

    model: Any
    tokenizer: Any
    identity: dict


def load_model_and_tokenizer(
    model: str,
    *,
    adapter: str | None = None,
    revision: str | None = None,
    load_in_4bit: bool = False,
    dtype: str = "auto",
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load ``model`` (Hub id or local dir), optionally in 4-bit NF4 and with a PEFT ``adapter`` on top.

    The tokenizer is set up by :func:`prepare_tokenizer` (left padding, a pad token). On CUDA the weights
    are placed with ``device_map="auto"``; ``trust_remote_code`` stays off unless asked for.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    if dtype not in DTYPES:
        raise UserError(f"dtype {dtype!r} is not one of {DTYPES}")
    # Before anything heavy: a typo in a path or an uncached Hub id is one line, not a Hub traceback.
    check_model(model, revision)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code, "dtype": torch_dtype}
    if torch.cuda.is_available():
        kwargs["device_map"] = "auto"
    if load_in_4bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=_compute_dtype(torch, dtype),
        )
    adapter_dir = _adapter_dir(adapter) if adapter else None
    if adapter_dir is not None and not (adapter_dir / "adapter_config.json").is_file():
        raise UserError(f"adapter {adapter!r}: no adapter_config.json in {adapter_dir} (not a PEFT adapter)")
    problem = adapter_problem(adapter_dir) if adapter_dir is not None else None
    if problem:  # before the base model loads, and in one line rather than PEFT's or safetensors' traceback
        raise UserError(f"adapter {adapter!r} cannot be loaded from {adapter_dir}: {problem} (damaged or partly "
                        "copied; save or copy it again)")
    # An adapter trained with a changed chat template ships its own tokenizer; prefer it when present.
    tokenizer_source = str(adapter_dir) if adapter_dir and (adapter_dir / "tokenizer_config.json").exists() else model
    tokenizer = AutoTokenizer.from_pretrained(
        tokenizer_source, revision=None if tokenizer_source != model else revision, trust_remote_code=trust_remote_code
    )
    prepare_tokenizer(tokenizer)

    loaded = AutoModelForCausalLM.from_pretrained(model, **kwargs)
    if load_in_4bit and _input_device_type(loaded) == "cpu":
        pin_cpu_4bit_kernels(loaded)  # the same numerics on every CPU, in C2-Eval as in training
    if adapter_dir is not None:
        from peft import PeftModel

        fit_embeddings(loaded, tokenizer)  # an adapter that added tokens (backtrack's [RESET]) brings their rows
        try:
            loaded = PeftModel.from_pretrained(loaded, str(adapter_dir))
        except RuntimeError as error:
            if "size mismatch" not in str(error):
                raise
            raise UserError(_wrong_base_message(adapter, adapter_dir, model, error)) from None
    loaded.eval()
    if loaded.generation_config.pad_token_id is None:
        loaded.generation_config.pad_token_id = tokenizer.pad_token_id

    identity = model_identity(model, revision)
    identity["load_in_4bit"] = load_in_4bit
    identity["dtype"] = dtype
    if adapter_dir is not None:
        identity["adapter"] = adapter
        identity["adapter_sha256"] = adapter_hash(adapter_dir)
    return LoadedModel(loaded, tokenizer, identity)


def fit_embeddings(model, tokenizer) -> bool:
    """Give ``model`` an embedding row for every token of ``tokenizer`` (True when it had to grow).

    Training adds tokens to the tokenizer (``c2 train --objective backtrack``: ``[RESET]``), grows the base's
    embeddings and LM head the same way, and trains the new rows in the adapter (PEFT's trainable tokens): loading
    the adapter needs the base grown to the same shape first. The new rows' initial values do not matter, as the
    adapter holds their trained values; they are the model's own initialisation, not ``mean_resizing``'s sample
    from the covariance of the whole embedding matrix (slow, and unsupported in fp16). A model whose matrices
    already have spare rows (Qwen's are padded) keeps its shape.
    """
    if len(tokenizer) <= model.get_input_embeddings().num_embeddings:
        return False
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    return True


def pin_cpu_4bit_kernels(model) -> int:
    """Keep every bitsandbytes 4-bit layer on one CPU kernel, whatever the CPU and the mode; return how many.

    On CPUs with AVX512-BF16 (recent Xeons, AMD Zen 4), bitsandbytes 0.50 repacks a 4-bit layer's weights for
    a bf16 kernel at the layer's first forward in eval mode without gradients, and keeps them repacked. A
    held-out evaluation before training would then switch every later training step to other numerics: the
    same run with and without it, or resumed from a checkpoint, would end with other weights, and only on
    such CPUs. Turning the switch off keeps the generic dequantize-and-matmul path everywhere.
    """
    pinned = 0
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
            pinned += 1
    return pinned


def context_window(model_config, tokenizer=None) -> int | None:
    """Positions the model can attend to (``max_position_embeddings`` and the like), else the tokenizer's
    ``model_max_length`` when it is a real limit; ``None`` when neither says."""
    config = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**9 else None


def _input_device_type(model) -> str:
    return model.get_input_embeddings().weight.device.type


def prepare_tokenizer(tokenizer):
    """Left padding (batched generation continues each row at its right end) and a pad token.

    ``eos`` is reused as pad only when the tokenizer has no pad token: a distinct one is never confused
    with a real end of answer.
    """
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _compute_dtype(torch, dtype: str):
    """Dtype the 4-bit layers compute in: the one asked for, else bf16 where the GPU has it, else fp32/fp16."""
    if dtype != "auto":
        return getattr(torch, dtype)
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def model_identity(model: str, revision: str | None = None) -> dict:
    """``{"model", "revision" (resolved commit) | "content_sha256", "is_tiny"}`` for a Hub id or local dir."""
    path = local_model_dir(model)
    if path is not None:
        return {"model": model, "content_sha256": dir_content_hash(path), "is_tiny": (path / MARKER).exists()}
    return {"model": model, "revision": resolve_hub_commit(model, revision), "is_tiny": False}


def looks_local(name: str) -> bool:
    """Whether ``name`` is meant as a local path rather than a Hub repo id.

    True when it starts with ``./``, ``../``, ``/`` or ``~``, when it has a path separator and its first
    component exists here (``runs/tiny-modle`` next to ``runs/``), or when it is not a valid Hub repo id.
    """
    if name.startswith(("./", "../", "/", "~", ".\\", "..\\")) or os.path.isabs(name) or os.path.isdir(name):
        return True
    parts = [part for part in name.replace(os.sep, "/").split("/") if part]
    if len(parts) > 1 and os.path.exists(parts[0]):
        return True
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except ValueError:  # HFValidationError
        return True
    return False


def local_model_dir(model: str, label: str = "model") -> Path | None:
    """The local folder ``model`` names, or None for a Hub id; ValueError for a local path that is not there.

    A missing folder is named with the closest siblings (``did you mean``) instead of becoming a Hub
    lookup; a folder without ``config.json`` is named too (an adapter passed as the model says so), and so is one
    this user may not read (a Hub lookup would only say it is not found).
    """
    if not looks_local(model):
        return None
    path = Path(model).expanduser()
    try:
        return _checked_local_dir(path, model, label)
    except PermissionError as error:
        raise UserError(f"{label} {model!r}: {permission_problem(error.filename or path)}") from None


def _checked_local_dir(path: Path, model: str, label: str) -> Path | None:
    if not path.exists():
        if _maybe_hub_id(model):
            return None  # e.g. 'c2kit/tiny-chat' next to a local c2kit/ folder: the Hub (or its cache) decides
        raise UserError(f"{label} {model!r}: no such local {label} folder{_did_you_mean(model)}")
    if not path.is_dir():
        raise UserError(f"{label} {model!r}: is a file, not a {label} folder")
    _open_loader_files(path)
    if label == "model" and not (path / "config.json").is_file():
        if (path / "adapter_config.json").is_file():
            base = _adapter_base(path)
            raise UserError(f"model {model!r} is a PEFT adapter, not a model: pass it as --adapter and its base "
                            f"model ({base}) as the model")
        raise UserError(f"model {model!r}: no config.json in this folder (not a transformers model folder)")
    if label == "adapter" and not (path / "adapter_config.json").is_file():
        raise UserError(f"adapter {model!r}: no adapter_config.json in this folder (not a PEFT adapter folder; a "
                        "training run's output_dir holds one at its top level)")
    return path


def _open_loader_files(path: Path) -> None:
    """Open each top-level file of a model or adapter folder that a loader reads: PermissionError for one this user
    may not read (safetensors would call it missing)."""
    for item in path.iterdir():
        if item.suffix in LOADER_SUFFIXES and item.is_file():
            with open(item, "rb"):
                pass


def _maybe_hub_id(name: str) -> bool:
    """A missing local-looking name that is still a valid Hub id, and the Hub could have it.

    That is: it is in the local Hub cache, or the Hub is online (then the Hub's answer, with the local
    did-you-mean added, is the error). Offline and uncached, it can only have been meant as a local path.
    """
    if name.startswith(("./", "../", "/", "~")) or os.path.isabs(name):
        return False
    from huggingface_hub import is_offline_mode, try_to_load_from_cache
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except ValueError:
        return False
    for repo_type in ("model",):
        if isinstance(try_to_load_from_cache(name, "config.json", repo_type=repo_type), str):
            return True
        if isinstance(try_to_load_from_cache(name, "adapter_config.json", repo_type=repo_type), str):
            return True
    return not is_offline_mode()


def check_model(model: str, revision: str | None = None, label: str = "model") -> None:
    """Fail fast, in one line, on a model that cannot be loaded: a missing local folder or an unfetchable Hub id.

    For loaders outside this module (the trainer's ``model_name_or_path``) to call before ``from_pretrained``.
    """
    if local_model_dir(model, label) is None:
        resolve_hub_commit(model, revision, label)


def _did_you_mean(name: str) -> str:
    """`` (did you mean 'runs/tiny-model'?)`` from the folders next to ``name``; else where the path breaks."""
    path = Path(name).expanduser()
    parent = path.parent
    if not parent.is_dir():
        return f" (folder {parent} does not exist either)"
    siblings = [item.name for item in parent.iterdir() if item.is_dir()]
    matches = difflib.get_close_matches(path.name, siblings, n=3, cutoff=0.6)
    if not matches:
        return ""
    head = os.path.dirname(name)
    options = " or ".join(repr(os.path.join(head, match) if head else match) for match in matches)
    return f" (did you mean {options}?)"


def _hub_error(error: Exception, repo_id: str, revision: str | None, label: str) -> UserError | None:
    """One-line UserError for a Hub id that cannot be fetched, or None for an error of another kind."""
    from huggingface_hub import is_offline_mode
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f" at revision {revision!r}" if revision else ""
    # Also a missing local path (e.g. 'runs/tiny-modle' next to runs/): say so, with the closest folders.
    local = f"; no local folder of that name either{_did_you_mean(repo_id)}" if looks_local(repo_id) else ""
    if isinstance(error, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
        why = ("HF_HUB_OFFLINE is set" if is_offline_mode()
               else "the Hub could not be reached")
        if local:
            return UserError(f"{label} {repo_id!r}{at} is not in the local Hub cache, and {why}{local}")
        return UserError(f"{label} {repo_id!r}{at} is not a local folder and not in the local Hub cache, and {why}: "
                         f"download it where the Hub is reachable (hf download {repo_id}) or give a local path")
    if isinstance(error, GatedRepoError):
        return UserError(f"{label} {repo_id!r} is gated on the Hub: accept its licence on huggingface.co and log in "
                         "(hf auth login)")
    if isinstance(error, RevisionNotFoundError):
        return UserError(f"{label} {repo_id!r}: revision {revision!r} not found on the Hub")
    if isinstance(error, RepositoryNotFoundError):
        return UserError(f"{label} {repo_id!r}: no such repository on the Hub (a private one needs 'hf auth login') "
                         f"and no such local folder{_did_you_mean(repo_id) if local else ''}")
    if isinstance(error, EntryNotFoundError):
        return UserError(f"{label} {repo_id!r}{at}: the Hub repository has no config.json (not a transformers model; "
                         "a PEFT adapter goes in --adapter, with its base model as the model)")
    return None


def resolve_hub_commit(repo_id: str, revision: str | None, label: str = "model") -> str:
    """Commit a Hub revision resolves to (works offline from the local cache, as from_pretrained does).

    A repo id that cannot be fetched (not cached while offline, unreachable, gated, missing) is a one-line
    ValueError naming it.
    """
    from huggingface_hub import hf_hub_download

    # The cache stores every file under snapshots/<commit>/.
    try:
        config_path = Path(hf_hub_download(repo_id, "config.json", revision=revision))
    except Exception as error:
        mapped = _hub_error(error, repo_id, revision, label)
        if mapped is None:
            raise
        raise mapped from None
    return config_path.parent.name


def dir_content_hash(path: Path) -> str:
    """sha256 over the configs and weight files of a local model directory (names and contents).

    ``generation_config.json`` counts: its eos ids and token bans change what is generated. Only the top
    level is read, so checkpoint folders next to the weights neither slow this down nor change the hash.
    """
    files = sorted(
        item for item in path.iterdir()
        if item.is_file() and (item.name in MODEL_CONFIG_FILES or item.suffix in WEIGHT_SUFFIXES)
    )
    if not files:
        raise FileNotFoundError(f"{path}: no config.json or weight files to identify the model by")
    return _hash_files(files, path)


def adapter_hash(adapter_dir: Path) -> str:
    """sha256 of a PEFT adapter's config and weights."""
    files = [adapter_dir / name for name in ADAPTER_FILES if (adapter_dir / name).exists()]
    if not any(item.name.startswith("adapter_model") for item in files):
        raise FileNotFoundError(f"{adapter_dir}: no adapter_model.safetensors or adapter_model.bin")
    return _hash_files(files, adapter_dir)


def adapter_problem(folder: Path) -> str | None:
    """What keeps the PEFT adapter in ``folder`` from loading (a file missing, cut short or garbage), None if nothing.

    Checked: ``adapter_config.json`` is a JSON object, and ``adapter_model.safetensors`` (unless the adapter is
    an ``adapter_model.bin``) passes :func:`safetensors_problem`.
    """
    import json

    config = folder / "adapter_config.json"
    if not config.is_file():
        return "missing adapter_config.json"
    try:
        if not isinstance(json.loads(config.read_text(encoding="utf-8")), dict):
            return "adapter_config.json is not a JSON object"
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return f"adapter_config.json unreadable ({_one_line(error)})"
    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        return None if (folder / "adapter_model.bin").is_file() else "missing adapter_model.safetensors"
    problem = safetensors_problem(weights)
    return f"adapter_model.safetensors {problem}" if problem else None


def safetensors_problem(path: Path) -> str | None:
    """Why the safetensors file ``path`` cannot be read (``unreadable (...)``, ``holds no tensors``), None if it can.

    Reads the header and the tensor list only: a file cut short or overwritten is caught (safetensors checks that
    the header covers the whole file), one whose tensor bytes were changed in place is not.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as tensors:
            if not list(tensors.keys()):
                return "holds no tensors"
    except Exception as error:  # safetensors raises its own error types for a cut or garbage file
        return f"unreadable ({_one_line(error)})"
    return None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200]


def _hash_files(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for item in files:
        digest.update(item.relative_to(root).as_posix().encode() + b"\0")
        with open(item, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _adapter_dir(adapter: str) -> Path:
    """Local directory of an adapter: the path itself, or its Hub snapshot (adapter files only).

    A local-looking path that is not there, or a Hub id that cannot be fetched, is a one-line ValueError.
    """
    path = local_model_dir(adapter, label="adapter")
    if path is not None:
        return path
    from huggingface_hub import snapshot_download

    patterns = list(ADAPTER_FILES) + ["tokenizer*", "special_tokens_map.json", "chat_template*"]
    try:
        return Path(snapshot_download(adapter, allow_patterns=patterns))
    except Exception as error:
        mapped = _hub_error(error, adapter, None, "adapter")
        if mapped is None:
            raise
        raise mapped from None


def _adapter_base(adapter_dir: Path) -> str:
    """``base_model_name_or_path`` of an adapter folder ('unknown' when unreadable)."""
    import json

    try:
        with open(adapter_dir / "adapter_config.json", encoding="utf-8") as handle:
            return str(json.load(handle).get("base_model_name_or_path") or "unknown")
    except (OSError, ValueError):
        return "unknown"


def _wrong_base_message(adapter: str, adapter_dir: Path, model: str, error: RuntimeError) -> str:
    """One line for PEFT's page of size mismatches: which adapter, which base it was trained on, which model."""
    mismatches = [line.strip() for line in str(error).splitlines() if "size mismatch" in line]
    first = mismatches[0].rstrip(".") if mismatches else "size mismatch"
    return (f"adapter {adapter!r} does not fit model {model!r}: it was trained on base model "
            f"{_adapter_base(adapter_dir)!r} ({len(mismatches) or 1} weight shapes differ, e.g. {first})")


def load_tokenizer(model: str, *, revision: str | None = None, trust_remote_code: bool = False,
                   dtype: str = "auto"):
    """What an engine that holds the weights elsewhere needs from ``model`` here: (tokenizer, identity,
    generation_config or None).

    The identity is the same as a model loaded here records (Hub commit or content hash of the folder), so caches
    and results name the model the same way on every engine.
    """
    from transformers import AutoTokenizer, GenerationConfig

    check_model(model, revision)
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(model, revision=revision,
                                                                trust_remote_code=trust_remote_code))
    identity = model_identity(model, revision)
    identity["load_in_4bit"] = False
    identity["dtype"] = dtype
    try:
        generation_config = GenerationConfig.from_pretrained(model, revision=revision)
    except (OSError, ValueError):
        generation_config = None
    return tokenizer, identity, generation_config
