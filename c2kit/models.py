"""Load a chat model and its tokenizer for generation, with an identity that names exactly what was loaded.

The identity goes into cache keys and ``config.json``: a Hub model is named by its id and the commit its
revision resolved to; a local directory by a content hash of its config and weights (a path says nothing
about what is inside it); an adapter by a hash of its weights file. ``is_tiny`` marks the random-weight
smoke models of :mod:`c2kit.tiny`, whose numbers mean nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c2kit.tiny import MARKER

DTYPES = ("auto", "bfloat16", "float16", "float32")
# Files whose content defines a model or adapter (tokenizer files are hashed separately via the template).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
MODEL_CONFIG_FILES = ("config.json", "generation_config.json")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


@dataclass
class LoadedModel:
    """A model ready for :func:`c2kit.generation.generate_continuations`, with what identifies it."""

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
        raise ValueError(f"dtype {dtype!r} is not one of {DTYPES}")
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
    # An adapter trained with a changed chat template ships its own tokenizer; prefer it when present.
    tokenizer_source = str(adapter_dir) if adapter_dir and (adapter_dir / "tokenizer_config.json").exists() else model
    tokenizer = AutoTokenizer.from_pretrained(
        tokenizer_source, revision=None if tokenizer_source != model else revision, trust_remote_code=trust_remote_code
    )
    prepare_tokenizer(tokenizer)

    loaded = AutoModelForCausalLM.from_pretrained(model, **kwargs)
    if adapter_dir is not None:
        from peft import PeftModel

        loaded = PeftModel.from_pretrained(loaded, str(adapter_dir))
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
    path = Path(model)
    if path.is_dir():
        return {"model": model, "content_sha256": dir_content_hash(path), "is_tiny": (path / MARKER).exists()}
    return {"model": model, "revision": resolve_hub_commit(model, revision), "is_tiny": False}


def resolve_hub_commit(repo_id: str, revision: str | None) -> str:
    """Commit a Hub revision resolves to (works offline from the local cache, as from_pretrained did)."""
    from huggingface_hub import hf_hub_download

    # The cache stores every file under snapshots/<commit>/; config.json was just fetched by from_pretrained.
    config_path = Path(hf_hub_download(repo_id, "config.json", revision=revision))
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


def _hash_files(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for item in files:
        digest.update(item.relative_to(root).as_posix().encode() + b"\0")
        with open(item, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _adapter_dir(adapter: str) -> Path:
    """Local directory of an adapter: the path itself, or its Hub snapshot (adapter files only)."""
    path = Path(adapter)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    patterns = list(ADAPTER_FILES) + ["tokenizer*", "special_tokens_map.json", "chat_template*"]
    return Path(snapshot_download(adapter, allow_patterns=patterns))
