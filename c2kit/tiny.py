"""Tiny chat models built offline, for smoke runs, tests and the CPU training profile.

Nothing is downloaded: a byte-level BPE tokenizer is trained with `tokenizers` on the shipped benchmark
text plus the protocol's openers and triggers, and a small Llama is initialised from a config. The numbers
such a model produces mean nothing; it exists so every code path can run on a laptop without the Hub.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from c2kit.errors import UserError
from c2kit.locks import TINY_MODEL_MARKER, lock_output_folder
from c2kit.protocol import OPENERS, TRIGGERS
from c2kit.sources import bundled_path

# A ChatML-style template (as used by Qwen2) that supports continue_final_message.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
MARKER = TINY_MODEL_MARKER  # written next to the weights so a tiny model can be recognised
STAGING = ".building"  # the files are made here, inside the folder, then moved in: the marker last


def tiny_corpus() -> list[str]:
    """Training text for the tiny tokenizer: benchmark requests and responses plus protocol phrases."""
    texts: list[str] = list(OPENERS) + list(TRIGGERS)
    with open(bundled_path(), encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            texts += [row["prompt"], row["response_0"], row["response_1"]]
    return texts


def build_tiny_tokenizer(vocab_size: int = 2048):
    """Train a byte-level BPE tokenizer offline and wrap it as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(tiny_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        bos_token=None,
        unk_token=None,
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    return tokenizer


def build_tiny_chat_model(
    out_dir: str | Path,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    vocab_size: int = 2048,
    seed: int = 0,
    num_heads: int = 4,
    num_kv_heads: int = 2,
) -> Path:
    """Write a tiny random-weight Llama chat model and its tokenizer to ``out_dir``; return the path.

    Idempotent: an existing tiny model in ``out_dir`` is reused. Any other folder with files in it is refused
    (:func:`c2kit.locks.lock_output_folder`: an eval run's results, a build, a model), so nothing is overwritten.
    The default shape has head_dim 16; vLLM's CPU attention needs head_dim 32, 64, 80, ... (e.g.
    ``hidden_size=128, num_heads=2``: head_dim 64).
    """
    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise UserError("hidden_size must be a multiple of num_heads, and num_heads of num_kv_heads")
    out = Path(out_dir)
    lock = lock_output_folder(out, "c2 tiny-model")
    try:
        if not (out / MARKER).exists():
            _write_tiny_model(out, hidden_size=hidden_size, num_layers=num_layers, vocab_size=vocab_size, seed=seed,
                              num_heads=num_heads, num_kv_heads=num_kv_heads)
    finally:
        lock.release()
    return out


def _write_tiny_model(out: Path, *, hidden_size: int, num_layers: int, vocab_size: int, seed: int, num_heads: int,
                      num_kv_heads: int) -> None:
    """Make the model in a hidden folder inside ``out`` (one a killed build left is started again), then move its
    files in, the marker last: a folder with the marker holds a whole model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    staging = out / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    tokenizer = build_tiny_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / MARKER).write_text(json.dumps({"hidden_size": hidden_size, "num_layers": num_layers, "seed": seed,
                                                 "num_heads": num_heads, "num_kv_heads": num_kv_heads}))
    for made in sorted(staging.iterdir(), key=lambda path: path.name == MARKER):
        os.replace(made, out / made.name)
    staging.rmdir()
