"""Training in two processes on CPU (gloo), launched as docs/training.md says, with the tiny profile.

The launch is ``accelerate launch --config_file training/accelerate/ddp.yaml --num_processes 2 training/train.py``:
accelerate's multi-GPU launcher starts the processes, and without a GPU the recipe trains on the CPU, where the
processes form a gloo group. (``accelerate launch --cpu --num_processes 2`` starts the script once: the recipe
refuses that launch, tested below.)
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from c2kit.training.config import ConfigError, load_config
from c2kit.training.distributed import Processes, batch_report, check_launch, planned_steps, sharded_launch

pytest.importorskip("trl")

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "training" / "profiles" / "tiny-cpu.yaml"
DDP_CONFIG = ROOT / "training" / "accelerate" / "ddp.yaml"
# 40 pairs, 2 processes x 1 pair x 2 accumulation rounds = 4 pairs per optimizer step: 10 steps.
# Log lines at steps 1, 4 and 8; checkpoints at 5 and 10.
SETTINGS = ["--rank_pairs", "1-5,2-5,3-5,4-5", "--num_pairs", "40", "--num_eval_pairs", "16",
            "--per_device_train_batch_size", "1", "--gradient_accumulation_steps", "2", "--precision", "fp32",
            "--logging_steps", "4", "--save_steps", "5", "--save_total_limit", "2"]


def _launch(argv: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    environ = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", **env}
    return subprocess.run([sys.executable, "-m", "accelerate.commands.launch", *argv], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=600)


def test_two_processes_train_one_adapter_with_the_documented_batch_and_resume_exactly(tmp_path):
    from test_training_recipe import _sha256, _without_timing, c2syn_like_rows

    from c2kit.training.tiny_data import write_pairs_dir
    from c2kit.training.trainer import checkpoint_problem

    data = write_pairs_dir(tmp_path / "c2-syn", c2syn_like_rows())
    out = tmp_path / "run"

    def train(output_dir: Path) -> subprocess.CompletedProcess:
        done = _launch(["--config_file", str(DDP_CONFIG), "--num_processes", "2", str(ROOT / "training" / "train.py"),
                        "--config", str(PROFILE), "--dataset", str(data), "--output_dir", str(output_dir), *SETTINGS,
                        "--no-progress"], tmp_path)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    done = train(out)
    # Only the main process reports: each line once.
    assert done.stdout.count("4 pairs per optimizer step (2 processes x 1 per device x 2 accumulation); 10 steps") == 1
    assert done.stdout.count("held-out  after training") == 1
    assert done.stdout.count("pad token") == 1

    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["num_processes"], metrics["effective_batch_size"]) == (2, 4)
    assert (metrics["num_train_pairs"], metrics["global_step"]) == (40, 10)  # ceil(40 / 4)
    # It learns: the held-out chosen responses are clearly preferred after 10 steps (typical margin 1.0-1.3,
    # accuracy 1.0), and the training margin rises from 0.
    before, after = metrics["eval_before"], metrics["eval_after"]
    assert before["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert after["rewards/margins"] > 0.3 and after["rewards/accuracies"] >= 0.8
    assert after["loss"] < 0.8 * math.log(2)
    logs = _read_log(out)
    train_lines = [entry for entry in logs if "loss" in entry and "rewards/margins" in entry]
    assert [entry["step"] for entry in train_lines] == [1, 4, 8]  # one line per logging step: one writer
    assert train_lines[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert train_lines[-1]["rewards/margins"] > 0.3
    # One adapter, one set of run files; each process saved its own random state and sums into the checkpoints.
    assert len(list(out.rglob("adapter_model.safetensors"))) == 3  # the adapter, checkpoint-5's and -10's
    checkpoint = out / "checkpoint-5"
    assert sorted(path.name for path in checkpoint.glob("rng_state*.pth")) == ["rng_state_0.pth", "rng_state_1.pth"]
    assert sorted(path.name for path in checkpoint.glob("running_totals_*.json")) == [
        "running_totals_0.json", "running_totals_1.json"]
    assert checkpoint_problem(checkpoint) is None

    # Resumed from checkpoint-5 (between the log lines of steps 4 and 8), in 2 processes again: the same adapter,
    # bit for bit, and the same log. This also shows the gradients were averaged (DDP) in the first run, which
    # measured the held-out pairs before training and the resumed one did not: when the evaluation before
    # training kept accelerate from wrapping the model in DDP, each process trained alone and the two differed.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    for name in ("train_config.yaml", "train_data.json", "eval_before.json"):
        (resumed / name).write_bytes((out / name).read_bytes())
    shutil.copytree(checkpoint, resumed / "checkpoint-5")
    (resumed / "training_log.jsonl").write_text("".join(json.dumps(entry) + "\n" for entry in logs
                                                        if entry["step"] <= 5), encoding="utf-8")
    train(resumed)
    assert _sha256(resumed / "adapter_model.safetensors") == _sha256(out / "adapter_model.safetensors")
    assert _without_timing(_read_log(resumed)) == _without_timing(logs)


def _read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]


def test_accelerate_cpu_with_several_processes_is_refused_with_the_launch_that_works(tmp_path):
    done = _launch(["--cpu", "--num_processes", "2", str(ROOT / "training" / "train.py"), "--config", str(PROFILE),
                    "--output_dir", str(tmp_path / "run")], tmp_path)
    assert done.returncode != 0 and "returned non-zero exit status 2" in done.stderr  # accelerate reports the 2
    assert ("c2 train: error: accelerate launch --cpu --num_processes N started this script once: accelerate runs "
            "several CPU processes only through MPI. Use accelerate launch --config_file training/accelerate/ddp.yaml "
            "--num_processes N training/train.py") in done.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_check_launch_reads_what_each_launcher_sets():
    check_launch({})  # one process, no launcher
    check_launch({"ACCELERATE_USE_CPU": "True"})  # accelerate launch --cpu (one process)
    check_launch({"ACCELERATE_USE_CPU": "True", "MASTER_ADDR": "127.0.0.1", "PMI_SIZE": "2"})  # through MPI
    check_launch({"MASTER_ADDR": "127.0.0.1", "WORLD_SIZE": "2", "RANK": "1"})  # torchrun / multi-GPU launcher
    with pytest.raises(ConfigError, match="started this script once"):
        check_launch({"ACCELERATE_USE_CPU": "True", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"})


@pytest.mark.parametrize(("processes", "batch", "accumulation", "pairs", "steps"), [
    (1, 4, 1, 120, 30), (2, 4, 1, 120, 15), (2, 1, 2, 40, 10), (4, 4, 4, 1000, 16), (3, 2, 2, 100, 9)])
def test_planned_steps_are_the_pairs_over_the_effective_batch(processes, batch, accumulation, pairs, steps):
    config = load_config(PROFILE, {"per_device_train_batch_size": str(batch),
                                   "gradient_accumulation_steps": str(accumulation)})
    group = Processes(index=0, count=processes, local_index=0)
    assert planned_steps(config, pairs, group) == steps == math.ceil(pairs / (batch * accumulation * processes))
    assert batch_report(config, pairs, group).endswith(f"; {steps} steps")
    assert planned_steps(load_config(PROFILE, {"max_steps": "7"}), pairs, group) == 7


def test_sharded_launches_store_the_4bit_weights_as_floats():
    import torch

    from c2kit.training.model import quantization_config
    from c2kit.training.precision import resolve_precision

    assert sharded_launch({"ACCELERATE_USE_FSDP": "true"}) == "fsdp"
    assert sharded_launch({"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3"}) == "zero3"
    assert sharded_launch({"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"}) is None
    assert sharded_launch({}) is None
    bf16 = resolve_precision("bf16", cuda=True, bf16_supported=True)
    fp16 = resolve_precision("fp16", cuda=True, bf16_supported=False)
    assert quantization_config(bf16, sharded=True).bnb_4bit_quant_storage == torch.bfloat16
    assert quantization_config(fp16, sharded=True).bnb_4bit_quant_storage == torch.float32  # fp16 AMP: fp32
    assert quantization_config(bf16).bnb_4bit_quant_storage == torch.uint8  # DDP and one GPU: packed bytes
