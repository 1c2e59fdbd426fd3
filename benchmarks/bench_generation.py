"""Benchmark C2-Eval generation: the official-style loop against ``generate_continuations``, in one process.

Both loops sample the same workload (the shipped benchmark items, prefilled in ``words`` mode, ``--paths``
continuations of ``--max-new-tokens`` tokens per (item, k)):

* official-style: like the original C2-Eval code, 10 prompts x 1 path per ``generate`` call;
* ours: :func:`c2kit.engines.transformers_engine.generate_continuations` (many prompts x all paths per call, grouped by
  length, sized by tokens in flight).

Tokens/s counts ``paths x max_new_tokens`` (the unit of the full benchmark's 500 x 8 x 20 x 32 = 2.56M
tokens), so the projection for the full default C2-Eval is ``2.56M / tokens/s``. Examples::

    python benchmarks/bench_generation.py                      # CPU, tiny model built offline, ~1 minute
    python benchmarks/bench_generation.py --model Qwen/Qwen2-0.5B-Instruct --items 4
    # GPU, Llama-2-7B shape with random weights (tiny tokenizer unless --tokenizer is given):
    python benchmarks/bench_generation.py --random-config llama2-7b --items 16 --ks 10,20,30,40,50,60,70,80 \\
        --paths 20 --official-paths 400
    python benchmarks/bench_generation.py --random-config llama2-7b --load-in-4bit --items 16 --paths 20 \\
        --official-paths 200
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from c2kit.engines.transformers_engine import default_batch_tokens, generate_continuations
from c2kit.generation import SamplingConfig
from c2kit.models import load_model_and_tokenizer, prepare_tokenizer
from c2kit.prefill import PrefillPrompt, build_prefills
from c2kit.sources import load_source
from c2kit.tiny import build_tiny_chat_model

FULL_EVAL_TOKENS = 500 * 8 * 20 * 32  # items x k values x paths x new tokens
OFFICIAL_PROMPTS_PER_CALL = 10
# Llama-2-7B's architecture (meta-llama/Llama-2-7b-hf config.json), for random-weight throughput runs.
RANDOM_CONFIGS = {
    "llama2-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                      num_key_value_heads=32, vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="Hub id or local path (default: the tiny offline model)")
    source.add_argument("--random-config", choices=sorted(RANDOM_CONFIGS),
                        help="random-weight model of a known shape, built on the GPU (needs CUDA)")
    parser.add_argument("--tokenizer", help="tokenizer for --random-config (default: the tiny offline tokenizer)")
    parser.add_argument("--load-in-4bit", action="store_true", help="4-bit NF4 (bitsandbytes)")
    parser.add_argument("--dtype", default="auto", help="auto, bfloat16, float16, float32 (random config: bfloat16)")
    parser.add_argument("--items", type=int, default=4, help="benchmark items (default 4)")
    parser.add_argument("--ks", default="10,40", help="prefix lengths in words (default 10,40)")
    parser.add_argument("--paths", type=int, default=20, help="paths per (item, k) (default 20, the paper's)")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-tokens", type=int, help="tokens in flight per call (default: from device memory)")
    parser.add_argument("--official-paths", type=int,
                        help="time the official loop on only the first N paths (it is slow); default: all")
    parser.add_argument("--repeats", type=int, default=3,
                        help="time each loop this many times (interleaved) and keep the fastest (default 3)")
    parser.add_argument("--work-dir", help="where to build the tiny model / save a random 4-bit model (default: temp)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args()


def load(args: argparse.Namespace, work: Path):
    """(model, tokenizer, description) for the chosen model source."""
    if args.random_config:
        return load_random(args, work)
    model = args.model or str(build_tiny_chat_model(work / "tiny"))
    loaded = load_model_and_tokenizer(model, load_in_4bit=args.load_in_4bit, dtype=args.dtype)
    return loaded.model, loaded.tokenizer, args.model or "tiny offline model (random weights)"


def load_random(args: argparse.Namespace, work: Path):
    """A random-weight model of a known architecture on the GPU (4-bit: saved once, loaded like a checkpoint)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    if not torch.cuda.is_available():
        raise SystemExit("--random-config builds a multi-GB model on the GPU; no CUDA device here")
    tokenizer_dir = args.tokenizer or str(build_tiny_chat_model(work / "tiny"))
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(tokenizer_dir))
    dtype = torch.bfloat16 if args.dtype == "auto" else getattr(torch, args.dtype)
    config = LlamaConfig(**RANDOM_CONFIGS[args.random_config], eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    with torch.device("cuda"):  # initialised in place on the GPU, directly in the target dtype
        model = AutoModelForCausalLM.from_config(config, dtype=dtype).eval()
    name = f"random {args.random_config} ({str(dtype).removeprefix('torch.')})"
    if not args.load_in_4bit:
        return model, tokenizer, name
    # Quantize through the real loading path: save the random checkpoint once, load it in 4-bit.
    saved = work / f"random-{args.random_config}"
    model.save_pretrained(saved)
    tokenizer.save_pretrained(saved)
    del model
    torch.cuda.empty_cache()
    loaded = load_model_and_tokenizer(str(saved), load_in_4bit=True, dtype=str(dtype).removeprefix("torch."))
    return loaded.model, loaded.tokenizer, f"random {args.random_config} (4-bit NF4)"


def official_loop(model, tokenizer, prompts: list[PrefillPrompt], sampling: SamplingConfig, n_paths: int) -> int:
    """The original code's way: every path is its own row, 10 rows per generate call. Returns rows done."""
    rows = [prompt for prompt in prompts for _ in range(sampling.num_paths)][:n_paths]
    device = model.get_input_embeddings().weight.device
    torch.manual_seed(sampling.seed)
    for start in range(0, len(rows), OFFICIAL_PROMPTS_PER_CALL):
        chunk = rows[start:start + OFFICIAL_PROMPTS_PER_CALL]
        encoded = tokenizer.pad({"input_ids": [list(p.prompt_ids) for p in chunk]}, padding_side="left",
                                return_tensors="pt").to(device)
        with torch.inference_mode():
            model.generate(**encoded, do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p,
                           max_new_tokens=sampling.max_new_tokens, pad_token_id=tokenizer.pad_token_id)
    return len(rows)


def timed(function, *args, **kwargs) -> float:
    """Wall-clock seconds of one call (synchronising the GPU around it)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    function(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def peak_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.work_dir or temporary)
        model, tokenizer, name = load(args, work)
        rows = load_source(limit=args.items).rows
        ks = [int(k) for k in args.ks.split(",")]
        prompts = build_prefills(tokenizer, [(r.source_id, r.request, r.harmful_response) for r in rows], ks)
        sampling = SamplingConfig(num_paths=args.paths, max_new_tokens=args.max_new_tokens)
        n_paths = len(prompts) * args.paths
        official_n = min(args.official_paths or n_paths, n_paths)
        batch_tokens = args.batch_tokens or default_batch_tokens(model)
        mean_prompt = sum(len(p.prompt_ids) for p in prompts) / len(prompts)
        print(f"model: {name} on {model.get_input_embeddings().weight.device}")
        print(f"workload: {len(rows)} items x {len(ks)} ks x {args.paths} paths = {n_paths} paths of "
              f"{args.max_new_tokens} new tokens; mean prompt {mean_prompt:.0f} tokens; batch_tokens {batch_tokens}")

        official_loop(model, tokenizer, prompts[:1], SamplingConfig(num_paths=1, max_new_tokens=2), 1)  # warm-up
        official_s = ours_s = float("inf")
        for _ in range(args.repeats):  # fastest of several: other load on the machine only ever slows a run
            official_s = min(official_s, timed(official_loop, model, tokenizer, prompts, sampling, official_n))
            official_peak = peak_gib()
            ours_s = min(ours_s, timed(generate_continuations, model, tokenizer, prompts, sampling,
                                       batch_tokens=batch_tokens, progress=False))
            ours_peak = peak_gib()

    figures = {
        "model": name,
        "device": str(model.get_input_embeddings().weight.device),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "paths": n_paths,
        "official_paths": official_n,
        "repeats": args.repeats,
        "mean_prompt_tokens": round(mean_prompt, 1),
        "batch_tokens": batch_tokens,
        "official_tokens_per_s": official_n * args.max_new_tokens / official_s,
        "ours_tokens_per_s": n_paths * args.max_new_tokens / ours_s,
        "official_peak_gib": official_peak,
        "ours_peak_gib": ours_peak,
    }
    figures["speedup"] = figures["ours_tokens_per_s"] / figures["official_tokens_per_s"]
    for loop in ("official", "ours"):
        figures[f"{loop}_full_eval_hours"] = FULL_EVAL_TOKENS / figures[f"{loop}_tokens_per_s"] / 3600
    print(f"official-style loop (10 prompts x 1 path per call): {figures['official_tokens_per_s']:,.0f} tokens/s "
          f"over {official_n} paths" + (f", peak {official_peak:.1f} GiB" if official_peak else ""))
    print(f"generate_continuations:                             {figures['ours_tokens_per_s']:,.0f} tokens/s "
          f"over {n_paths} paths" + (f", peak {ours_peak:.1f} GiB" if ours_peak else ""))
    print(f"speed-up: {figures['speedup']:.1f}x")
    print(f"projected full default C2-Eval with this model (500 x 8 x 20 paths x 32 tokens = 2.56M tokens): "
          f"official-style {figures['official_full_eval_hours']:.2f} h, ours {figures['ours_full_eval_hours']:.2f} h "
          f"({figures['ours_full_eval_hours'] * 60:.0f} min)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
