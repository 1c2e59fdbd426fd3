"""QLoRA DPO end to end on CPU: `c2 train` with the tiny profile, trained once, then checked several ways.

The pairs (tests/training_helpers.py) are built from the shipped benchmark rows (interface 5 layout), C2-Syn
style: for each request, SR (a refusal), SYN_1..4 (the opener and the first 10/18/26/34 words of the harmful
response, then a trigger and a short correction) and FHR (the harmful response). Two simplifications make the
preference learnable by a random tiny model in 30 CPU steps: one fixed trigger instead of 15, and FHR keeps
the opener, so every SYN_i/FHR pair shares its text up to the cut (DPO cancels shared tokens, so this is
the same preference as a prefilled prompt whose two continuations are the trigger and more harmful text).
Training uses only the SYN_i-vs-FHR pairs (``rank_pairs``). C2-Eval runs on the first 10 benchmark items,
which the training rows (20..219) do not include.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from training_helpers import c2syn_like_rows, file_sha256, read_log, without_timing

from c2kit.judges.keyword import NAME as KEYWORD_JUDGE
from c2kit.training.config import ConfigError, TrainConfig, apply_overrides, load_config
from c2kit.training.tiny_data import write_pairs_dir

pytest.importorskip("trl")

PROFILE = Path(__file__).resolve().parent.parent / "training" / "profiles" / "tiny-cpu.yaml"
SYN_VS_FHR = "1-5,2-5,3-5,4-5"


@dataclass
class Run:
    out: Path
    data: Path
    metrics: dict

    def config(self, **overrides) -> TrainConfig:
        return load_config(self.out / "train_config.yaml", {k: str(v) for k, v in overrides.items()})


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    """`c2 train --config tiny-cpu.yaml ... --eval`: one training run and its C2-Eval before/after."""
    from c2kit.cli import main

    root = tmp_path_factory.mktemp("training")
    data = write_pairs_dir(root / "c2-syn", c2syn_like_rows())
    out = root / "run"
    argv = ["train", "--config", str(PROFILE), "--dataset", str(data), "--output_dir", str(out),
            "--rank_pairs", SYN_VS_FHR, "--precision", "fp32", "--c2eval_rejudge", "keyword-v2",
            "--save-total-limit", "3", "--eval", "--no-progress"]  # fp32 on a GPU too; keep checkpoint-10 and -20
    assert main(argv) == 0
    return Run(out, data, json.loads((out / "metrics.json").read_text()))


def test_output_dir_holds_adapter_tokenizer_config_and_logs(run):
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "train_config.yaml", "training_log.jsonl", "training_log.csv", "metrics.json"):
        assert (run.out / name).is_file(), name
    adapter = json.loads((run.out / "adapter_config.json").read_text())
    assert adapter["r"] == 16 and adapter["lora_alpha"] == 32
    layers = {name.rsplit(".", 1)[-1] for name in adapter["target_modules"]}
    assert layers == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}  # not lm_head
    assert Path(adapter["base_model_name_or_path"]) == (run.out / "base-model").resolve()
    # The resolved config is the profile plus the command-line overrides.
    expected = load_config(PROFILE, {"dataset": str(run.data), "output_dir": str(run.out),
                                     "rank_pairs": SYN_VS_FHR, "precision": "fp32", "c2eval": "true",
                                     "c2eval_rejudge": "keyword-v2", "save_total_limit": "3"})
    assert run.config() == expected
    logs = [json.loads(line) for line in (run.out / "training_log.jsonl").read_text().splitlines()]
    train_steps = [entry["step"] for entry in logs if "rewards/margins" in entry]
    assert train_steps == [1, 5, 10, 15, 20, 25, 30]  # logging_first_step, then every 5 of 30 steps
    assert "rewards/margins" in (run.out / "training_log.csv").read_text().splitlines()[0]


def test_held_out_reward_margin_rises_from_zero(run):
    metrics = run.metrics
    assert (metrics["num_train_pairs"], metrics["num_eval_pairs"], metrics["global_step"]) == (120, 40, 30)
    before, after = metrics["eval_before"], metrics["eval_after"]
    # Before training the adapter is zero (LoRA B = 0): policy == reference, margin 0, loss log 2.
    assert before["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert before["loss"] == pytest.approx(math.log(2), abs=1e-5)
    # After: the held-out chosen responses are clearly preferred (beta 0.01, so a margin of 1 = 100 nats). Typical:
    # margin 1.7-1.9, accuracy 1.0, loss 0.15-0.17 on AVX2, AVX-512 and generic kernels, 1 or 2 threads.
    assert after["rewards/margins"] > 0.3 and after["rewards/accuracies"] >= 0.8
    assert after["loss"] < 0.65 * before["loss"]
    assert metrics["precision"] == "fp32" and metrics["versions"]["trl"]


def test_adapter_course_corrects_more_than_its_base(run):
    scores = {side: json.loads((run.out / "eval" / side / "scores.json").read_text()) for side in ("base", "adapter")}
    for side in scores.values():
        assert (side["n_items"], side["paths"], side["judge"]) == (10, 4, KEYWORD_JUDGE)
        assert sorted(side["corr_at_k"]) == ["10", "20", "30"]
    # Typical: base 0.0, adapter 0.6-0.8 (keyword-v3, trigger-aware); the demonstration needs a wide margin.
    assert scores["adapter"]["corr_mean"] > scores["base"]["corr_mean"] + 0.2
    comparison = json.loads((run.out / "eval" / "compare" / "comparison.json").read_text())
    assert [entry["scores"]["corr_mean"] for entry in comparison["runs"]] == [
        scores["base"]["corr_mean"], scores["adapter"]["corr_mean"]]
    assert (run.out / "eval" / "compare" / "corr_at_k.png").is_file()
    # The judge fired on the phrase the adapter learned, not on chance text.
    generations = [json.loads(line) for line in (run.out / "eval" / "adapter" / "generations.jsonl").open()]
    assert sum("cannot help" in g["continuation"] or "cannot provide" in g["continuation"]
               for g in generations) >= 0.2 * len(generations)
    difference = comparison["runs"][1]["paired_vs_first"]
    assert difference["corr_mean_diff"] == pytest.approx(scores["adapter"]["corr_mean"] - scores["base"]["corr_mean"])
    low, high = difference["ci95"]
    assert low <= difference["corr_mean_diff"] <= high and low > 0 and difference["n_items"] == 10


def test_keyword_judged_comparison_warns_of_trigger_gaming_and_a_second_judge_rejudges(run):
    from c2kit.judges.caveats import KEYWORD_GAMING_CAVEAT

    comparison = json.loads((run.out / "eval" / "compare" / "comparison.json").read_text())
    assert comparison["caveats"] == [{"runs": [comparison["runs"][1]["label"]], "text": KEYWORD_GAMING_CAVEAT}]
    assert KEYWORD_GAMING_CAVEAT in (run.out / "eval" / "compare" / "comparison.md").read_text()
    # c2eval_rejudge: the same continuations, judged again, compared again; no new sampling.
    for side in ("base", "adapter"):
        rejudged = run.out / "eval" / f"{side}--keyword-v2"
        assert json.loads((rejudged / "scores.json").read_text())["judge"] == "keyword-v2"
        assert (rejudged / "generations.jsonl").read_text() == (run.out / "eval" / side / "generations.jsonl").read_text()
    second = json.loads((run.out / "eval" / "compare--keyword-v2" / "comparison.json").read_text())
    assert [entry["scores"]["judge"] for entry in second["runs"]] == ["keyword-v2", "keyword-v2"]


def test_a_config_naming_an_unknown_judge_fails_before_training(tmp_path):
    from c2kit.training.config import ConfigError

    with pytest.raises(ConfigError, match="c2eval_rejudge: unknown judge 'gpt4'"):
        load_config(PROFILE, {"output_dir": str(tmp_path), "c2eval_rejudge": "gpt4"})


def test_adapter_weights_were_trained_in_fp32(run):
    from safetensors import safe_open

    with safe_open(str(run.out / "adapter_model.safetensors"), "pt") as tensors:
        dtypes = {str(tensors.get_tensor(name).dtype) for name in tensors.keys()}  # noqa: SIM118 (safe_open is not a dict)
    assert dtypes == {"torch.float32"}  # TRL's bf16 cast was undone (precision fp32)


def test_rerun_reuses_a_finished_run_and_refuses_other_settings_or_pairs(run, tmp_path):
    from c2kit.training import run_training

    result = run_training(run.config(), progress=False)
    assert result.reused and result.metrics == run.metrics
    # Logging, checkpointing and evaluation settings do not change the trained weights.
    result = run_training(run.config(logging_steps=1, save_steps=3, per_device_eval_batch_size=2), progress=False)
    assert result.reused and result.metrics == run.metrics
    with pytest.raises(ConfigError,
                       match=r"different settings \(learning_rate: 0.005 -> 0.001\); use another --out or"):
        run_training(run.config(learning_rate="1e-3"), progress=False)
    other = write_pairs_dir(tmp_path / "other", [dict(row, chosen=row["chosen"] + " Sorry.")
                                                 for row in c2syn_like_rows()])
    with pytest.raises(ConfigError,
                       match=f"trained on other pairs: '{run.data}' .* -> '{other}' .*; use another --out or"):
        run_training(run.config(dataset=other), progress=False)


def test_an_unreadable_metrics_file_is_named(run, tmp_path):
    from c2kit.training import run_training
    from c2kit.training.config import save_config

    save_config(run.config(output_dir=tmp_path), tmp_path / "train_config.yaml")
    (tmp_path / "metrics.json").write_text('{"global_step": 3', encoding="utf-8")  # cut short
    with pytest.raises(ConfigError,
                       match=f"{tmp_path / 'metrics.json'}: cannot read this run file .*; use another --out or"):
        run_training(run.config(output_dir=tmp_path), progress=False)


def test_a_failed_start_does_not_block_the_next_run(run, tmp_path):
    from c2kit.training import run_training
    from c2kit.training.config import save_config
    from c2kit.training.data import DataError

    out = tmp_path / "run"
    with pytest.raises(DataError, match="missing: no such dataset folder"):
        run_training(run.config(output_dir=out, dataset=tmp_path / "missing"), progress=False)
    # What a start that failed before its first checkpoint (e.g. out of memory) leaves: its config and a log.
    out.mkdir(exist_ok=True)
    save_config(run.config(output_dir=out, learning_rate="1e-3"), out / "train_config.yaml")
    (out / "training_log.jsonl").write_text('{"step": 1, "loss": 9.0}\n', encoding="utf-8")
    config = run.config(output_dir=out, max_steps=1, num_eval_pairs=0, c2eval="false")
    result = run_training(config, progress=False)
    assert not result.reused and result.metrics["global_step"] == 1
    assert load_config(out / "train_config.yaml") == config
    logs = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert logs and {entry["step"] for entry in logs} == {1} and all(entry.get("loss") != 9.0 for entry in logs)


def test_interrupted_run_resumes_from_its_last_complete_checkpoint_to_the_same_weights(run, tmp_path, capsys):
    from c2kit.training import run_training

    # A moved copy of the run as it was when it was killed while saving checkpoint-20 (no trainer_state.json
    # yet): config, data fingerprint, eval_before, checkpoints and log, no final outputs. The log has steps
    # logged after checkpoint-10, and a last line cut short by the kill.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    for name in ("train_config.yaml", "train_data.json", "eval_before.json"):
        shutil.copy(run.out / name, resumed)
    for step in (10, 20):
        shutil.copytree(run.out / f"checkpoint-{step}", resumed / f"checkpoint-{step}")
    (resumed / "checkpoint-20" / "trainer_state.json").unlink()
    log = (run.out / "training_log.jsonl").read_text()
    (resumed / "training_log.jsonl").write_text(log + '{"step": 3', encoding="utf-8")
    moved_data = shutil.copytree(run.data, tmp_path / "moved-c2-syn")  # the same pairs in another directory
    result = run_training(run.config(output_dir=resumed, dataset=moved_data, c2eval="false"), progress=False)
    out = capsys.readouterr().out
    assert "checkpoint-20 is incomplete (missing trainer_state.json)" in out
    assert "moved it to incomplete-checkpoint-20; resuming from checkpoint-10" in out
    assert (resumed / "incomplete-checkpoint-20").is_dir() and (resumed / "checkpoint-30").is_dir()
    assert not result.reused and result.metrics["global_step"] == 30
    # Equal by design, not within a tolerance: same data order, restored optimizer and random states.
    assert file_sha256(resumed / "adapter_model.safetensors") == file_sha256(run.out / "adapter_model.safetensors")
    assert result.metrics["eval_after"] == run.metrics["eval_after"]
    assert result.metrics["eval_before"] == run.metrics["eval_before"]  # carried over from the interrupted run
    # The log holds each line once: the run's own up to checkpoint-10, then the resumed run's, which are the
    # uninterrupted run's lines again.
    original = [json.loads(line) for line in log.splitlines()]
    logs = [json.loads(line) for line in (resumed / "training_log.jsonl").read_text().splitlines()]
    assert logs[: sum(entry["step"] <= 10 for entry in original)] == [e for e in original if e["step"] <= 10]

    # The whole log, not only the weights: num_tokens goes on counting and the final train_loss averages all
    # 30 steps (before running_totals, the resumed run logged num_tokens from 0 and averaged steps 11-30 only).
    assert without_timing(logs) == without_timing(original)
    final = [entry for entry in logs if "train_loss" in entry]
    assert len(final) == 1 and final[0]["train_loss"] == pytest.approx(_mean_logged_loss(original))


def _mean_logged_loss(entries: list[dict]) -> float:
    """The mean training loss over all steps, from the logged windows (each the mean of its steps)."""
    windows = [(entry["step"], entry["loss"]) for entry in entries if "loss" in entry and "rewards/margins" in entry]
    total, previous = 0.0, 0
    for step, loss in windows:
        total, previous = total + loss * (step - previous), step
    return total / previous


def test_a_run_resumed_between_two_log_lines_logs_as_an_uninterrupted_one(run, tmp_path):
    from c2kit.training import run_training

    # Log lines at steps 1, 4 and 8, checkpoints at 3 and 6: resuming from checkpoint-6 must carry the loss and
    # DPO metrics of steps 5 and 6 into the line of step 8, as well as the token count and the loss sum.
    settings = {"max_steps": 8, "logging_steps": 4, "save_steps": 3, "save_total_limit": 2, "c2eval": "false",
                "eval_before_training": "false", "num_eval_pairs": 0}
    whole = tmp_path / "whole"
    run_training(run.config(output_dir=whole, **settings), progress=False)
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    for name in ("train_config.yaml", "train_data.json"):
        shutil.copy(whole / name, resumed)
    shutil.copytree(whole / "checkpoint-6", resumed / "checkpoint-6")
    assert (resumed / "checkpoint-6" / "running_totals_0.json").is_file()
    log = [json.loads(line) for line in (whole / "training_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log if "loss" in entry and "train_loss" not in entry] == [1, 4, 8]
    write_jsonl_lines(resumed / "training_log.jsonl", [entry for entry in log if entry["step"] <= 6])
    result = run_training(run.config(output_dir=resumed, **settings), progress=False)
    assert result.metrics["global_step"] == 8
    assert file_sha256(resumed / "adapter_model.safetensors") == file_sha256(whole / "adapter_model.safetensors")
    assert without_timing(read_log(resumed)) == without_timing(log)
    assert without_timing(_read_csv(resumed)) == without_timing(_read_csv(whole))


def write_jsonl_lines(path: Path, entries: list[dict]) -> None:
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries), encoding="utf-8")


def _read_csv(out: Path) -> list[dict]:
    import csv

    with open(out / "training_log.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_evaluating_before_training_does_not_change_the_trained_weights(run, tmp_path):
    from c2kit.training import run_training

    # The profile's learning rate is constant, so 10 steps without the evaluation before training must give
    # the fixture run's checkpoint-10 (trained after that evaluation) bit for bit.
    config = run.config()
    assert (config.lr_scheduler_type, config.warmup_ratio, config.eval_before_training) == ("constant", 0.0, True)
    result = run_training(run.config(output_dir=tmp_path / "no-eval-before", eval_before_training="false",
                                     max_steps=10, c2eval="false"), progress=False)
    assert "eval_before" not in result.metrics and result.metrics["global_step"] == 10
    assert (file_sha256(tmp_path / "no-eval-before" / "adapter_model.safetensors")
            == file_sha256(run.out / "checkpoint-10" / "adapter_model.safetensors"))


def test_incomplete_checkpoints_are_found(run, tmp_path):
    from c2kit.training.checksums import write_checksums
    from c2kit.training.trainer import CHECKPOINT_CHECKSUMMED, checkpoint_problem, find_checkpoints

    assert checkpoint_problem(run.out / "checkpoint-30") is None
    for step in (10, 20, 30):
        shutil.copytree(run.out / f"checkpoint-{step}", tmp_path / f"checkpoint-{step}")
    optimizer = tmp_path / "checkpoint-30" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[: optimizer.stat().st_size // 2])  # cut short
    weights = tmp_path / "checkpoint-20" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    checkpoint, incomplete = find_checkpoints(tmp_path)
    assert checkpoint == str(tmp_path / "checkpoint-10")
    assert [(path.name, problem.split(" (")[0]) for path, problem in incomplete] == [
        ("checkpoint-30", "optimizer.pt unreadable"), ("checkpoint-20", "adapter_model.safetensors unreadable")]
    assert find_checkpoints(tmp_path / "none") == (None, [])
    # A multi-process run saves one random state per process (rng_state_0.pth, ...): still complete.
    multi = tmp_path / "multi"
    shutil.copytree(run.out / "checkpoint-10", multi)
    (multi / "rng_state.pth").rename(multi / "rng_state_0.pth")
    assert checkpoint_problem(multi) is None
    (multi / "rng_state_0.pth").unlink()
    assert checkpoint_problem(multi) == "missing rng_state.pth"
    # FSDP (full state dict) names the optimizer's state optimizer.bin (and its checksum so).
    fsdp = tmp_path / "fsdp"
    shutil.copytree(run.out / "checkpoint-10", fsdp)
    (fsdp / "optimizer.pt").rename(fsdp / "optimizer.bin")
    assert checkpoint_problem(fsdp) == "missing optimizer.pt"  # checksums.json lists the file this run saved
    write_checksums(fsdp, CHECKPOINT_CHECKSUMMED)
    assert checkpoint_problem(fsdp) is None
    (fsdp / "optimizer.bin").unlink()
    assert checkpoint_problem(fsdp) == "missing optimizer.pt"
    # DeepSpeed keeps optimizer and scheduler in the folder its `latest` file names.
    deepspeed = tmp_path / "deepspeed"
    shutil.copytree(run.out / "checkpoint-10", deepspeed)
    (deepspeed / "optimizer.pt").unlink()
    (deepspeed / "scheduler.pt").unlink()
    write_checksums(deepspeed, CHECKPOINT_CHECKSUMMED)  # of the adapter only: the states are DeepSpeed's
    (deepspeed / "latest").write_text("global_step10")
    assert checkpoint_problem(deepspeed) == "missing global_step10/ (the DeepSpeed states its 'latest' file names)"
    (deepspeed / "global_step10").mkdir()
    (deepspeed / "global_step10" / "mp_rank_00_model_states.pt").write_bytes(b"states")
    assert checkpoint_problem(deepspeed) is None


def test_preserved_rng_state_restores_every_generator():
    import random

    import numpy as np
    import torch

    from c2kit.training.trainer import preserved_rng_state

    torch.manual_seed(1)
    expected = (random.getstate(), np.random.get_state()[1].tolist(), torch.random.get_rng_state())
    with preserved_rng_state():
        random.random(), np.random.rand(), torch.rand(3)
    assert random.getstate() == expected[0] and np.random.get_state()[1].tolist() == expected[1]
    assert torch.equal(torch.random.get_rng_state(), expected[2])


def test_4bit_cpu_kernels_are_pinned(tiny_model_dir, tmp_path):
    import bitsandbytes as bnb

    from c2kit.training.precision import resolve_precision

    model = _tiny_parts(tiny_model_dir, tmp_path, resolve_precision("fp32", cuda=False))[0]
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and not any(layer.support_avx512bf16_for_cpu for layer in layers)


def test_c2eval_4bit_loading_pins_the_cpu_kernels_too(tiny_model_dir):
    import bitsandbytes as bnb

    from c2kit.models import load_model_and_tokenizer

    model = load_model_and_tokenizer(tiny_model_dir, load_in_4bit=True).model
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and not any(layer.support_avx512bf16_for_cpu for layer in layers)


def _tiny_parts(tiny_model_dir, tmp_path, precision, **overrides):
    """The recipe's pieces for a DPOTrainer on the 4-bit session tiny model: model, tokenizer, args, config, pairs."""
    import datasets

    from c2kit.training.data import to_dpo_format
    from c2kit.training.model import load_base_model, load_tokenizer
    from c2kit.training.trainer import dpo_args

    config = apply_overrides(load_config(PROFILE), {"model_name_or_path": tiny_model_dir, "output_dir": str(tmp_path),
                                                    "max_steps": "1", "per_device_train_batch_size": "2",
                                                    **overrides})
    tokenizer = load_tokenizer(tiny_model_dir, config)
    rows = [{"prompt": f"How do I do {i}?", "chosen": "I cannot help.", "rejected": f"Sure, step {i}."}
            for i in range(4)]
    pairs = to_dpo_format(datasets.Dataset.from_list(rows), tokenizer)
    model = load_base_model(tiny_model_dir, config, precision)
    return model, tokenizer, dpo_args(config, precision, progress=False), config, pairs


