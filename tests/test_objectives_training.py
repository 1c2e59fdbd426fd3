"""recovery-sft and derta end to end on CPU: `c2 train --objective ...` on a C2-Syn-shaped build, 4-bit QLoRA.

Each objective is trained once (20 steps of 4 rows, the tiny profile's other settings) on the build of benchmark
rows 20..139 (tests/objective_helpers.py), and measured on benchmark rows 0..19, which no build holds:

* the log-probability of the refusal after a harmful prefix (C2-Syn's opener + cut 2, prefilled as C2-Eval
  prefills) rises for both objectives;
* derta's transition term raises the refusal's first token at every position inside the held-out harmful
  responses, far more than recovery-sft, whose rows train that transition at one cut at most.

derta runs with the paper's full fine-tuning share of transition positions (``transition_dropout 0.95``,
Appendix A): with every position kept (its LoRA setting) the transition term outweighs the refusal's own tokens
so much that 20 steps teach little beyond the first token. Typical figures (nats per token, AVX2 and AVX-512):
refusal -7.7 -> -3.3 (recovery-sft) and -3.7 (derta); first token inside the response -7.6 -> -6.9 (recovery-sft)
and -4.4 (derta).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from objective_helpers import held_out_requests, refusal_logprob, source_file, transition_logprob, write_build
from training_helpers import file_sha256, read_log, without_timing

pytest.importorskip("trl")

STEPS = {"num_pairs": 80, "num_eval_pairs": 10, "utility_ratio": 0.25}  # 20 steps of 4 rows


@dataclass
class Trained:
    out: Path
    stdout: str
    metrics: dict


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("objectives")
    return write_build(root / "c2-syn", source_file(root / "source.jsonl"))


@pytest.fixture(scope="module")
def trained(build, tiny_learner_dir, tmp_path_factory) -> dict[str, Trained]:
    root = tmp_path_factory.mktemp("runs")
    return {"recovery-sft": _train("recovery-sft", build, tiny_learner_dir, root / "recovery-sft"),
            "derta": _train("derta", build, tiny_learner_dir, root / "derta", transition_dropout=0.95, save_steps=10,
                            save_total_limit=2)}


def _train(objective: str, build: Path, model: str, out: Path, **extra) -> Trained:
    """``c2 train --config tiny-cpu --objective OBJECTIVE ...`` as a user types it; its output and metrics."""
    import contextlib
    import io

    from c2kit.cli import main

    settings = {**STEPS, **extra}
    argv = ["train", "--config", "tiny-cpu", "--objective", objective, "--data", str(build), "--out", str(out),
            "--model", model, "--no-progress", *[part for key, value in settings.items()
                                                 for part in (f"--{key}", str(value))]]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(argv) == 0
    return Trained(out, stdout.getvalue(), json.loads((out / "metrics.json").read_text()))


@pytest.fixture(scope="module")
def measured(trained, tiny_learner_dir) -> dict[str, tuple[float, float]]:
    """(refusal log-prob after a harmful prefix, first-token log-prob inside the harmful response) per model."""
    from c2kit.models import load_model_and_tokenizer

    held_out = held_out_requests()
    figures = {}
    for name, adapter in (("base", None), *((name, str(run.out)) for name, run in trained.items())):
        loaded = load_model_and_tokenizer(tiny_learner_dir, adapter=adapter, load_in_4bit=True)
        figures[name] = (refusal_logprob(loaded, held_out), transition_logprob(loaded, held_out))
    print(f"refusal after a harmful prefix, refusal's first token inside the harmful response: {figures}")
    return figures


@pytest.mark.parametrize("objective", ["recovery-sft", "derta"])
def test_the_objective_raises_the_refusal_after_a_harmful_prefix(measured, objective):
    # Typical: -7.7 -> -3.3 / -3.7 nats per token; a rise of 2 nats per token is a refusal 7x more likely, per token.
    assert measured[objective][0] > measured["base"][0] + 2.0


def test_dertas_transition_term_raises_the_refusal_at_positions_inside_the_harmful_response(measured):
    # Typical: -7.6 (base) -> -4.4 (derta); recovery-sft trains one transition per request at most: -6.9.
    base, recovery, derta = (measured[name][1] for name in ("base", "recovery-sft", "derta"))
    assert derta > base + 2.0 and derta > recovery + 1.5


def test_the_run_says_what_it_trained_on_and_the_held_out_loss_falls(trained, build):
    from c2kit.training.config import load_config

    for objective, run in trained.items():
        metrics = run.metrics
        assert metrics["objective"] == objective and (metrics["num_train_pairs"], metrics["global_step"]) == (80, 20)
        assert metrics["eval_after"]["loss"] < 0.7 * metrics["eval_before"]["loss"]
        assert load_config(run.out / "train_config.yaml").objective == objective
        assert (run.out / "adapter_model.safetensors").is_file() and (run.out / "checksums.json").is_file()
        lines = run.stdout.splitlines()
        assert any(line.startswith(f"{build} [ranked/train]: {objective} rows from ") for line in lines), run.stdout
        assert any(line.startswith("held-out before training: loss ") for line in lines)
        assert any(line.startswith("held-out  after training: loss ") for line in lines)
    derta_rows = next(line for line in trained["derta"].stdout.splitlines() if " derta rows from " in line)
    assert " mle, " in derta_rows and " rto" in derta_rows and " utility" in derta_rows


def test_derta_resumes_to_the_same_adapter_and_log(trained, tmp_path):
    from c2kit.training import run_training
    from c2kit.training.config import load_config

    # A copy of the run as it was when killed after checkpoint-10: its config, data fingerprint, numbers before
    # training, the checkpoint and the log up to it.
    run = trained["derta"].out
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    for name in ("train_config.yaml", "train_data.json", "eval_before.json"):
        shutil.copy(run / name, resumed)
    shutil.copytree(run / "checkpoint-10", resumed / "checkpoint-10")
    log = read_log(run)
    (resumed / "training_log.jsonl").write_text("".join(json.dumps(entry) + "\n" for entry in log
                                                        if entry["step"] <= 10), encoding="utf-8")
    result = run_training(load_config(run / "train_config.yaml", {"output_dir": str(resumed)}), progress=False)
    assert not result.reused and result.metrics["global_step"] == 20
    assert file_sha256(resumed / "adapter_model.safetensors") == file_sha256(run / "adapter_model.safetensors")
    assert without_timing(read_log(resumed)) == without_timing(log)
    assert result.metrics["eval_after"] == trained["derta"].metrics["eval_after"]


def test_a_finished_run_is_reused_and_another_objective_refused(trained):
    from c2kit.training import run_training
    from c2kit.training.config import ConfigError, load_config

    run = trained["recovery-sft"]
    config = load_config(run.out / "train_config.yaml")
    result = run_training(config, progress=False)
    assert result.reused and result.metrics == run.metrics
    with pytest.raises(ConfigError, match=r"different settings \(objective: 'recovery-sft' -> 'derta'"):
        run_training(load_config(run.out / "train_config.yaml", {"objective": "derta"}), progress=False)
