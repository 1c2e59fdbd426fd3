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
from c2kit.training.distributed import (Processes, batch_report, check_launch, partitioned_launch, planned_steps,
                                        settings_for_launch, sharded_launch)
from c2kit.training.precision import Precision

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
    from training_helpers import c2syn_like_rows, file_sha256, read_log, without_timing

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
    logs = read_log(out)
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
    assert file_sha256(resumed / "adapter_model.safetensors") == file_sha256(out / "adapter_model.safetensors")
    assert without_timing(read_log(resumed)) == without_timing(logs)


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
    fp32 = resolve_precision("fp32", cuda=True, bf16_supported=True)
    assert quantization_config(bf16, sharded=True).bnb_4bit_quant_storage == torch.bfloat16
    assert quantization_config(fp32, sharded=True).bnb_4bit_quant_storage == torch.float32
    assert quantization_config(bf16).bnb_4bit_quant_storage == torch.uint8  # DDP and one GPU: packed bytes


# What accelerate launch sets in each process for the configs in training/accelerate/.
FSDP = {"ACCELERATE_USE_FSDP": "true"}
ZERO2 = {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"}
ZERO3 = {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3"}
PROFILE_24GB = ROOT / "training" / "profiles" / "llama2-7b-chat-24gb.yaml"  # paged_adamw_8bit, bf16
PROFILE_T4 = ROOT / "training" / "profiles" / "llama2-7b-chat-t4.yaml"  # paged_adamw_8bit, fp16
BF16_GPU = Precision("bf16", use_cpu=False)
FP16_GPU = Precision("fp16", use_cpu=False)


def test_partitioned_launches_are_read_from_accelerate_environment():
    assert [partitioned_launch(env) for env in (FSDP, ZERO2, ZERO3, {})] == ["fsdp", "zero2", "zero3", None]
    assert partitioned_launch({"ACCELERATE_USE_DEEPSPEED": "true"}) == "zero"  # stage set by a DeepSpeed JSON


@pytest.mark.parametrize(("environ", "line"), [
    (FSDP, "FSDP: optim paged_adamw_8bit -> adamw_torch (FSDP cannot gather 8-bit optimizer states into a "
           "checkpoint; the adapter's fp32 states are small)"),
    (ZERO2, "DeepSpeed ZeRO-2: optim paged_adamw_8bit -> adamw_torch (ZeRO is tested only with torch's and "
            "DeepSpeed's own optimizers; the adapter's fp32 states are small)"),
    (ZERO3, "DeepSpeed ZeRO-3: optim paged_adamw_8bit -> adamw_torch (ZeRO is tested only with torch's and "
            "DeepSpeed's own optimizers; the adapter's fp32 states are small)"),
])
def test_fsdp_and_deepspeed_launches_train_the_profile_with_a_torch_optimizer(environ, line):
    profile = load_config(PROFILE_24GB)
    config, changes = settings_for_launch(profile, BF16_GPU, environ)
    assert (profile.optim, config.optim, changes) == ("paged_adamw_8bit", "adamw_torch", [line])
    assert {**config.to_dict(), "optim": profile.optim} == profile.to_dict()  # nothing else changed


def test_ddp_and_torch_optimizers_are_left_as_they_are():
    profile = load_config(PROFILE_24GB)
    assert settings_for_launch(profile, BF16_GPU, {}) == (profile, [])  # one process or DDP
    assert settings_for_launch(profile, BF16_GPU, {"WORLD_SIZE": "4", "RANK": "0"}) == (profile, [])  # torchrun
    torch_adam = load_config(PROFILE_24GB, {"optim": "adamw_torch_fused"})
    assert settings_for_launch(torch_adam, BF16_GPU, FSDP) == (torch_adam, [])


@pytest.mark.parametrize(("environ", "name"), [(FSDP, "FSDP"), (ZERO3, "DeepSpeed ZeRO-3")])
def test_fp16_is_refused_where_the_4bit_weights_are_sharded_naming_the_precision_to_use(environ, name):
    with pytest.raises(ConfigError) as refused:
        settings_for_launch(load_config(PROFILE_T4), FP16_GPU, environ)
    assert str(refused.value) == (
        f"precision fp16 does not work under {name}: it shards the 4-bit weights stored as floats, which fp16 "
        "mixed precision would cast to fp16; use --precision bf16 on a GPU that has bf16 (or --precision fp32), "
        "or launch with training/accelerate/ddp.yaml")
    with pytest.raises(ConfigError, match=r"^precision auto is fp16 on this GPU \(it has no bf16\) does not work"):
        settings_for_launch(load_config(PROFILE_T4, {"precision": "auto"}), FP16_GPU, environ)
    # bf16 and fp32 shard as they are; ZeRO-2 keeps the packed bytes and takes fp16 too.
    for precision in (BF16_GPU, Precision("fp32", use_cpu=False)):
        assert settings_for_launch(load_config(PROFILE_24GB), precision, environ)[0].optim == "adamw_torch"
    assert settings_for_launch(load_config(PROFILE_T4), FP16_GPU, ZERO2)[0].optim == "adamw_torch"


def test_run_training_refuses_fp16_under_fsdp_before_any_work(tmp_path, monkeypatch):
    from c2kit.training import trainer

    monkeypatch.setattr(trainer, "resolve_precision", lambda requested: FP16_GPU)  # a T4, without needing one
    for name, value in FSDP.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="^precision fp16 does not work under FSDP"):
        trainer.run_training(load_config(PROFILE, {"output_dir": str(out), "precision": "fp16"}))
    assert not out.exists()


def test_run_training_passes_the_launch_settings_to_the_trainer(tmp_path, monkeypatch):
    from c2kit.training import trainer

    seen = []

    def dpo_args(config, precision, progress=True):  # stop once the Trainer's settings are decided
        seen.append(config.optim)
        raise RuntimeError("stop")

    monkeypatch.setattr(trainer, "resolve_precision", lambda requested: BF16_GPU)
    monkeypatch.setattr(trainer, "dpo_args", dpo_args)
    for name, value in ZERO3.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match="stop"):
        trainer.run_training(load_config(PROFILE, {"output_dir": str(tmp_path / "run"), "optim": "paged_adamw_8bit"}))
    assert seen == ["adamw_torch"]
