"""The base model for QLoRA: tokenizer with a pad token, 4-bit NF4 weights, k-bit preparation, LoRA config.

* 4-bit NF4 with double quantisation (QLoRA), computing in the training precision (fp16 on a T4).
* ``prepare_model_for_kbit_training`` freezes the base, upcasts the few non-quantized weights (norms,
  embeddings, LM head) to fp32 for stable fp16/bf16 training, and turns on gradient checkpointing
  non-reentrantly (the reentrant variant needs the input-grad hook and breaks with frozen inputs).
* ``sdpa`` attention: memory-efficient on a T4, where FlashAttention-2 does not run.
* Several GPUs: under DDP each process loads its own copy on its own GPU (``device_map={"": local rank}``).
  Under FSDP or DeepSpeed ZeRO-3, which shard only floating-point tensors, the packed 4-bit weights are stored
  in the model's float dtype (``bnb_4bit_quant_storage``, bf16 for bf16 training, else fp32) and the launcher
  places them, so there is no device map; the k-bit preparation is skipped there, since its fp32 copies of
  norms and embeddings would mix dtypes in the tensors FSDP flattens (PEFT's FSDP-QLoRA recipe does the same).
* The tiny model (``model_name_or_path: tiny``) is built offline into ``OUTPUT/base-model``.
"""

from __future__ import annotations

from pathlib import Path

from c2kit.models import pin_cpu_4bit_kernels
from c2kit.training.config import TINY_MODEL, TrainConfig
from c2kit.training.precision import Precision

BASE_MODEL_DIR = "base-model"  # under output_dir, for the tiny model


def resolve_base_model(config: TrainConfig) -> str:
    """The model to load: the configured id/path, or the tiny model built offline (idempotent)."""
    if config.model_name_or_path != TINY_MODEL:
        return config.model_name_or_path
    from c2kit.tiny import build_tiny_chat_model

    path = build_tiny_chat_model(Path(config.output_dir) / BASE_MODEL_DIR, hidden_size=config.tiny_hidden_size,
                                 num_layers=config.tiny_num_layers, seed=config.seed)
    return str(path.resolve())


def load_tokenizer(model_path: str, config: TrainConfig):
    """The model's tokenizer with a pad token that is not EOS where the vocabulary has one (see below)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        model_path, revision=None if Path(model_path).is_dir() else config.revision,
        trust_remote_code=config.trust_remote_code,
    )
    print(ensure_pad_token(tokenizer))
    return tokenizer


def ensure_pad_token(tokenizer) -> str:
    """Give the tokenizer a pad token distinct from EOS if possible; return which one and why.

    A pad token equal to EOS is a classic SFT bug (padding masked out of the labels takes the real EOS with
    it, and the model never learns to stop). Llama-2 has no pad token but has ``<unk>``, which is never
    produced by its tokenizer, so it pads with that (no new embedding row, nothing to resize in a 4-bit
    model). Where only EOS is left, padding with EOS is still correct for DPO in TRL 1.16: its collator
    builds the attention and completion masks from sequence lengths, never from pad ids, so the real EOS
    that ends each completion is always trained on.
    """
    eos = tokenizer.eos_token
    if tokenizer.pad_token is not None and tokenizer.pad_token != eos:
        return f"pad token {tokenizer.pad_token!r} (the tokenizer's own)"
    if tokenizer.unk_token is not None and tokenizer.unk_token != eos:
        tokenizer.pad_token = tokenizer.unk_token
        return f"pad token {tokenizer.unk_token!r} (unk; the tokenizer had no pad token distinct from EOS)"
    tokenizer.pad_token = eos
    return (f"pad token = EOS {eos!r} (no other special token; safe for DPO: TRL masks by length, not by pad id)")


def sharded_storage_dtype(precision: Precision):
    """The float dtype FSDP and ZeRO-3 shard the 4-bit weights in: the model's, bf16 under bf16, else fp32.

    bitsandbytes' FSDP-QLoRA guide: the storage must be the dtype of the rest of the model. fp16 is refused
    under these launches before any model loads (:func:`c2kit.training.distributed.settings_for_launch`).
    """
    import torch

    return torch.bfloat16 if precision.bf16 else torch.float32


def quantization_config(precision: Precision, *, sharded: bool = False):
    """4-bit NF4 with double quantisation, computing in the training dtype (stored as floats when ``sharded``)."""
    from transformers import BitsAndBytesConfig

    storage = {"bnb_4bit_quant_storage": sharded_storage_dtype(precision)} if sharded else {}
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=precision.torch_dtype,
        **storage,
    )


def load_base_model(model_path: str, config: TrainConfig, precision: Precision, *, local_index: int = 0,
                    sharded: str | None = None):
    """Load the base (4-bit when ``load_in_4bit``) on this process's device, prepared for k-bit training.

    ``local_index`` is the process's index on its machine (its GPU); ``sharded`` is ``fsdp`` or ``zero3`` when
    the launcher shards the weights (:func:`c2kit.training.distributed.sharded_launch`).
    """
    from transformers import AutoModelForCausalLM

    kwargs = {
        "revision": None if Path(model_path).is_dir() else config.revision,
        "trust_remote_code": config.trust_remote_code,
        "attn_implementation": config.attn_implementation,
        "dtype": sharded_storage_dtype(precision) if sharded else precision.torch_dtype,
    }
    if config.load_in_4bit:
        kwargs["quantization_config"] = quantization_config(precision, sharded=bool(sharded))
    if not precision.use_cpu and not sharded:
        kwargs["device_map"] = {"": local_index}  # one copy per GPU; bnb places the 4-bit weights there
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    if config.load_in_4bit and precision.use_cpu:
        pin_cpu_4bit_kernels(model)
    if config.load_in_4bit and not sharded:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    return model


def lora_config(config: TrainConfig):
    """LoRA on every linear layer but the LM head (TRL computes log-probs from ``lm_head.weight`` directly)."""
    from peft import LoraConfig

    targets = config.lora_target_modules
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        # Always 0 for c2-dpo (the config refuses more): TRL sets every dropout module to p=0 for DPO (policy and
        # reference log-probs must be deterministic), so a LoRA dropout there would be a no-op.
        lora_dropout=config.lora_dropout,
        target_modules=targets if targets == "all-linear" else [name.strip() for name in targets.split(",")],
        bias="none",
        task_type="CAUSAL_LM",
    )
