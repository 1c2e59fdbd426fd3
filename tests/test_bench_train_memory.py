"""The training memory benchmark (benchmarks/bench_train_memory.py) runs every objective's own code on the tiny
shape: a CPU smoke run of what a GPU session measures on the 7B shape (timings only; memory needs CUDA)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_train_memory.py"
PROFILES = Path(__file__).resolve().parent.parent / "training" / "profiles"
MAX_LENGTH = 128


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_train_memory", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "bench.json"
    assert load_bench().main(["--shape", "tiny", "--objective", "all", "--steps", "1", "--warmup", "0",
                              "--max-length", str(MAX_LENGTH), "--cache-dir", str(tmp / "cache"),
                              "--json", str(out)]) == 0
    return json.loads(out.read_text())


# Run name -> (profile, trainer, unit): each objective's own, written out here.
EXPECTED = {"c2-dpo": ("llama2-7b-chat-t4", "DPOTrainer", "pairs"),
            "recovery-sft": ("recovery-sft-llama2-7b-chat-t4", "SFTTrainer", "rows"),
            "derta": ("derta-llama2-7b-chat-t4", "TransitionSFTTrainer", "rows"),
            "backtrack sft stage": ("backtrack-llama2-7b-chat-t4", "SFTTrainer", "rows"),
            "backtrack dpo stage": ("backtrack-llama2-7b-chat-t4", "DPOTrainer", "pairs")}


def assert_measured(results: dict, names, profiles: Path = PROFILES) -> None:
    from c2kit.training.config import load_config

    for name in names:
        profile, trainer, unit = EXPECTED[name]
        rank = load_config(profiles / f"{profile}.yaml").lora_r  # the profile's LoRA is the one trained
        run = results["objectives"][name]
        assert (run["profile"], run["trainer"], run["unit"], run["lora_r"]) == (profile, trainer, unit, rank), run
        assert run["rows_per_s"] > 0 and len(run["step_s"]) == 1, run
        # The rows fill the length the run trains at, without any being cut (TRL would drop an SFT row).
        assert run["max_length"] == MAX_LENGTH
        assert MAX_LENGTH // 2 <= run["tokens_mean"] <= run["tokens_max"] <= MAX_LENGTH
        assert "peak_gib" not in run  # CPU: no memory figure is made up


def test_every_objective_with_a_t4_profile_runs_through_its_own_profile_and_trainer(results):
    from c2kit.training.objectives import OBJECTIVE_NAMES

    assert results["shape"] == "tiny"
    for name in OBJECTIVE_NAMES:  # an objective without a profile yet is named, not left out in silence
        if name in results["skipped"]:
            assert f"{name}-llama2-7b-chat-t4.yaml does not exist" in results["skipped"][name]
    measured = {name.split()[0] for name in results["objectives"]}
    assert measured == set(OBJECTIVE_NAMES) - set(results["skipped"])
    assert {"c2-dpo", "recovery-sft", "derta"} <= measured
    assert_measured(results, results["objectives"])
    assert results["objectives"]["derta"]["lora_r"] == 96  # DeRTa's rank (Appendix A), not the recipe's 16


def test_backtrack_trains_its_sft_stage_then_its_dpo_stage_from_that_adapter(tmp_path, monkeypatch):
    """On a profile that sets the SFT stage's own steps (``sft_max_steps``), which the benchmark's steps replace."""
    bench = load_bench()
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    text = (bench.PROFILES / "llama2-7b-chat-t4.yaml").read_text() + "objective: backtrack\nsft_max_steps: 50\n"
    (profiles / "backtrack-llama2-7b-chat-t4.yaml").write_text(text)
    monkeypatch.setattr(bench, "PROFILES", profiles)
    out = tmp_path / "bench.json"
    assert bench.main(["--shape", "tiny", "--objective", "backtrack", "--steps", "1", "--warmup", "0",
                       "--max-length", str(MAX_LENGTH), "--skip-baseline", "--cache-dir", str(tmp_path / "cache"),
                       "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert list(results["objectives"]) == ["backtrack sft stage", "backtrack dpo stage"]  # sft_max_steps: the run's
    assert_measured(results, results["objectives"], profiles)
    assert (tmp_path / "cache" / "out-backtrack" / "sft-stage" / "adapter_config.json").is_file()


def test_one_plain_trl_baseline_per_trainer_in_the_same_process(results):
    baselines = results["baselines"]
    assert set(baselines) == {"trl-dpo-defaults", "trl-sft-defaults"}
    assert baselines["trl-dpo-defaults"]["trainer"] == "DPOTrainer"
    assert baselines["trl-sft-defaults"]["trainer"] == "SFTTrainer"
    assert all(run["rows_per_s"] > 0 and run["lora_r"] == 16 for run in baselines.values()), baselines


def test_an_objective_without_a_profile_for_the_shape_is_named_before_anything_is_built(tmp_path, capsys):
    # qwen2-7b has a c2-dpo T4 profile only.
    code = load_bench().main(["--shape", "qwen2-7b", "--objective", "derta", "--cache-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "derta: no T4 profile for the qwen2-7b shape" in err[0], err
    assert "derta-qwen2-7b-instruct-t4.yaml" in err[0] and list(tmp_path.iterdir()) == []
