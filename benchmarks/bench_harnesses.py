"""Wall time of C2-Eval through each harness against ``c2 eval run``, on the same settings, in one run.

A tiny offline chat model (``c2 tiny-model``), the first ``--items`` shipped items, all eight k, the paper's 20
paths, temperature 0.8, top-p 0.7 and 32 new tokens, keyword judge, on this machine's CPU. Each command runs as a
user runs it (its own process, model loading included); the ratio is its time over ``c2 eval run``'s. The numbers
from a random-weight model mean nothing: only the times are read.

    .venv/bin/python benchmarks/bench_harnesses.py --items 3    # about 5 minutes on 2 busy cores
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(name: str, command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        sys.exit(f"{name} failed:\n{finished.stderr[-3000:]}")
    print(f"{name}: {seconds:.1f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model = work / "tiny"
        subprocess.run([str(BIN / "c2"), "tiny-model", "--out", str(model)], check=True, capture_output=True, env=env)
        items = str(args.items)
        times = {
            "c2 eval run": timed("c2 eval run", [str(BIN / "c2"), "eval", "run", "--model", str(model),
                                                 "--limit", items, "--out", str(work / "c2")], env),
            "lm_eval (hf backend)": timed("lm_eval", [
                str(BIN / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
                "--include_path", subprocess.run([str(BIN / "c2"), "harness", "lm-eval-path"], capture_output=True,
                                                 text=True, check=True).stdout.strip(),
                "--tasks", "c2_eval", "--apply_chat_template", "--limit", items, "--device", "cpu",
                "--batch_size", "64", "--output_path", str(work / "lm")], env),
            "inspect eval (c2/ provider)": timed("inspect eval", [
                str(BIN / "inspect"), "eval", "c2_toolkit/c2_eval", "--model", f"c2/{model}", "-T", f"items={items}",
                "--log-dir", str(work / "inspect"), "--display", "none"], env),
        }
    base = times["c2 eval run"]
    print(f"\n{args.items} items x 8 k x 20 paths x 32 tokens, tiny model, CPU")
    print("| command | wall time (s) | ratio to c2 eval run |\n|---|---:|---:|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.1f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
