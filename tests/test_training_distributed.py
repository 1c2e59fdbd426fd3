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
SETTINGS = ["--rank_pairs", "1-5,2-5,3-5,4-5", "--num_pairs", "40", "--num_eval_pairs", "16",
            "--per_device_train_batch_size", "1", "--gradient_accumulation_steps", "2", "--precision", "fp32"]


def _launch(argv: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    environ = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", **env}
    return subprocess.run([sys.executable, "-m", "accelerate.commands.launch", *argv], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=600)


def test_two_processes_train_one_adapter_with_the_documented_batch(tmp_path):
    from test_training_recipe import c2syn_like_rows

    from c2kit.training.tiny_data import write_pairs_dir
    from c2kit.training.trainer import checkpoint_problem

    data = write_pairs_dir(tmp_path / "c2-syn", c2syn_like_rows())
    out = tmp_path / "run"
    done = _launch(["--config_file", str(DDP_CONFIG), "--num_processes", "2", str(ROOT / "training" / "train.py"),
                    "--config", str(PROFILE), "--dataset", str(data), "--output_dir", str(out), *SETTINGS,
                    "--no-progress"], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
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
    logs = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    train = [entry for entry in logs if "rewards/margins" in entry]
    assert [entry["step"] for entry in train] == [1, 5, 10]  # one line per logging step: one writer
    assert train[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6) and train[-1]["rewards/margins"] > 0.3
    assert train[-1]["epoch"] == pytest.approx(1.0)
    # One adapter, one set of run files; each process saved its own random state into the checkpoint.
    assert len(list(out.rglob("adapter_model.safetensors"))) == 2  # the adapter and checkpoint-10's
    checkpoint = out / "checkpoint-10"
    assert sorted(path.name for path in checkpoint.glob("rng_state*.pth")) == ["rng_state_0.pth", "rng_state_1.pth"]
    assert sorted(path.name for path in checkpoint.glob("running_totals_*.json")) == [
        "running_totals_0.json", "running_totals_1.json"]
    assert checkpoint_problem(checkpoint) is None


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
