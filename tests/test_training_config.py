"""Training config: YAML profiles, type coercion, overrides, validation, the `c2 train` parser, precision."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from c2kit.cli import build_parser
from c2kit.cli.train_cmd import overrides_from_args
from c2kit.training.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    config_keys,
    load_config,
    parse_rank_pair,
    save_config,
    training_differences,
)
from c2kit.training.precision import PrecisionError, resolve_precision

PROFILES = Path(__file__).resolve().parent.parent / "training" / "profiles"
PROFILE_NAMES = ("llama2-7b-chat-t4", "qwen2-7b-instruct-t4", "llama2-7b-chat-24gb", "qwen2-7b-instruct-24gb",
                 "tiny-cpu", "recovery-sft-llama2-7b-chat-t4", "derta-llama2-7b-chat-t4",
                 "backtrack-llama2-7b-chat-t4")
# Keys a profile leaves to their defaults because its objective does not use them.
SFT_STAGE_KEYS = {"sft_learning_rate", "sft_num_train_epochs", "sft_max_steps"}  # backtrack's alone
UNUSED_KEYS = {"c2-dpo": {"objective", "utility_ratio", "lora_dropout", "transition_dropout", *SFT_STAGE_KEYS},
               "recovery-sft": {"beta", "loss_type", "min_rank_gap", "transition_dropout", *SFT_STAGE_KEYS},
               "derta": {"beta", "loss_type", "min_rank_gap", *SFT_STAGE_KEYS},
               "backtrack": {"min_rank_gap", "transition_dropout"}}


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_profiles_load_validate_and_set_every_key(name):
    import yaml

    path = PROFILES / f"{name}.yaml"
    config = load_config(path)
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    # Profiles are explicit: every training choice is written down (and commented) in the file.
    missing = {key for key in config_keys() if key not in written} - {"trust_remote_code", "dataset_config",
                                                                      "dataset_split", "dataset_revision",
                                                                      "rank_pairs", "eval_steps", "c2eval",
                                                                      "c2eval_batch_tokens", "tiny_hidden_size",
                                                                      "tiny_num_layers", "revision", "plain_template"}
    missing -= UNUSED_KEYS[config.objective]
    assert not missing, f"{name} leaves {sorted(missing)} to defaults"
    assert config.load_in_4bit and config.lora_target_modules == "all-linear" and config.attn_implementation == "sdpa"


def test_gpu_profiles_follow_the_hardware():
    for name in ("llama2-7b-chat-t4", "qwen2-7b-instruct-t4"):
        config = load_config(PROFILES / f"{name}.yaml")
        assert (config.precision, config.optim, config.gradient_checkpointing) == ("fp16", "paged_adamw_8bit", True)
        assert config.max_length == 1024 and config.lora_r == 16 and config.beta == 0.1
        assert config.per_device_train_batch_size * config.gradient_accumulation_steps == 16
    for name in ("llama2-7b-chat-24gb", "qwen2-7b-instruct-24gb"):
        assert load_config(PROFILES / f"{name}.yaml").precision == "bf16"
    tiny = load_config(PROFILES / "tiny-cpu.yaml")
    assert (tiny.model_name_or_path, tiny.optim, tiny.precision) == ("tiny", "adamw_torch", "auto")


def test_yaml_values_are_coerced_to_the_key_types(tmp_path):
    # YAML reads "5e-5" (no dot) as a string and "1" as an int: both must become the key's type.
    config = load_config(write_yaml(tmp_path, "learning_rate: 5e-5\nnum_train_epochs: 1\nnum_pairs: null\n"
                                              "c2eval_ks: [10, 30]\nrank_pairs: ['1-5']\n"))
    assert config.learning_rate == 5e-5 and isinstance(config.num_train_epochs, float)
    assert config.num_pairs is None and config.c2eval_ks == [10, 30] and config.rank_pairs == ["1-5"]
    # Keys absent from the file keep the defaults.
    assert config.beta == TrainConfig().beta


def test_overrides_are_coerced_from_strings(tmp_path):
    base = load_config(write_yaml(tmp_path, "max_steps: 100\nnum_pairs: 50\n"))
    config = apply_overrides(base, {"max_steps": "5", "learning_rate": "1e-4", "load_in_4bit": "false",
                                    "num_pairs": "null", "c2eval_ks": "10,20", "rank_pairs": "1-5, 2-5",
                                    "output_dir": "out"})
    assert (config.max_steps, config.learning_rate, config.load_in_4bit) == (5, 1e-4, False)
    assert config.num_pairs is None and config.c2eval_ks == [10, 20] and config.rank_pairs == ["1-5", "2-5"]
    assert config.output_dir == "out" and base.output_dir != "out"  # the original is not modified


@pytest.mark.parametrize(("overrides", "message"), [
    ({"max_steps": "five"}, "key 'max_steps': expected int, got 'five'"),
    ({"load_in_4bit": "maybe"}, "key 'load_in_4bit': expected bool"),
    ({"c2eval_ks": "10,x"}, "key 'c2eval_ks': expected int, got 'x'"),
    ({"lora_r": "0"}, "lora_r must be positive, got 0"),
    ({"precision": "fp8"}, "precision must be one of auto, fp16, bf16, fp32"),
    ({"rank_pairs": "5-1"}, "rank_pairs: '5-1': need 0 <= chosen < rejected <= 5"),
    ({"max_steps": "0"}, "max_steps must be positive or -1"),
    ({"weight_decay": "-1"}, "weight_decay must be >= 0, got -1.0"),
    ({"max_grad_norm": "-1"}, "max_grad_norm must be >= 0 (0: no clipping), got -1.0"),
    ({"eval_steps": "10", "num_eval_pairs": "0"}, "eval_steps needs held-out pairs: set num_eval_pairs > 0"),
])
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        apply_overrides(TrainConfig(), overrides)


def test_unknown_keys_suggest_the_closest_one(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write_yaml(tmp_path, "learning_rat: 1.0e-4\n"))
    text = str(error.value)
    assert str(tmp_path / "config.yaml") in text and "'learning_rat' (did you mean 'learning_rate'?)" in text
    assert "model_name_or_path" not in text  # no dump of every key
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'lr'; docs/training.md"):
        apply_overrides(TrainConfig(), {"lr": "1"})
    # Overrides may use hyphens, as command-line options do.
    assert apply_overrides(TrainConfig(), {"learning-rate": "1e-4"}).learning_rate == 1e-4


def test_bad_yaml_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write_yaml(tmp_path, "- a\n- b\n"))


def test_duplicate_yaml_keys_are_refused_with_their_lines(tmp_path):
    path = write_yaml(tmp_path, "beta: 0.1\nlora_r: 8\n# a comment\nbeta: 0.5\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == f"{path}: duplicate key 'beta' at line 4 (first set at line 1); keep one"


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", b"beta: 0.1\n\x00\x00\x01"],
                         ids=["not-utf8", "nul-bytes"])
def test_a_binary_file_is_one_clear_line(tmp_path, content):
    path = tmp_path / "profile.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = str(error.value)
    assert text.startswith(f"{path}: not a YAML text file (binary content") and "\n" not in text


def test_invalid_yaml_is_one_line_naming_the_file_and_line(tmp_path):
    path = write_yaml(tmp_path, "beta: 0.1\nlora_r: [8\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: not valid YAML (") and "\n" not in str(error.value)
    assert "line 3" in str(error.value)


def test_resolved_config_round_trips(tmp_path):
    config = apply_overrides(load_config(PROFILES / "tiny-cpu.yaml"), {"rank_pairs": "1-5", "num_pairs": "null"})
    save_config(config, tmp_path / "saved.yaml")
    assert load_config(tmp_path / "saved.yaml") == config


def test_training_differences_ignore_outputs_logging_evaluation_and_the_dataset_location():
    base = TrainConfig()
    # None of these changes the trained weights (the dataset's pairs are compared by content, not by path).
    moved = apply_overrides(base, {"output_dir": "elsewhere", "dataset": "/moved/c2-syn", "logging_steps": "1",
                                   "save_steps": "7", "save_total_limit": "5", "eval_steps": "3",
                                   "per_device_eval_batch_size": "16", "eval_before_training": "false",
                                   "c2eval_limit": "3", "c2eval": "true"})
    assert training_differences(base, moved) == []
    changed = apply_overrides(base, {"learning_rate": "1e-3", "seed": "1", "rank_pairs": "1-5", "lora_r": "8",
                                     "precision": "fp32", "plain_template": "true"})
    assert training_differences(base, changed) == ["plain_template", "rank_pairs", "lora_r", "learning_rate",
                                                   "precision", "seed"]


def test_rank_pair_parsing():
    assert parse_rank_pair("1-5") == (1, 5) and parse_rank_pair(" 0 - 4 ") == (0, 4)
    for bad in ("15", "3-3", "a-b", "2-6"):
        with pytest.raises(ValueError):
            parse_rank_pair(bad)


def test_cli_turns_key_options_into_overrides():
    args = build_parser().parse_args(["train", "--config", "p.yaml", "--output_dir", "D", "--max_steps", "5",
                                      "--eval"])
    assert args.config == "p.yaml"
    assert overrides_from_args(args) == {"output_dir": "D", "max_steps": "5", "c2eval": "true"}
    assert overrides_from_args(build_parser().parse_args(["train", "--config", "p.yaml"])) == {}


def test_cli_accepts_hyphens_and_underscores():
    args = build_parser().parse_args(["train", "--config", "p.yaml", "--learning-rate", "1e-4", "--output_dir", "D",
                                      "--per-device-train-batch-size", "2"])
    assert overrides_from_args(args) == {"learning_rate": "1e-4", "output_dir": "D",
                                         "per_device_train_batch_size": "2"}


def test_cli_rejects_unknown_options_suggesting_the_closest_key(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", "--config", "p.yaml", "--learning-rat", "1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown option --learning-rat (did you mean --learning_rate?)" in err
    assert "model_name_or_path" not in err and len(err.splitlines()) <= 2  # usage + one line, no key dump
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--config", "p.yaml", "--lr", "1"])
    assert "unknown option --lr; 'c2 train --help' lists the" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # no abbreviations: --output must not mean --output_dir
        build_parser().parse_args(["train", "--config", "p.yaml", "--output", "D"])


def test_cli_reports_config_errors_without_a_traceback(tmp_path, capsys):
    from c2kit.cli import main

    assert main(["train", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "no such config file" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path)]) == 2  # a folder, e.g. training/profiles
    assert capsys.readouterr().err == (f"c2 train: error: {tmp_path}: is a folder, not a YAML config file (or a "
                                       "profile's name, e.g. tiny-cpu)\n")
    path = write_yaml(tmp_path, "beta: 0.1\n")
    assert main(["train", "--config", str(path), "--max_steps", "x"]) == 2
    assert "key 'max_steps': expected int, got 'x'" in capsys.readouterr().err


SHIPPED = ", ".join(sorted(PROFILE_NAMES))


def test_the_shipped_profiles_are_the_training_folder_and_load_by_name_from_any_folder(tmp_path, monkeypatch):
    from c2kit.training.config import ACCELERATE_DIR, PROFILES_DIR, shipped_profiles

    # One copy of each file: the package's profiles and accelerate configs are the project's training/ folder.
    assert PROFILES_DIR.resolve() == PROFILES and ACCELERATE_DIR.resolve() == PROFILES.parent / "accelerate"
    assert set(shipped_profiles()) == set(PROFILE_NAMES)
    monkeypatch.chdir(tmp_path)  # an empty folder, as after a pip install: no training/ here
    (tmp_path / "tiny-cpu").mkdir()  # a run folder named after its profile does not hide the profile
    assert load_config("tiny-cpu") == load_config(PROFILES / "tiny-cpu.yaml")
    assert load_config("llama2-7b-chat-t4", {"max_steps": "5"}).max_steps == 5
    # A path still works, and wins over a profile of the same file name.
    (tmp_path / "tiny-cpu.yaml").write_text("model_name_or_path: my-model\n", encoding="utf-8")
    assert load_config("tiny-cpu.yaml").model_name_or_path == "my-model"


@pytest.mark.parametrize(("config", "message"), [
    ("tiny-gpu", f"no profile named 'tiny-gpu' and no such file; did you mean 'tiny-cpu'? shipped profiles: "
                 f"{SHIPPED} ('c2 train --list-profiles' describes them); or give the path of a YAML file"),
    ("llama", f"no profile named 'llama' and no such file; shipped profiles: {SHIPPED} ('c2 train --list-profiles' "
              "describes them); or give the path of a YAML file"),
    ("training/profiles/llama2-7b-chat-t4.yaml", "training/profiles/llama2-7b-chat-t4.yaml: no such config file; "
                                                 "c2-toolkit ships a profile of that name: give the name alone, "
                                                 "llama2-7b-chat-t4"),
    ("mine.yaml", f"mine.yaml: no such config file; shipped profiles: {SHIPPED} ('c2 train --list-profiles' "
                  "describes them)"),
])
def test_an_unknown_profile_or_a_missing_file_is_one_line_listing_the_shipped_profiles(tmp_path, monkeypatch,
                                                                                      capsys, config, message):
    from c2kit.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", config]) == 2
    assert capsys.readouterr().err == f"c2 train: error: {message}\n"


def test_list_profiles_describes_each_shipped_profile_and_accelerate_config_in_one_line(capsys):
    from c2kit.cli import main
    from c2kit.training.config import ACCELERATE_DIR, PROFILES_DIR

    with pytest.raises(SystemExit) as done:  # no --config needed, as with --help
        main(["train", "--list-profiles"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    accelerate = PROFILES.parent / "accelerate"
    for folder in (PROFILES, accelerate):
        for path in sorted(folder.glob("*.yaml")):
            first = path.read_text(encoding="utf-8").splitlines()[0]
            # The description is the file's first line: a whole sentence, not the start of a paragraph.
            assert first.startswith("# ") and first.endswith("."), (path, first)
            assert sum(re.fullmatch(rf"  {re.escape(path.stem)} +{re.escape(first[2:])}", line) is not None
                       for line in lines) == 1, path
    assert f"in {PROFILES_DIR} (copy one to start your own; docs/training.md explains every key)" in lines
    assert f"in {ACCELERATE_DIR}" in lines
    assert len(lines) == len(PROFILE_NAMES) + len(list(accelerate.glob("*.yaml"))) + 5  # 2 titles, 2 folders, 1 gap
    assert SHIPPED in " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())


@pytest.mark.parametrize(("requested", "cuda", "bf16", "expected"), [
    ("auto", False, False, ("fp32", True)),
    ("auto", True, False, ("fp16", False)),  # T4
    ("auto", True, True, ("bf16", False)),
    ("fp16", True, True, ("fp16", False)),
    ("bf16", False, False, ("bf16", True)),  # CPU autocast supports bf16
])
def test_precision_resolution(requested, cuda, bf16, expected):
    precision = resolve_precision(requested, cuda=cuda, bf16_supported=bf16)
    assert (precision.name, precision.use_cpu) == expected
    assert precision.fp16 == (expected[0] == "fp16") and precision.bf16 == (expected[0] == "bf16")


def test_impossible_precisions_are_refused():
    with pytest.raises(PrecisionError, match="fp16 needs a CUDA GPU"):
        resolve_precision("fp16", cuda=False, bf16_supported=False)
    with pytest.raises(PrecisionError, match="no bf16"):
        resolve_precision("bf16", cuda=True, bf16_supported=False)


DOCS = Path(__file__).resolve().parent.parent / "docs" / "training.md"


def test_docs_describe_every_config_key():
    text = DOCS.read_text(encoding="utf-8")
    assert [key for key in config_keys() if f"| `{key}` |" not in text] == []
