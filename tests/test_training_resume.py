"""Training stopped at each point where a kill can come, then run again, and run directories that were damaged.

The rerun's ``training_log.jsonl`` equals an uninterrupted run's line for line (but for the wall-clock figures)
and its adapter is the same file; damaged checkpoints are set aside, a damaged final adapter is rebuilt, and
one run at a time writes a directory. A kill is simulated in the process, at an exact point: an exception that
no code catches (:class:`Killed`, a BaseException as KeyboardInterrupt is) raised from a step, from the
Trainer's deletion of old checkpoints or from the saving of the final adapter. Like a kill, it leaves the
directory as it was at that moment. The runs use the session's small tiny model (not the profile's 512-wide
one): 5 steps of 2 short pairs, a second or less each.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lock_holders import holding_output_lock
from training_helpers import c2syn_like_rows, file_sha256, read_log, without_timing

from c2kit.training.config import ConfigError, TrainConfig, load_config
from c2kit.training.tiny_data import write_pairs_dir

pytest.importorskip("trl")

PROFILE = Path(__file__).resolve().parent.parent / "training" / "profiles" / "tiny-cpu.yaml"
# Log lines at every step (num_tokens at each), checkpoints at 2, 4 and 5 (the last step, in the middle of the
# 8-step epoch), the two last kept.
SETTINGS = {"rank_pairs": "1-5,2-5,3-5,4-5", "precision": "fp32", "num_pairs": 16, "num_eval_pairs": 2,
            "per_device_train_batch_size": 2, "max_length": 64, "max_steps": 5, "logging_steps": 1,
            "save_steps": 2, "save_total_limit": 2}


class Killed(BaseException):
    """Stands for a kill: nothing catches it, so the run stops where it is raised."""


def run_killed(config: TrainConfig, owner: object, name: str, when) -> None:
    """Run ``config`` and kill it at the first call of ``owner.name`` whose arguments ``when`` accepts."""
    from c2kit.training import run_training

    original = getattr(owner, name)

    def killing(*args, **kwargs):
        if when(*args, **kwargs):
            raise Killed(name)
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(owner, name, killing)
        with pytest.raises(Killed):
            run_training(config, progress=False)


def in_step(step: int):
    """``when`` for ``DPOTrainer.training_step``: the step that takes the run to ``step``."""
    return lambda trainer, *args, **kwargs: trainer.state.global_step == step - 1


def checkpoints(out: Path) -> list[str]:
    return sorted(path.name for path in out.glob("checkpoint-*"))


def num_tokens_at(log: list[dict], step: int) -> float:
    return next(entry["num_tokens"] for entry in log if entry["step"] == step and "num_tokens" in entry)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    return write_pairs_dir(tmp_path_factory.mktemp("pairs") / "c2-syn", c2syn_like_rows())


@pytest.fixture(scope="module")
def configure(tiny_model_dir, pairs):
    def config(out: Path, **overrides) -> TrainConfig:
        values = {**SETTINGS, "model_name_or_path": tiny_model_dir, "dataset": pairs, "output_dir": out, **overrides}
        return load_config(PROFILE, {key: str(value) for key, value in values.items()})

    return config


def cli_args(config: TrainConfig) -> list[str]:
    """``c2 train`` arguments for ``config`` (made by ``configure``)."""
    values = {**config.to_dict(), "rank_pairs": ",".join(config.rank_pairs)}
    keys = ["model_name_or_path", "dataset", "output_dir", *SETTINGS]
    return ["train", "--config", str(PROFILE), "--no-progress"] + [part for key in keys
                                                                   for part in (f"--{key}", str(values[key]))]


@pytest.fixture(scope="module")
def whole(configure, tmp_path_factory) -> Path:
    """The uninterrupted run."""
    from c2kit.training import run_training

    out = tmp_path_factory.mktemp("whole") / "run"
    run_training(configure(out), progress=False)
    return out


@pytest.fixture(scope="module")
def killed_in_step_5(configure, tmp_path_factory) -> Path:
    """A run killed while training its last step, 5: checkpoints 2 and 4, the log up to step 4."""
    from trl import DPOTrainer

    out = tmp_path_factory.mktemp("killed") / "run"
    run_killed(configure(out), DPOTrainer, "training_step", in_step(5))
    assert checkpoints(out) == ["checkpoint-2", "checkpoint-4"] and not (out / "metrics.json").exists()
    return out


def copy_run(run: Path, tmp_path: Path) -> Path:
    return shutil.copytree(run, tmp_path / "run")


def test_a_kill_while_old_checkpoints_are_deleted_loses_no_running_total(whole, configure, tmp_path, capsys):
    import transformers.trainer

    from c2kit.training import run_training

    out = tmp_path / "run"
    config = configure(out, save_total_limit=1)
    # Killed once checkpoint-4 is saved, when the Trainer is about to delete checkpoint-2.
    run_killed(config, transformers.trainer, "rotate_checkpoints",
               lambda output_dir, *args, **kwargs: (Path(output_dir) / "checkpoint-4").is_dir())
    assert checkpoints(out) == ["checkpoint-2", "checkpoint-4"]
    assert (out / "checkpoint-4" / "running_totals_0.json").is_file()  # written before the deletion
    capsys.readouterr()
    run_training(config, progress=False)
    assert "running totals" not in capsys.readouterr().out
    # Written after the deletion, the totals were lost with such a kill: num_tokens counted from 0 again at
    # step 5 (one step's tokens instead of five steps') and the final train_loss averaged step 5 only.
    assert num_tokens_at(read_log(out), 5) == num_tokens_at(read_log(whole), 5)
    assert without_timing(read_log(out)) == without_timing(read_log(whole))
    assert file_sha256(out / "adapter_model.safetensors") == file_sha256(whole / "adapter_model.safetensors")


def test_a_kill_after_training_before_the_final_files_logs_the_last_lines_once(whole, configure, tmp_path):
    import c2kit.training.trainer

    from c2kit.training import run_training

    out = tmp_path / "run"
    config = configure(out)
    run_killed(config, c2kit.training.trainer, "_save_adapter", lambda *args: True)
    assert "checkpoint-5" in checkpoints(out) and not (out / "metrics.json").exists()
    logged = [entry for entry in read_log(out) if "train_loss" in entry]
    assert len(logged) == 1  # the killed run had logged its final lines
    result = run_training(config, progress=False)
    assert result.metrics["global_step"] == 5 and not result.reused
    assert without_timing(read_log(out)) == without_timing(read_log(whole))  # each line once
    assert file_sha256(out / "adapter_model.safetensors") == file_sha256(whole / "adapter_model.safetensors")
    assert result.metrics["eval_after"] == json.loads((whole / "metrics.json").read_text())["eval_after"]


def test_a_run_resumed_without_eval_before_json_logs_as_an_uninterrupted_one(whole, killed_in_step_5, configure,
                                                                             tmp_path):
    from c2kit.training import run_training

    out = copy_run(killed_in_step_5, tmp_path)
    (out / "eval_before.json").unlink()
    result = run_training(configure(out), progress=False)
    # Measured again, the numbers used to be logged again too: a step-0 line after the lines of step 4.
    assert without_timing(read_log(out)) == without_timing(read_log(whole))
    expected = json.loads((whole / "metrics.json").read_text())["eval_before"]
    assert result.metrics["eval_before"] == expected  # from checkpoint-4's own record of the log
    assert json.loads((out / "eval_before.json").read_text()) == expected


def test_a_checkpoint_without_running_totals_resumes_and_says_which_totals_count_again(whole, killed_in_step_5,
                                                                                      configure, tmp_path, capsys):
    from c2kit.training import run_training

    out = copy_run(killed_in_step_5, tmp_path)
    (out / "checkpoint-4" / "running_totals_0.json").unlink()
    capsys.readouterr()
    run_training(configure(out), progress=False)
    said = [line for line in capsys.readouterr().out.splitlines() if "running totals" in line]
    assert said == ["checkpoint-4 holds no running totals (running_totals_0.json): the log's num_tokens and the "
                    "final train_loss count again from step 4"]
    resumed, uninterrupted = read_log(out), read_log(whole)
    # The same lines in the same order, once each; only the sums that restarted differ.
    assert [(entry["step"], sorted(entry)) for entry in resumed] == [(entry["step"], sorted(entry))
                                                                     for entry in uninterrupted]
    assert num_tokens_at(resumed, 5) < num_tokens_at(uninterrupted, 5)
    assert file_sha256(out / "adapter_model.safetensors") == file_sha256(whole / "adapter_model.safetensors")


@pytest.mark.parametrize("damage", ["cut", "changed"])
def test_a_damaged_checkpoint_adapter_is_set_aside(whole, killed_in_step_5, configure, tmp_path, capsys, damage):
    from c2kit.training import run_training

    out = copy_run(killed_in_step_5, tmp_path)
    weights = out / "checkpoint-4" / "adapter_model.safetensors"
    data = weights.read_bytes()
    if damage == "cut":
        weights.write_bytes(data[: len(data) // 2])
    else:  # the header intact, the last tensor's bytes overwritten: it still opens, with other weights
        weights.write_bytes(data[:-64] + bytes(64))
    capsys.readouterr()
    run_training(configure(out), progress=False)
    said = capsys.readouterr().out
    if damage == "cut":
        assert "checkpoint-4 is incomplete (adapter_model.safetensors unreadable (" in said
    else:
        assert ("checkpoint-4 is damaged (adapter_model.safetensors is not the file that was saved (its sha256 "
                "differs from checksums.json's)): moved it to incomplete-checkpoint-4") in said
    assert "; resuming from checkpoint-2" in said
    assert (out / "incomplete-checkpoint-4").is_dir()
    assert file_sha256(out / "adapter_model.safetensors") == file_sha256(whole / "adapter_model.safetensors")
    assert without_timing(read_log(out)) == without_timing(read_log(whole))


def test_a_finished_run_with_a_damaged_adapter_is_rebuilt_or_refused(whole, configure, tmp_path, capsys):
    from c2kit.cli import main

    out = copy_run(whole, tmp_path)
    weights = out / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    argv = cli_args(configure(out))
    assert main(argv) == 0
    said = capsys.readouterr().out
    rebuilding = said.index(f"{out} holds a finished run whose adapter is damaged (adapter_model.safetensors "
                            "unreadable (")
    assert "): rebuilding it from checkpoint-5" in said[rebuilding:].splitlines()[0]
    assert said.index("adapter, tokenizer, config, logs and metrics written to") > rebuilding
    assert file_sha256(weights) == file_sha256(whole / "adapter_model.safetensors")
    assert without_timing(read_log(out)) == without_timing(read_log(whole))

    # Without a checkpoint to rebuild it from: refused, and nothing says the adapter was written.
    for checkpoint in out.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)
    data = weights.read_bytes()
    weights.write_bytes(data[:-64] + bytes(64))  # opens, but its weights are not the trained ones
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "written" not in captured.out and "reusing" not in captured.out
    assert captured.err == (f"c2 train: error: {out} holds a finished run whose adapter is damaged "
                            "(adapter_model.safetensors is not the file that was saved (its sha256 differs from "
                            "checksums.json's)) and no complete checkpoint to rebuild it from; use another --out or "
                            "delete that directory\n")


def test_eval_with_a_damaged_adapter_is_one_line_naming_it(whole, tiny_model_dir, tmp_path, capsys):
    from c2kit.cli import main

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    shutil.copy(whole / "adapter_config.json", adapter)
    (adapter / "adapter_model.safetensors").write_bytes((whole / "adapter_model.safetensors").read_bytes()[:5000])
    assert main(["eval", "run", "--model", tiny_model_dir, "--adapter", str(adapter), "--out", str(tmp_path / "eval"),
                 "--limit", "1"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"c2 eval: error: adapter '{adapter}' cannot be loaded from {adapter}: "
                            "adapter_model.safetensors unreadable (")
    assert error.count("\n") == 1 and "Traceback" not in error


def test_a_second_run_into_a_running_runs_directory_is_refused(configure, tmp_path, capsys):
    from c2kit.cli import main

    out = tmp_path / "run"
    with holding_output_lock(out, "c2 train", shared=False) as holder:
        assert main(cli_args(configure(out))) == 2
    error = capsys.readouterr().err
    assert error == (f"c2 train: error: {out}: the training run directory is in use by another run (pid {holder.pid}: "
                     "c2 train); wait for it to finish or choose another --out\n")
    assert sorted(path.name for path in out.iterdir()) == [".lock"]  # its log untouched, nothing written


def test_a_build_folder_or_the_dataset_folder_is_refused_as_out(configure, pairs, tmp_path, capsys):
    from c2kit.cli import main

    # A C2-Syn build folder: the adapter's model card would replace the dataset's (README.md).
    built = tmp_path / "built"
    built.mkdir()
    (built / "build.json").write_text("{}", encoding="utf-8")
    (built / "README.md").write_text("---\nconfigs: []\n---\n# C2-Syn\n", encoding="utf-8")
    assert main(cli_args(configure(built))) == 2
    assert capsys.readouterr().err == (f"c2 train: error: {built} holds files that c2 syn build writes (build.json); "
                                       "c2 train needs a folder of its own: choose another --out\n")
    assert (built / "README.md").read_text(encoding="utf-8") == "---\nconfigs: []\n---\n# C2-Syn\n"
    # The dataset being trained on (no build.json: the tiny demo's pairs).
    data = shutil.copytree(pairs, tmp_path / "c2-syn")
    card = (data / "README.md").read_text(encoding="utf-8")
    assert main(cli_args(configure(data, dataset=data))) == 2
    assert capsys.readouterr().err == (f"c2 train: error: {data} is the dataset folder (--data): c2 train writes the "
                                       "adapter's model card (README.md) and tokenizer there, over the dataset's "
                                       "card; choose another --out\n")
    assert (data / "README.md").read_text(encoding="utf-8") == card


def test_a_damaged_saved_config_is_named_as_damaged_not_as_other_settings(whole, configure, tmp_path):
    from c2kit.training import run_training

    out = copy_run(whole, tmp_path)
    saved = out / "train_config.yaml"
    text = saved.read_text(encoding="utf-8")
    cut = text.index("lora_alpha: ") + len("lora_alpha: 3")  # lora_alpha: 32 cut to 3, mid-line
    saved.write_text(text[:cut], encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        run_training(configure(out), progress=False)
    assert str(error.value) == (f"{saved} is damaged (cut short: it does not end with a line break): the settings "
                                "this run was trained with cannot be read back; use another --out or delete that "
                                "directory")
    saved.write_text(text[: text.index("beta:")], encoding="utf-8")  # cut at a line break: beta onwards unset
    with pytest.raises(ConfigError, match=r"train_config.yaml is incomplete: it does not set beta, max_length, "
                                          r"learning_rate, .* \(cut short, or written by an earlier c2-toolkit\); "
                                          "use another --out or delete that directory"):
        run_training(configure(out), progress=False)
