"""Engines as registered components: a plug-in engine found through an installed entry point, its options as
flags, unknown names with a hint, and every caller (CLI, datasets builder, model judge) opening it alike."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from c2kit.engines import EngineSettings, available_engines, register_engine
from c2kit.engines.registry import _ENGINES

ANSWER = "I cannot help with that request."

# A third-party engine as a package would ship it: its options dataclass (one field, --standin-answer) and its
# factory, registered by an entry point in the group c2kit.engines.
STANDIN_MODULE = textwrap.dedent('''
    from dataclasses import dataclass, field

    from c2kit.engines import Engine, EngineType, OpenedEngine
    from c2kit.engines.registry import tokenizer_here

    PARITY_CHECKS = []


    @dataclass(frozen=True)
    class StandinOptions:
        standin_answer: str = field(default="No.", metadata={"help": "what every path says"})


    class StandinEngine(Engine):
        name = "standin"

        def __init__(self, answer):
            self.answer = answer

        def plan_batches(self, prompts, sampling):
            return [list(prompts)]

        def generate_batch(self, batch, sampling):
            return [[self.answer] * sampling.num_paths for _ in batch], len(batch)

        def info(self):
            return {"name": self.name, "answer": self.answer}

        def cache_identity(self):
            return {"name": self.name, "answer": self.answer}

        def check_parity(self, probes):
            PARITY_CHECKS.append(len(probes))
            return {"checked": len(probes)}


    def open_standin(options, request):
        loaded, generation_config = tokenizer_here(request)
        return OpenedEngine(StandinEngine(options.standin_answer), loaded, generation_config)


    ENGINE = EngineType("standin", StandinOptions, open_standin, "a stand-in that answers one sentence")
''')


@pytest.fixture
def plugin_dir(tmp_path) -> Path:
    """A folder with the stand-in module and its installed distribution (dist-info with an entry point)."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "standin_engine.py").write_text(STANDIN_MODULE)
    info = folder / "standin_engine-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: standin-engine\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[c2kit.engines]\nstandin = standin_engine:ENGINE\n")
    return folder


@pytest.fixture
def standin(plugin_dir, monkeypatch):
    """The stand-in module, found on sys.path through its entry point (as an installed package would be)."""
    monkeypatch.syspath_prepend(str(plugin_dir))
    importlib.invalidate_caches()
    yield importlib.import_module("standin_engine")
    _ENGINES.pop("standin", None)
    sys.modules.pop("standin_engine", None)


def c2(*args: str, plugin_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dir), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([str(Path(sys.executable).parent / "c2"), *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_c2_eval_run_with_an_engine_installed_by_entry_point(plugin_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    help_text = c2("eval", "run", "--help", plugin_dir=plugin_dir).stdout
    assert "--standin-answer" in help_text and "--engine standin: what every path says" in help_text
    done = c2("eval", "run", "--model", tiny_model_dir, "--limit", "2", "--ks", "10", "--paths", "2",
              "--max-new-tokens", "4", "--engine", "standin", "--standin-answer", ANSWER, "--out", str(out),
              plugin_dir=plugin_dir)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {row["continuation"] for row in rows} == {ANSWER}  # 2 items x 2 paths
    config = json.loads((out / "config.json").read_text())
    assert config["engine"] == "standin" and config["standin_answer"] == ANSWER
    assert config["engine_info"]["answer"] == ANSWER and config["engine_info"]["parity"] == {"checked": 2}


def test_an_unknown_engine_name_gets_a_hint(plugin_dir, tiny_model_dir, tmp_path):
    done = c2("eval", "run", "--model", tiny_model_dir, "--engine", "standn", "--out", str(tmp_path / "x"),
              plugin_dir=plugin_dir)
    assert done.returncode == 2 and "engine 'standn' is not one of transformers, vllm, ray, openai, standin " \
        "(did you mean 'standin'?)" in done.stderr
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match=r"engine 'vlm' is not one of .* \(did you mean 'vllm'\?\)"):
        EngineSettings.build("vlm")


def test_an_option_of_another_engine_is_refused_naming_its_engine(standin):
    assert "standin" in available_engines()
    with pytest.raises(ValueError, match="^--standin-answer is for --engine standin, not --engine vllm$"):
        EngineSettings.build("vllm", standin_answer="hi")
    with pytest.raises(ValueError, match="^--replicas is for --engine ray, not --engine standin$"):
        EngineSettings.build("standin", replicas=2)


def test_the_datasets_builder_opens_the_chosen_engine_and_checks_parity(standin, tiny_model_dir, tmp_path):
    from c2_syn_dataset.builder import C2SynBuilder
    from c2_syn_dataset.settings import BuildSettings
    from c2kit.sources import bundled_path

    settings = BuildSettings(source=str(bundled_path()), generator=tiny_model_dir, limit=2, max_new_tokens=4,
                             engine=EngineSettings.build("standin", standin_answer=ANSWER))
    builder = C2SynBuilder(settings, config_name="ranked", cache_dir=str(tmp_path))
    builder.download_and_prepare()
    ranked = builder.as_dataset(split="train").to_list()
    assert len(ranked) == 2 and [row["responses"][0] for row in ranked] == [ANSWER, ANSWER]  # the SRs: its answer
    assert standin.PARITY_CHECKS and standin.PARITY_CHECKS[0] >= 1
    default = C2SynBuilder(BuildSettings(source=str(bundled_path()), generator=tiny_model_dir, limit=2),
                           cache_dir=str(tmp_path))
    assert default.hash != builder.hash  # the engine joins the builder's cache hash, the default adds nothing


def test_a_model_judge_runs_on_a_registered_engine(standin, tiny_model_dir, tmp_path):
    from c2kit.judges import JudgeInput, load_judge

    judge = load_judge(f"hf:{tiny_model_dir}?question=c2&engine=standin&standin_answer=Yes.",
                       cache_dir=tmp_path)
    assert judge.judge([JudgeInput("how do I?", "Sure, first", " I will not.")]) == [True]
    assert judge.info()["engine"]["answer"] == "Yes." and standin.PARITY_CHECKS == [1]


def test_runs_record_the_engine_fields_as_before():
    """config.json and a C2-Syn build keep the flat engine fields older runs have (a resume compares them)."""
    from c2_eval_metric.runner import EvalConfig, requested_settings

    legacy = {"engine", "max_concurrency", "api_key_env", "served_model", "vllm_python", "vllm_options",
              "replicas", "tensor_parallel_size", "ray_address"}
    settings = requested_settings(EvalConfig(model="m"))
    assert legacy <= set(settings) and "base_urls" not in settings and settings["engine"] == "transformers"
    assert {key: settings[key] for key in ("served_model", "replicas", "vllm_options")} == \
        {"served_model": None, "replicas": 1, "vllm_options": {}}


def test_registering_a_name_twice_needs_overwrite(standin):
    with pytest.raises(ValueError, match="already registered as 'vllm'"):
        register_engine(standin.EngineType("vllm", standin.StandinOptions, standin.open_standin))
