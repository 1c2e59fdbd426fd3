"""Peak GPU memory and pairs/s of the T4 training profile, against plain TRL QLoRA DPO, in one process.

    python benchmarks/bench_train_memory.py                          # Llama-2-7B shape (needs CUDA)
    python benchmarks/bench_train_memory.py --shape qwen2-7b --batch 1
    python benchmarks/bench_train_memory.py --shape tiny             # CPU smoke run of the same code

A model of the chosen shape is built from a config with random weights (nothing is downloaded), saved once
under ``--cache-dir`` and loaded in 4-bit. Both runs train on the same synthetic pairs whose prompt +
completion fill the profile's ``max_length``; text comes from the shipped benchmark rows, tokenised with
c2kit's tiny tokenizer (its ids are valid in any larger vocabulary; the vocabulary size of the shape still
sets the embedding and LM-head memory).

* ``recipe``: the profile's settings through the recipe's own code (NF4 + double quant, k-bit preparation,
  gradient checkpointing, LoRA r 16 on all linear layers, paged 8-bit AdamW, fp16 + the fp32 fix on GPUs
  without bf16, sdpa) at the profile's batch size.
* ``trl-defaults``: TRL as its docs show QLoRA DPO: ``BitsAndBytesConfig(load_in_4bit=True)`` with NF4, LoRA
  on all linear layers, ``DPOConfig`` defaults (bf16 where the GPU has it, else fp16, which hits the
  bf16-adapter pitfall the recipe fixes), ``--baseline-batch`` pairs per step
  (default 4, the larger batch of the H100 reference runs).

Peak memory is ``torch.cuda.max_memory_allocated`` from loading the model to the last step; pairs/s is
measured after ``--warmup`` steps. On CPU the numbers are timings only: memory needs CUDA.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROFILES = Path(__file__).resolve().parent.parent / "training" / "profiles"
SHAPES = {
    # Llama-2-7B: 32 layers, 4096 hidden, 11008 MLP, 32 heads, 32K vocabulary.
    "llama2-7b": {"architecture": "llama", "profile": "llama2-7b-chat-t4", "config": {
        "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False}},
    # Qwen2-7B: 28 layers, 3584 hidden, 18944 MLP, 28 heads / 4 KV heads, 152K vocabulary.
    "qwen2-7b": {"architecture": "qwen2", "profile": "qwen2-7b-instruct-t4", "config": {
        "vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
        "num_attention_heads": 28, "num_key_value_heads": 4, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False}},
    "tiny": {"architecture": "llama", "profile": "llama2-7b-chat-t4", "config": {
        "vocab_size": 2048, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
        "tie_word_embeddings": False}},
}


def build_random_model(shape: str, cache_dir: Path) -> str:
    """Save a random-weight model of ``shape`` (fp16) with the tiny tokenizer once; return its directory."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from c2kit.tiny import build_tiny_tokenizer

    out = cache_dir / f"random-{shape}"
    if (out / "config.json").exists():
        return str(out)
    spec = SHAPES[shape]
    tokenizer = build_tiny_tokenizer()
    config = AutoConfig.for_model(spec["architecture"], **spec["config"], eos_token_id=tokenizer.eos_token_id,
                                  pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    print(f"building a random {shape} model ({spec['config']['num_hidden_layers']} layers) in {out} ...")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float16)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    del model
    gc.collect()
    return str(out)


def synthetic_pairs(tokenizer, n_pairs: int, max_length: int, seed: int = 0):
    """Pairs whose prompt + completion fill about ``max_length`` tokens, from the shipped benchmark text."""
    import random

    import datasets

    from c2kit.sources import load_source
    from c2kit.training.data import to_dpo_format

    rows = load_source().rows
    words = " ".join(text for row in rows for text in row.responses).split()
    rng = random.Random(seed)
    budget = max_length - 80  # the rendered prompt: template tokens and a short request

    def text_of(n_tokens: int) -> str:
        start = rng.randrange(len(words) - 4 * n_tokens)
        chunk = words[start:start + n_tokens]  # ~1.3 tokens per word: trimmed to the budget below
        ids = tokenizer(" ".join(chunk), add_special_tokens=False)["input_ids"][:n_tokens]
        return tokenizer.decode(ids)

    pairs = [{"prompt": rows[i % len(rows)].request[:200], "chosen": text_of(budget), "rejected": text_of(budget)}
             for i in range(n_pairs)]
    return to_dpo_format(datasets.Dataset.from_list(pairs), tokenizer)