def test_fp32_fix_undoes_trls_bf16_cast_of_quantized_lora_weights(tiny_model_dir, tmp_path):
    import torch
    from trl import DPOTrainer

    from c2kit.training.model import lora_config
    from c2kit.training.precision import cast_trainable_params_to_fp32, resolve_precision

    model, tokenizer, args, config, pairs = _tiny_parts(tiny_model_dir, tmp_path, resolve_precision("fp32", cuda=False))
    trainer = DPOTrainer(model=model, ref_model=None, args=args, train_dataset=pairs, processing_class=tokenizer,
                         peft_config=lora_config(config))
    trainable = {name: p for name, p in trainer.model.named_parameters() if p.requires_grad}
    frozen_before = {name: p.dtype for name, p in trainer.model.named_parameters() if not p.requires_grad}
    # The situation that breaks fp16 on a T4: TRL made the LoRA weights of the 4-bit model bf16.
    assert trainable and {p.dtype for p in trainable.values()} == {torch.bfloat16}
    assert all("lora_" in name for name in trainable)
    cast = cast_trainable_params_to_fp32(trainer.model)
    assert sorted(cast) == sorted(trainable)
    assert {p.dtype for p in trainable.values()} == {torch.float32}
    frozen_after = {name: p.dtype for name, p in trainer.model.named_parameters() if not p.requires_grad}
    assert frozen_after == frozen_before and torch.uint8 in frozen_after.values()  # 4-bit base untouched
    assert cast_trainable_params_to_fp32(trainer.model) == []  # idempotent
    trainer.train()  # the optimizer is built on the fp32 tensors
    assert {p.dtype for p in trainable.values()} == {torch.float32}


