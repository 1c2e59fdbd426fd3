"""backtrack end to end on CPU: `c2 train --objective backtrack`, SFT (OUT/sft-stage) then DPO (OUT), 4-bit QLoRA.

Trained once on the build of benchmark rows 20..139 (tests/objective_helpers.py; its source adds 80 benign rows,
the utility rows), measured on held-out rows: benchmark rows 0..19 with C2-Syn's harmful prefix (opener + cut 2),
and benign requests 80..99 of benign_c2.jsonl prefilled with the first 12 words of their answer. Neither is in
the build or its source. P([RESET]) is the probability of the reset token right after the prefix.

The DPO stage runs with beta 0.1 and a learning rate of 1e-3 (the tiny profile's beta 0.01 and 5e-3 move a
random one-layer model so far that the reset's probability goes to 0 or 1 everywhere), and with 0.3 utility rows
per request. Typical figures (nats): P([RESET] | harmful prefix) -7.8 (base) -> -4.0 (SFT stage) -> -2.3 (after
DPO); P([RESET] | benign prefix) -7.8 -> -5.8 -> -7.7.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from objective_helpers import (benign_held_out, harmful_contexts, held_out_requests, reset_logprob, source_file,
                               write_build)
from training_helpers import file_sha256, read_log, without_timing

pytest.importorskip("trl")

SETTINGS = {"num_pairs": 80, "num_eval_pairs": 10, "utility_ratio": 0.3, "sft_max_steps": 20, "max_steps": 10,
            "sft_learning_rate": 5e-3, "learning_rate": 1e-3, "beta": 0.1, "save_steps": 5, "save_total_limit": 2}


@dataclass
class Trained:
    out: Path
    stdout: str
    metrics: dict


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("backtrack")
    return write_build(root / "c2-syn", source_file(root / "source.jsonl", benign=80, answer_words=60))


@pytest.fixture(scope="module")
def trained(build, tiny_learner_dir, tmp_path_factory) -> Trained:
    """``c2 train --config tiny-cpu --objective backtrack ...`` as a user types it."""
    import contextlib
    import io

    from c2kit.cli import main

    out = tmp_path_factory.mktemp("runs") / "backtrack"
    argv = ["train", "--config", "tiny-cpu", "--objective", "backtrack", "--data", str(build), "--out", str(out),
            "--model", tiny_learner_dir, "--no-progress",
            *[part for key, value in SETTINGS.items() for part in (f"--{key}", str(value))]]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(argv) == 0
    return Trained(out, stdout.getvalue(), json.loads((out / "metrics.json").read_text()))


@pytest.fixture(scope="module")
def measured(trained, tiny_learner_dir) -> dict[str, tuple[float, float]]:
    """(log P([RESET]) after a harmful prefix, after a benign prefix) for the base, the SFT stage and the run."""
    import torch

    from c2kit.models import fit_embeddings, load_model_and_tokenizer
    from c2kit.training.objectives.backtrack import add_reset_token

    harmful, benign = harmful_contexts(held_out_requests()), benign_held_out()
    figures = {}
    torch.manual_seed(0)
    base = load_model_and_tokenizer(tiny_learner_dir, load_in_4bit=True)
    add_reset_token(base.tokenizer)  # the base with the token's row as training starts it
    fit_embeddings(base.model, base.tokenizer)
    figures["base"] = (reset_logprob(base, harmful), reset_logprob(base, benign))
    for name, adapter in (("sft-stage", trained.out / "sft-stage"), ("backtrack", trained.out)):
        loaded = load_model_and_tokenizer(tiny_learner_dir, adapter=str(adapter), load_in_4bit=True)
        figures[name] = (reset_logprob(loaded, harmful), reset_logprob(loaded, benign))
    print(f"log P([RESET]) after a harmful prefix, after a benign prefix: {figures}")
    return figures


def test_backtracking_raises_the_reset_after_a_harmful_prefix(measured):
    # Typical: -7.8 (base) -> -4.0 (SFT) -> -2.3 nats: the reset about 200 times as likely.
    assert measured["sft-stage"][0] > measured["base"][0] + 2.0
    assert measured["backtrack"][0] > measured["base"][0] + 3.0
    assert measured["backtrack"][0] > measured["backtrack"][1] + 3.0  # and far more than after a benign prefix


def test_the_reset_stays_unlikely_after_a_benign_prefix(measured):
    # Typical: P 0.0004 (base), 0.003 (SFT stage: bound 2%), 0.0005 (after DPO: bound 1%).
    assert math.exp(measured["base"][1]) < 0.01 and math.exp(measured["sft-stage"][1]) < 0.02
    assert math.exp(measured["backtrack"][1]) < 0.01


def test_each_stage_is_a_run_of_its_own_and_dpo_starts_from_the_sft_model(trained, build):
    from c2kit.training.config import load_config

    sft = json.loads((trained.out / "sft-stage" / "metrics.json").read_text())
    assert (sft["objective"], sft["global_step"], trained.metrics["objective"]) == ("backtrack", 20, "backtrack")
    assert trained.metrics["global_step"] == 10
    assert sft["eval_after"]["loss"] < 0.7 * sft["eval_before"]["loss"]
    # The reference is the SFT model: before DPO trains, policy and reference agree on every held-out pair (a
    # reference without the SFT stage's [RESET] rows would be nats away on the chosen side).
    before, after = trained.metrics["eval_before"], trained.metrics["eval_after"]
    assert abs(before["rewards/chosen"]) < 1e-3 and abs(before["rewards/margins"]) < 1e-3
    assert after["rewards/margins"] > 0.5 and after["rewards/accuracies"] >= 0.75
    assert load_config(trained.out / "sft-stage" / "train_config.yaml").learning_rate == 5e-3
    for folder in (trained.out, trained.out / "sft-stage"):
        assert (folder / "adapter_model.safetensors").is_file() and (folder / "checksums.json").is_file()
        assert "[RESET]" in json.loads((folder / "tokenizer.json").read_text())["added_tokens"][-1]["content"]
    lines = trained.stdout.splitlines()
    assert f"backtrack: first stage, in {trained.out / 'sft-stage'}" in lines
    assert any(line.startswith("backtrack: first stage, held-out after training: loss ") for line in lines)
    assert any(line.startswith(f"{build} [ranked/train]: backtrack rows from ") and " DPO pairs: " in line
               for line in lines)
    assert any(line.startswith("held-out  after training: reward margin ") for line in lines)


def _partial_copy(run: Path, to: Path, *, sft_checkpoint: str | None, dpo_checkpoint: str | None) -> None:
    """``to`` as ``run`` was when killed after ``sft_checkpoint`` (no DPO stage yet) or after ``dpo_checkpoint``
    (the SFT stage finished): the run files, the checkpoint and the log up to it."""
    def stage(source: Path, target: Path, checkpoint: str | None) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("train_config.yaml", "train_data.json", "eval_before.json"):
            shutil.copy(source / name, target)
        shutil.copytree(source / checkpoint, target / checkpoint)
        step = int(checkpoint.split("-")[1])
        (target / "training_log.jsonl").write_text("".join(json.dumps(entry) + "\n" for entry in read_log(source)
                                                           if entry["step"] <= step), encoding="utf-8")

    if sft_checkpoint:
        stage(run / "sft-stage", to / "sft-stage", sft_checkpoint)
    else:
        shutil.copytree(run / "sft-stage", to / "sft-stage")
        stage(run, to, dpo_checkpoint)


@pytest.mark.parametrize("killed_in", ["sft", "dpo"])
def test_a_kill_in_either_stage_resumes_to_the_same_adapters_and_logs(trained, tmp_path, killed_in):
    from c2kit.training import run_training
    from c2kit.training.config import load_config

    resumed = tmp_path / "resumed"
    _partial_copy(trained.out, resumed, sft_checkpoint="checkpoint-15" if killed_in == "sft" else None,
                  dpo_checkpoint="checkpoint-5" if killed_in == "dpo" else None)
    result = run_training(load_config(trained.out / "train_config.yaml", {"output_dir": str(resumed)}),
                          progress=False)
    assert not result.reused and result.metrics["global_step"] == 10
    for stage in (Path("sft-stage"), Path(".")):
        assert (file_sha256(resumed / stage / "adapter_model.safetensors")
                == file_sha256(trained.out / stage / "adapter_model.safetensors"))
        assert without_timing(read_log(resumed / stage)) == without_timing(read_log(trained.out / stage))
    assert result.metrics["eval_after"] == trained.metrics["eval_after"]


def test_a_finished_run_is_reused(trained, capsys):
    from c2kit.training import run_training
    from c2kit.training.config import load_config

    result = run_training(load_config(trained.out / "train_config.yaml"), progress=False)
    assert result.reused and result.metrics == trained.metrics
    out = capsys.readouterr().out
    assert out.count("already trained with this config; reusing it") == 2  # the SFT stage, then the DPO stage


def test_another_run_writing_the_sft_stage_folder_is_waited_for_not_written_over(trained, tmp_path, capsys):
    """The SFT stage's folder is locked like any run's: while another run (``c2 train --out OUT/sft-stage``) writes
    there, the backtrack run is refused in one line and the folder is left as it was."""
    from c2kit.cli import main
    from lock_holders import holding_output_lock

    out = tmp_path / "copy"
    shutil.copytree(trained.out, out)
    stage = out / "sft-stage"
    before = sorted(path.name for path in stage.iterdir())
    argv = ["train", "--config", str(out / "train_config.yaml"), "--out", str(out), "--no-progress"]
    with holding_output_lock(stage, "c2 train", shared=False) as holder:
        assert main(argv) == 2
    error = capsys.readouterr().err
    assert error == (f"c2 train: error: {stage}: the training run directory is in use by another run (pid "
                     f"{holder.pid}: c2 train); wait for it to finish or choose another --out\n")
    assert sorted(path.name for path in stage.iterdir()) == before


@pytest.mark.parametrize("tied", [True, False])
def test_an_adapter_with_the_reset_row_loads_back_to_the_same_logits(tiny_model_dir, tmp_path, tied):
    """The token's rows, trained by PEFT (trainable tokens, and the untied LM head's row as Llama-2 has it), are
    saved with the adapter and the tokenizer, without the base's whole matrices; ``c2 eval run --adapter``'s loader
    grows the base and gives the same logits as the model that was trained."""
    import dataclasses

    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from c2kit.models import load_model_and_tokenizer
    from c2kit.training.config import load_config
    from c2kit.training.model import lora_config
    from c2kit.training.objectives.backtrack import prepare_reset_rows

    base_dir = tmp_path / "base"
    AutoModelForCausalLM.from_pretrained(tiny_model_dir, tie_word_embeddings=tied).save_pretrained(base_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.save_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    indices = prepare_reset_rows(model, tokenizer)
    assert len(indices) == (1 if tied else 2)  # an untied head gets its own trainable row
    peft_model = get_peft_model(model, dataclasses.replace(lora_config(load_config("tiny-cpu")),
                                                           trainable_token_indices=indices))
    with torch.no_grad():  # as training leaves them: the token's rows and the LoRA weights moved
        for name, parameter in peft_model.named_parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter) * 0.5)
    reset = tokenizer.convert_tokens_to_ids("[RESET]")
    ids = tokenizer("Sure, here is how[RESET]I cannot help with that.")["input_ids"]
    assert reset in ids and tokenizer.decode(ids, skip_special_tokens=True).count("[RESET]") == 1
    peft_model.eval()
    with torch.no_grad():
        trained_logits = peft_model(torch.tensor([ids])).logits[0]
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter, save_embedding_layers=False)
    tokenizer.save_pretrained(adapter)
    weights = (adapter / "adapter_model.safetensors").stat().st_size
    assert weights < 0.2 * (base_dir / "model.safetensors").stat().st_size  # the token's rows, not whole matrices

    loaded = load_model_and_tokenizer(str(base_dir), adapter=str(adapter))
    assert loaded.tokenizer.convert_tokens_to_ids("[RESET]") == reset
    with torch.no_grad():
        logits = loaded.model(torch.tensor([ids])).logits[0]
    assert torch.allclose(logits, trained_logits, atol=1e-5)
    assert logits[:, reset].std() > 0.1  # the token's trained row, not an untrained one, is in use
