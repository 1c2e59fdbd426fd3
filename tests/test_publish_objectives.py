"""The adapter's model card (``c2 publish adapter``) says how the adapter was trained, for every objective of
``c2 train``: the objective, its paper, the data config, the loss, the batch in the objective's unit (DPO pairs,
SFT rows), what using it needs, and the keyword judge's caveat that fits it.

Each adapter folder is laid out as ``c2 train`` leaves it (a tiny LoRA adapter, its tokenizer, the objective's T4
profile saved as ``train_config.yaml``, ``metrics.json``); the card is rendered by a dry run of the command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from c2kit.cli import main
from c2kit.training.config import load_config, save_config
from c2kit.training.objectives import DEFAULT_OBJECTIVE, OBJECTIVE_NAMES

PROFILES = Path(__file__).resolve().parents[1] / "training" / "profiles"
SFT_HELD_OUT = {"eval_before": {"loss": 2.5, "mean_token_accuracy": 0.25},
                "eval_after": {"loss": 1.25, "mean_token_accuracy": 0.5}}
DPO_HELD_OUT = {"eval_before": {"loss": 0.6931, "rewards/margins": 0.0, "rewards/accuracies": 0.5},
                "eval_after": {"loss": 0.4, "rewards/margins": 1.25, "rewards/accuracies": 0.875}}
# What each card must say, written out here (not read from the code under test).
EXPECTED = {
    "c2-dpo": {
        "paper": ("Course-Correction: Safety Alignment Using Synthetic Preferences",
                  "https://arxiv.org/abs/2407.16637"),
        "citation": "@inproceedings{xu-etal-2024-course",
        "lines": ["- data config: `pairs`, split `train`", "- batch: 16 pairs per optimizer step",
                  "DPO metrics on held-out pairs", "| rewards/margins | 0.0000 | 1.2500 |", "DPOTrainer", "| `beta` |"],
        "caveat": "trigger phrases",
        "tag": "dpo",
    },
    "recovery-sft": {
        "paper": ("Safety Alignment Should Be Made More Than Just a Few Tokens Deep",
                  "https://arxiv.org/abs/2406.05946"),
        "citation": "@inproceedings{qi2025safety",
        "lines": ["- data config: the recovery-sft rows `c2 train` made from the build's `ranked` config, split "
                  "`train`",
                  "- batch: 80 rows per optimizer step", "SFT metrics on held-out rows",
                  "| mean_token_accuracy | 0.2500 | 0.5000 |", "completion-only loss", "| `utility_ratio` | 4.0 |"],
        "caveat": "The keyword judge reads refusal phrases",
        "tag": "sft",
    },
    "derta": {
        "paper": ("Refuse Whenever You Feel Unsafe", "https://arxiv.org/abs/2407.09121"),
        "citation": "@inproceedings{yuan2025refuse",
        "lines": ["- data config: the derta rows `c2 train` made from the build's `ranked` config, split `train`",
                  "- batch: 128 rows per optimizer step", "SFT metrics on held-out rows",
                  "Reinforced Transition Optimization", "| `transition_dropout` | 0.0 |", "| `lora_r` | 96 |"],
        "caveat": "The keyword judge reads refusal phrases",
        "tag": "sft",
    },
    "backtrack": {
        "paper": ("Backtracking Improves Generation Safety", "https://arxiv.org/abs/2409.14586"),
        "citation": "@inproceedings{zhang2025backtracking",
        "lines": ["a `[RESET]` token is added", "is discarded: show the user only the text after the last `[RESET]`",
                  "load it with the tokenizer", "except under `HF_HUB_OFFLINE=1`",
                  "reference model is the SFT stage's model",
                  "- batch: 16 rows (SFT stage) or pairs (DPO stage) per optimizer step", "| `beta` | 0.1 |",
                  "| `sft_learning_rate` | 0.0001 |", "| `utility_ratio` | 1.0 |",
                  "- data config: the backtrack rows and pairs `c2 train` made from the build's `ranked` config",
                  "DPO-stage metrics on held-out pairs", "| rewards/margins | 0.0000 | 1.2500 |"],
        "caveat": "The keyword judge reads `[RESET]` as a correction",
        "tag": "sft",
    },
}
# DPO wording an SFT objective's card must not carry.
DPO_ONLY = ("pairs per optimizer step", "held-out pairs", "reward margin", "rewards/", "DPO", "| `beta` |",
            "| `loss_type` |", "| `dataset_config` |", "C2-Syn preference pairs")


def profile_of(objective: str) -> Path:
    """The objective's T4 profile (c2-dpo's carries no objective prefix)."""
    return PROFILES / ("llama2-7b-chat-t4.yaml" if objective == DEFAULT_OBJECTIVE
                       else f"{objective}-llama2-7b-chat-t4.yaml")


@pytest.fixture(scope="module")
def adapter_files(tiny_model_dir, tmp_path_factory) -> Path:
    """A tiny LoRA adapter and its tokenizer, saved once."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("adapter")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"], task_type="CAUSAL_LM")
                   ).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


def trained_dir(adapter_files: Path, out: Path, trained: str, *, with_config: bool = True, **metrics) -> Path:
    """``out`` laid out as ``c2 train --config <TRAINED's T4 profile>`` leaves it (``metrics``: what metrics.json
    records differently)."""
    objective = trained
    shutil.copytree(adapter_files, out)
    held_out = DPO_HELD_OUT if objective in (DEFAULT_OBJECTIVE, "backtrack") else SFT_HELD_OUT  # the last stage's
    recorded = {"objective": objective, "data": f"org/c2-syn: {objective} data", **held_out}
    if with_config:
        config = load_config(profile_of(objective), {"dataset": "org/c2-syn", "output_dir": str(out)})
        save_config(config, out / "train_config.yaml")
        recorded["effective_batch_size"] = config.per_device_train_batch_size * config.gradient_accumulation_steps
    (out / "metrics.json").write_text(json.dumps({**recorded, **metrics}), encoding="utf-8")
    return out