class StepTimer:
    """Trainer callback: wall time of each optimizer step (CUDA synchronised)."""

    def __init__(self):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                timer._sync()
                timer.start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                timer._sync()
                timer.durations.append(time.perf_counter() - timer.start)

        self.durations: list[float] = []
        self.start = 0.0
        self.callback = Callback()

    @staticmethod
    def _sync():
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def run_recipe(model_path: str, pairs, args) -> dict:
    """The profile, through c2kit.training (model prep, trainer, fp32 fix)."""
    from c2kit.training.config import load_config
    from c2kit.training.model import load_base_model, load_tokenizer
    from c2kit.training.precision import resolve_precision
    from c2kit.training.trainer import build_trainer, dpo_args

    overrides = {"model_name_or_path": model_path, "output_dir": str(args.cache_dir / "out-recipe"),
                 "max_steps": str(args.warmup + args.steps), "save_steps": "100000", "logging_steps": "100000",
                 "gradient_accumulation_steps": "1"}
    if args.batch:
        overrides["per_device_train_batch_size"] = str(args.batch)
    if args.cpu:
        overrides.update(precision="fp32", optim="adamw_torch", gradient_checkpointing="false")
    config = load_config(PROFILES / f"{SHAPES[args.shape]['profile']}.yaml", overrides)
    precision = resolve_precision(config.precision)
    tokenizer = load_tokenizer(model_path, config)
    model = load_base_model(model_path, config, precision)
    timer = StepTimer()
    trainer = build_trainer(model, tokenizer, dpo_args(config, precision, progress=False), config, pairs,
                            callbacks=[timer.callback])
    settings = (f"NF4+double quant, {precision.name}, {config.optim}, batch {config.per_device_train_batch_size}, "
                f"max_length {config.max_length}, grad ckpt {config.gradient_checkpointing}, LoRA r {config.lora_r}")
    return _train(trainer, timer, config.per_device_train_batch_size, args.warmup, settings)


def run_trl_defaults(model_path: str, pairs, args) -> dict:
    """QLoRA DPO as in TRL's docs: 4-bit NF4 load, LoRA on all linear layers, DPOConfig defaults."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import DPOConfig, DPOTrainer

    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    compute = torch.bfloat16 if bf16 else (torch.float16 if torch.cuda.is_available() else torch.float32)
    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute)
    device_map = {"": 0} if torch.cuda.is_available() else None
    model = AutoModelForCausalLM.from_pretrained(model_path, quantization_config=quantization, dtype=compute,
                                                 device_map=device_map)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    precision = {"bf16": bf16, "fp16": torch.cuda.is_available() and not bf16, "use_cpu": args.cpu}
    config = DPOConfig(output_dir=str(args.cache_dir / "out-trl"), per_device_train_batch_size=args.baseline_batch,
                       max_steps=args.warmup + args.steps, save_strategy="no", report_to="none", logging_steps=100000,
                       disable_tqdm=True, **precision)
    timer = StepTimer()
    lora = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=model, args=config, train_dataset=pairs, processing_class=tokenizer, peft_config=lora,
                         callbacks=[timer.callback])
    optim = getattr(config.optim, "value", config.optim)  # an enum in TrainingArguments
    settings = (f"NF4, {'bf16' if bf16 else 'fp16' if precision['fp16'] else 'fp32'}, {optim}, "
                f"batch {args.baseline_batch}, max_length {config.max_length}, "
                f"grad ckpt {config.gradient_checkpointing}")
    return _train(trainer, timer, args.baseline_batch, args.warmup, settings)


def _train(trainer, timer: StepTimer, batch: int, warmup: int, settings: str) -> dict:
    try:
        trainer.train()
    except RuntimeError as error:  # out of memory, or the fp16 grad scaler on bf16 adapters: a measurement too
        return {"settings": settings, "error": f"{type(error).__name__}: {str(error)[:200]}"}
    timed = timer.durations[warmup:]
    return {"settings": settings, "pairs_per_s": round(batch * len(timed) / sum(timed), 3) if timed else None,
            "step_s": [round(d, 3) for d in timer.durations]}


def measure(name: str, run, model_path: str, pairs, args) -> dict:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    result = run(model_path, pairs, args)
    if torch.cuda.is_available():
        result["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(f"{name}: {json.dumps(result)}")
    return result


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), help="model shape (default: llama2-7b on CUDA, tiny on CPU)")
    parser.add_argument("--batch", type=int, help="recipe pairs per step (default: the profile's)")
    parser.add_argument("--baseline-batch", type=int, default=4, help="plain-TRL pairs per step (default: 4)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per run (default: 4)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first steps (default: 1)")
    parser.add_argument("--max-length", type=int, help="pair length (default: the profile's max_length)")
    parser.add_argument("--skip-baseline", action="store_true", help="measure the recipe only")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/c2-bench-train"),
                        help="where the random model is saved once (a 7B shape needs ~15 GB)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    args.cpu = not torch.cuda.is_available()
    args.shape = args.shape or ("tiny" if args.cpu else "llama2-7b")
    if args.cpu:
        print("no CUDA: timing a CPU smoke run only; peak-memory numbers need a GPU")

    from c2kit.training.config import load_config

    max_length = args.max_length or load_config(PROFILES / f"{SHAPES[args.shape]['profile']}.yaml").max_length
    model_path = build_random_model(args.shape, args.cache_dir)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    n_pairs = (args.warmup + args.steps) * max(args.batch or 2, args.baseline_batch)
    pairs = synthetic_pairs(tokenizer, n_pairs, max_length)
    lengths = [len(tokenizer(row["prompt"] + row["chosen"])["input_ids"]) for row in pairs]
    device = torch.cuda.get_device_name() if not args.cpu else "cpu"
    results = {"shape": args.shape, "device": device, "pair_tokens_mean": round(sum(lengths) / len(lengths)),
               "max_length": max_length, "recipe": measure("recipe", run_recipe, model_path, pairs, args)}
    if not args.skip_baseline:
        results["trl_defaults"] = measure("trl-defaults", run_trl_defaults, model_path, pairs, args)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
