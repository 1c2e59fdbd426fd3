"""Model and adapter mistakes are one line naming what is wrong (exit 2 from ``c2``), never a Hub traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c2kit.cli import main
from c2kit.models import load_model_and_tokenizer

PROFILE = Path(__file__).resolve().parent.parent / "training" / "profiles" / "tiny-cpu.yaml"


def _run(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse errors
        code = stop.code
    err = capsys.readouterr().err.strip()
    return code, err


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no error message"
    # argparse prints its usage first; the error itself is the last line, and no traceback precedes it.
    assert "Traceback" not in err
    return lines[-1]


@pytest.fixture
def runs(tmp_path, monkeypatch):
    (tmp_path / "runs" / "tiny-model").mkdir(parents=True)
    (tmp_path / "runs" / "tiny-model" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "runs"


def test_looks_local():
    from c2kit.models import looks_local

    assert looks_local("./x") and looks_local("../x") and looks_local("/abs/x") and looks_local("~/x")
    assert looks_local("a/b/c") and looks_local("my model")  # not valid Hub repo ids
    assert not looks_local("meta-llama/Llama-2-7b-chat-hf") and not looks_local("gpt2")


@pytest.mark.parametrize("command", [
    ["eval", "run", "--model", "runs/tiny-modle", "--out", "out"],
    ["syn", "build", "--source", "c2eval-500", "--generator", "runs/tiny-modle", "--out", "out"],
])
def test_typo_in_local_model_path_is_one_line(runs, capsys, command):
    code, err = _run(command, capsys)
    line = _one_line(err)
    assert code == 2
    assert "no such local model folder" in line and "did you mean 'runs/tiny-model'?" in line, line


def test_typo_in_local_model_path_library(runs):
    from c2kit.models import check_model

    with pytest.raises(ValueError, match=r"'\./runs/tiny-modle': no such local model folder \(did you mean "
                                         r"'\./runs/tiny-model'\?\)"):
        check_model("./runs/tiny-modle")
    with pytest.raises(ValueError, match="folder nowhere does not exist either"):
        load_model_and_tokenizer("./nowhere/model")


def test_missing_adapter_folder_is_one_line(runs, capsys):
    code, err = _run(["eval", "run", "--model", "runs/tiny-model", "--adapter", "runs/no-such-adapter",
                      "--out", "out"], capsys)
    line = _one_line(err)
    assert code == 2 and "adapter 'runs/no-such-adapter': no such local adapter folder" in line, line
    assert "cache" not in line and "network" not in line


def test_folder_without_adapter_config_is_not_an_adapter(runs, capsys):
    code, err = _run(["eval", "run", "--model", "runs/tiny-model", "--adapter", "runs/tiny-model",
                      "--out", "out"], capsys)
    assert code == 2 and "no adapter_config.json" in _one_line(err)


def test_uncached_hub_model_offline_names_the_id(tiny_model_dir, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError) as error:
        load_model_and_tokenizer("nobody/not-cached-model")
    message = str(error.value)
    assert "\n" not in message
    assert "'nobody/not-cached-model'" in message and "not in the local Hub cache" in message
    assert "HF_HUB_OFFLINE is set" in message
    with pytest.raises(ValueError, match="adapter 'nobody/no-such-adapter' is not a local folder and not in the "
                                         "local Hub cache, and HF_HUB_OFFLINE is set"):
        load_model_and_tokenizer(tiny_model_dir, adapter="nobody/no-such-adapter")


def test_uncached_hub_model_cli_exit_2(tmp_path, capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    code, err = _run(["eval", "run", "--model", "nobody/not-cached-model", "--limit", "1",
                      "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("c2 eval: error: model 'nobody/not-cached-model' is not a local folder")


def test_adapter_on_the_wrong_base_is_one_line(tiny_model_dir, tmp_path, capsys):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    other = LlamaForCausalLM(LlamaConfig(vocab_size=2048, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=4))
    other.config.name_or_path = "someone/other-base"
    lora = get_peft_model(other, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    adapter_dir = tmp_path / "adapter"
    lora.save_pretrained(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "someone/other-base"
    (adapter_dir / "adapter_config.json").write_text(json.dumps(config))

    with pytest.raises(ValueError) as error:
        load_model_and_tokenizer(tiny_model_dir, adapter=str(adapter_dir))
    message = str(error.value)
    assert "\n" not in message and len(message) < 600
    assert str(adapter_dir) in message and "'someone/other-base'" in message and tiny_model_dir in message

    code, err = _run(["eval", "run", "--model", tiny_model_dir, "--adapter", str(adapter_dir), "--limit", "1",
                      "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "Traceback" not in err
    assert "trained on base model 'someone/other-base'" in err.splitlines()[-1]


def test_a_cached_hub_id_is_not_taken_for_a_local_path(tiny_model_dir, tmp_path, monkeypatch):
    """'org/name' next to a local org/ folder: offline and uncached it is a missing folder; cached it loads."""
    from conftest import hub_cache_with_tiny_model
    from huggingface_hub import constants

    from c2kit.models import check_model

    hub_cache_with_tiny_model(tiny_model_dir, tmp_path / "hub")
    (tmp_path / "work" / "c2kit" / "tiny-chatt").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match=r"no such local model folder \(did you mean 'c2kit/tiny-chatt'\?\)"):
        check_model("c2kit/tiny-chat")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    check_model("c2kit/tiny-chat")  # in the Hub cache: the Hub id wins


@pytest.mark.parametrize(("flags", "message"), [
    (["--ks", "10,10"], "argument --ks: --ks lists 10 more than once ('10,10')"),
    (["--temperature", "0"], "argument --temperature: --temperature must be > 0 (sampling), got '0'"),
    (["--temperature", "inf"], "argument --temperature: --temperature must be a finite number, got 'inf'"),
    (["--top-p", "1.5"], "argument --top-p: --top-p must be in (0, 1], got '1.5'"),
])
def test_bad_sampling_flags_are_named_before_anything_loads(tiny_model_dir, tmp_path, capsys, flags, message):
    code, err = _run(["eval", "run", "--model", tiny_model_dir, "--out", str(tmp_path / "o"), *flags], capsys)
    assert code == 2 and message in _one_line(err)
    assert not (tmp_path / "o").exists()  # refused while parsing: no model loaded, nothing written


def test_typo_in_the_training_base_model_is_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "llama-base").mkdir(parents=True)
    code, err = _run(["train", "--config", str(PROFILE), "--model_name_or_path", "runs/llama-bse",
                      "--dataset", "runs/missing-data", "--output_dir", str(tmp_path / "out")], capsys)
    line = _one_line(err)
    assert code == 2 and "model 'runs/llama-bse': no such local model folder" in line
    assert "did you mean 'runs/llama-base'?" in line and not (tmp_path / "out").exists()


@pytest.fixture
def offline(monkeypatch):
    """No Hub, as on a machine without network (datasets and huggingface_hub read these at call time)."""
    import datasets
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)  # the message names the variables that are set
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


@pytest.mark.parametrize("command", [
    ["eval", "run", "--model", "MODEL", "--data", "nobody/no-such-dataset", "--limit", "1"],
    ["syn", "build", "--source", "nobody/no-such-dataset", "--generator", "MODEL", "--limit", "1"],
    ["train", "--config", str(PROFILE), "--data", "nobody/no-such-dataset"],
])
def test_unreachable_hub_dataset_is_one_line(offline, tiny_model_dir, tmp_path, capsys, command):
    argv = [tiny_model_dir if word == "MODEL" else word for word in command] + ["--out", str(tmp_path / "out")]
    code, err = _run(argv, capsys)
    line = _one_line(err)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"c2 {command[0]}: error: dataset 'nobody/no-such-dataset' is not a local file or folder, and it could " \
           "not be reached on the Hugging Face Hub (HF_HUB_OFFLINE is set" in line, line
    assert "local" in line.split("):", 1)[1]  # says what works instead


def test_unreachable_hub_dataset_library():
    from datasets.exceptions import DatasetNotFoundError

    from c2kit.sources import hub_dataset_error

    missing = hub_dataset_error("org/x", DatasetNotFoundError("Dataset 'org/x' doesn't exist on the Hub or cannot "
                                                              "be accessed."))
    assert str(missing) == ("dataset 'org/x' is not a local file or folder, and on the Hugging Face Hub: Dataset "
                            "'org/x' doesn't exist on the Hub or cannot be accessed. (give a local "
                            ".jsonl/.parquet/.csv file or dataset folder, or download it where the Hub is reachable)")
    assert hub_dataset_error("org/x", KeyError("other")) is None  # other errors are not this one


@pytest.fixture
def a_file(tmp_path) -> str:
    path = tmp_path / "results.txt"
    path.write_text("not a directory\n")
    return str(path)


@pytest.mark.parametrize("command", [
    ["eval", "run", "--model", "MODEL", "--out", "FILE"],
    ["eval", "run", "--model", "MODEL", "--out", "OUT", "--cache-dir", "FILE"],
    ["eval", "run", "--model", "MODEL", "--out", "FILE/sub"],
    ["eval", "score", "--judged", "j.jsonl", "--out", "FILE"],
    ["syn", "build", "--data", "c2eval-500", "--model", "MODEL", "--out", "FILE"],
    ["judge", "validate", "--judge", "keyword", "--out", "FILE"],
    ["tiny-model", "--out", "FILE"],
])
def test_out_or_cache_dir_naming_a_file_is_refused_before_anything_loads(tiny_model_dir, tmp_path, a_file, capsys,
                                                                           command):
    names = {"MODEL": tiny_model_dir, "FILE": a_file, "FILE/sub": a_file + "/sub", "OUT": str(tmp_path / "out")}
    code, err = _run([names.get(word, word) for word in command], capsys)
    line = _one_line(err)
    assert code == 2 and len(err.splitlines()) == 1, err
    flag = "--cache-dir" if "--cache-dir" in command else "--out"
    assert f"argument {flag}: " in line and f"'{a_file}' is a file, not a directory" in line, line
    assert not (tmp_path / "out").exists()  # refused while parsing: nothing loaded or written


def test_train_out_naming_a_file_is_refused_before_any_work(a_file, tmp_path, capsys, monkeypatch):
    import c2kit.training

    monkeypatch.setattr(c2kit.training, "run_training", _must_not_run)
    code, err = _run(["train", "--config", str(PROFILE), "--out", a_file], capsys)
    assert code == 2 and f"output_dir: '{a_file}' is a file, not a directory" in _one_line(err)


def _must_not_run(*args, **kwargs):
    raise AssertionError("the model was about to load")


def _profile_with(tmp_path, key: str, value: str):
    """The tiny profile with ``key`` set to ``value`` (the line replaced, so it is set once)."""
    lines = [line for line in PROFILE.read_text().splitlines() if not line.startswith(f"{key}:")]
    path = tmp_path / "profile.yaml"
    path.write_text("\n".join(lines + [f"{key}: {value}"]) + "\n")
    return path


@pytest.mark.parametrize(("key", "value", "message"), [
    ("per_device_train_batch_size", "99999999999999999999",
     "per_device_train_batch_size is too large (at most 2147483647), got 99999999999999999999"),
    ("c2eval_ks", "[10, 99999999999999999999]",
     "c2eval_ks is too large (at most 2147483647), got 99999999999999999999"),
    ("learning_rate", ".inf", "learning_rate must be a finite number, got inf"),
    ("seed", "-1", "seed must be >= 0, got -1"),
    ("output_dir", "FILE/run", "output_dir: 'FILE/run' cannot be created: 'FILE' is a file, not a directory"),
])
def test_impossible_profile_values_name_the_file_and_key_before_the_model_loads(tmp_path, a_file, capsys,
                                                                                monkeypatch, key, value, message):
    import c2kit.training

    monkeypatch.setattr(c2kit.training, "run_training", _must_not_run)
    profile = _profile_with(tmp_path, key, value.replace("FILE", a_file))
    code, err = _run(["train", "--config", str(profile)], capsys)
    assert code == 2 and _one_line(err) == f"c2 train: error: {profile}: {message.replace('FILE', a_file)}"


@pytest.mark.parametrize(("flags", "message"), [
    (["--per-device-train-batch-size", "99999999999999999999"],
     "per_device_train_batch_size is too large (at most 2147483647), got 99999999999999999999"),
    (["--seed", "-1"], "seed must be >= 0, got -1"),
])
def test_impossible_override_values_name_the_key_before_the_model_loads(capsys, monkeypatch, flags, message):
    import c2kit.training

    monkeypatch.setattr(c2kit.training, "run_training", _must_not_run)
    code, err = _run(["train", "--config", str(PROFILE), *flags], capsys)
    assert code == 2 and _one_line(err) == f"c2 train: error: override: {message}"


def test_a_huge_count_flag_is_refused_while_parsing(tiny_model_dir, tmp_path, capsys):
    code, err = _run(["eval", "run", "--model", tiny_model_dir, "--out", str(tmp_path / "o"), "--paths",
                      "99999999999999999999"], capsys)
    assert code == 2 and ("argument --paths: expected a positive integer of at most 2147483647, got "
                          "'99999999999999999999'") in _one_line(err)
    assert not (tmp_path / "o").exists()