@pytest.mark.parametrize("bf16", [False, True])
def test_build_trainer_keeps_bf16_adapters_only_under_bf16(tiny_model_dir, tmp_path, bf16):
    import torch

    from c2kit.training.precision import resolve_precision
    from c2kit.training.trainer import build_trainer

    precision = resolve_precision("bf16" if bf16 else "fp32", cuda=False)
    model, tokenizer, args, config, pairs = _tiny_parts(tiny_model_dir, tmp_path, precision)
    trainer = build_trainer(model, tokenizer, args, config, pairs)
    dtypes = {p.dtype for p in trainer.model.parameters() if p.requires_grad}
    assert dtypes == {torch.bfloat16 if bf16 else torch.float32}


@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="fp16 autocast needs a CUDA GPU")
def test_fp16_qlora_dpo_trains_on_a_gpu(tiny_model_dir, tmp_path):
    """The T4 path: fp16 autocast + grad scaler, paged 8-bit AdamW, gradient checkpointing, 4-bit base."""
    import torch

    from c2kit.training.precision import resolve_precision
    from c2kit.training.trainer import build_trainer

    model, tokenizer, args, config, pairs = _tiny_parts(
        tiny_model_dir, tmp_path, resolve_precision("fp16"), optim="paged_adamw_8bit", gradient_checkpointing="true",
        max_steps="3", logging_steps="1")
    trainer = build_trainer(model, tokenizer, args, config, pairs)
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    assert args.fp16 and trainable and {p.dtype for p in trainable} == {torch.float32}  # the fix, on the GPU
    assert {p.device.type for p in trainable} == {"cuda"}
    assert torch.uint8 in {p.dtype for p in trainer.model.parameters()}  # the 4-bit base
    trainer.train()  # TRL's bf16 LoRA weights would fail at the first unscale of the fp16 gradient scaler
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert trainer.state.global_step == 3 and len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