def card_of(capsys, folder: Path, preview: Path) -> str:
    code = main(["publish", "adapter", str(folder), "--repo-id", "org/tiny-lora", "--base-model", "org/tiny-chat",
                 "--dry-run", "--preview-dir", str(preview)])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    return (preview / "README.md").read_text(encoding="utf-8")


def assert_card_describes(card: str, objective: str, *, lines: list[str] | None = None) -> None:
    expected = EXPECTED[objective]
    title, url = expected["paper"]
    assert f"Objective\n`{objective}`:" in card and f"- objective: `{objective}` (" in card
    assert title in card and f"[paper]({url})" in card
    assert expected["citation"] in card and "@inproceedings{xu-etal-2024-course" in card  # C2-Syn: data and metric
    assert expected["caveat"] in card and "c2 eval calibrate" in card
    assert f"- {expected['tag']}\n" in card.split("---")[1]  # the card's tags
    for line in expected["lines"] if lines is None else lines:
        assert line in card, (objective, line)


def test_every_objective_of_c2_train_has_its_card():
    from c2kit.publish.objective_cards import OBJECTIVE_CARDS

    assert set(OBJECTIVE_NAMES) <= set(OBJECTIVE_CARDS) <= set(EXPECTED)


@pytest.mark.parametrize("objective", OBJECTIVE_NAMES)
def test_the_card_names_the_objective_its_paper_data_loss_and_unit(capsys, tmp_path, adapter_files, objective):
    card = card_of(capsys, trained_dir(adapter_files, tmp_path / "run", objective), tmp_path / "preview")
    assert_card_describes(card, objective)
    if EXPECTED[objective]["tag"] == "sft" and objective != "backtrack":  # SFT alone: rows, never pairs
        assert [phrase for phrase in DPO_ONLY if phrase in card] == [], objective
        assert "trigger phrases" not in card  # C2-Syn's caveat is c2-dpo's
    if objective != "backtrack":
        assert "| `sft_" not in card  # backtrack's SFT-stage keys


def test_backtrack_card_from_metrics_alone(capsys, tmp_path, adapter_files):
    """An adapter folder without its training config is described by the objective metrics.json records."""
    folder = trained_dir(adapter_files, tmp_path / "run", "backtrack", with_config=False)
    card = card_of(capsys, folder, tmp_path / "preview")
    described = [line for line in EXPECTED["backtrack"]["lines"]  # what needs no batch size or training config
                 if not line.startswith(("- batch", "- data config", "| `"))]
    assert_card_describes(card, "backtrack", lines=described)
    assert "No training configuration was found next to the adapter." in card


def test_an_adapter_without_an_objective_on_record_is_c2_dpo(capsys, tmp_path, adapter_files):
    """Runs from before c2 train had objectives record none: they trained C2-Syn DPO."""
    folder = trained_dir(adapter_files, tmp_path / "run", DEFAULT_OBJECTIVE, with_config=False)
    metrics = json.loads((folder / "metrics.json").read_text())
    del metrics["objective"]
    (folder / "metrics.json").write_text(json.dumps(metrics))
    card = card_of(capsys, folder, tmp_path / "preview")
    assert "Objective\n`c2-dpo`:" in card and "DPO metrics on held-out pairs" in card


def test_records_that_disagree_on_the_objective_are_refused_in_one_line(capsys, tmp_path, adapter_files):
    folder = trained_dir(adapter_files, tmp_path / "run", "recovery-sft", objective="derta")
    code = main(["publish", "adapter", str(folder), "--repo-id", "org/x", "--base-model", "org/tiny-chat",
                 "--dry-run", "--preview-dir", str(tmp_path / "preview")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert (f"{folder / 'metrics.json'}: objective 'derta', but {folder / 'train_config.yaml'} trains "
            "'recovery-sft'") in lines[0]
    assert not (tmp_path / "preview").exists()

    (folder / "train_config.yaml").unlink()  # metrics.json alone, naming no objective c2 train knows
    metrics = json.loads((folder / "metrics.json").read_text())
    (folder / "metrics.json").write_text(json.dumps({**metrics, "objective": "dpo-v9"}))
    code = main(["publish", "adapter", str(folder), "--repo-id", "org/x", "--base-model", "org/tiny-chat",
                 "--dry-run", "--preview-dir", str(tmp_path / "preview")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "objective 'dpo-v9' is not one c2 train knows" in lines[0], lines


def test_values_read_from_the_run_stay_text_in_the_card(capsys, tmp_path, adapter_files):
    """A data report with line breaks and Markdown, and a dataset config with a pipe and a backtick, cannot add
    headings or break the lines they land in."""
    folder = trained_dir(adapter_files, tmp_path / "run", DEFAULT_OBJECTIVE,
                         data="org/c2-syn: 30 pairs\n\n# Injected heading\n| a | b |")
    config = load_config(folder / "train_config.yaml", {"dataset_config": "pa|irs`x"})
    save_config(config, folder / "train_config.yaml")
    card = card_of(capsys, folder, tmp_path / "preview")
    assert "\n# Injected heading" not in card and "\n| a | b |" not in card
    assert "- data used (from `metrics.json`): org/c2-syn: 30 pairs # Injected heading | a | b |" in card
    assert "- data config: `pa\\|irs'x`, split `train`" in card
