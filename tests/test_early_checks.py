"""Every mistake is refused before the expensive work, and a refused start leaves nothing behind.

Each refusal runs the real command with the model loaders replaced by stubs that fail the test if they are called:
a refusal must come before any model (or the training libraries) loads, whatever the machine's speed. None may
leave a folder holding only the ``.lock`` file at ``--out``.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from lock_holders import holding_output_lock

from c2kit.cli import main
from c2kit.locks import OUTPUT_LOCK, lock_output_folder

BENIGN_CSV = "request,answer\nHow do I bake bread?,\nHow do I tie a tie?,  \n"  # every answer empty


@pytest.fixture
def no_model(monkeypatch):
    """Model loading, for the run and for the judge, fails the test; so does reading the data (where asked)."""
    import c2kit.models
    from c2kit.judges.hf_judge import LocalModelJudge

    def loaded(*args, **kwargs):
        pytest.fail("a model was loaded before the mistake was refused")

    monkeypatch.setattr(c2kit.models, "load_model_and_tokenizer", loaded)
    monkeypatch.setattr(LocalModelJudge, "_open_engine", loaded)
    return monkeypatch


def refused(args: list[str], capsys) -> str:
    """Run ``c2 ARGS``; it must exit 2 with one line on stderr, which is returned."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    return err


def eval_args(model: str, out: Path, *extra: str) -> list[str]:
    return ["eval", "run", "--model", model, "--limit", "2", "--ks", "10", "--paths", "1", "--out", str(out), *extra]


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    (tmp_path / "empty-answers.csv").write_text(BENIGN_CSV, encoding="utf-8")
    pd.DataFrame([{"question": "How?", "response": "Like so."}]).to_parquet(tmp_path / "other-columns.parquet")
    (tmp_path / "goal-target.jsonl").write_text(json.dumps({"goal": "How?", "target": "Like so."}) + "\n")
    return {path.stem: path for path in tmp_path.iterdir()}


EVAL_REFUSALS = {
    "unknown judge": (["--judge", "bogus"], "unknown judge 'bogus'"),
    "judge option": (["--judge", "hf:Qwen/Qwen2.5-7B-Instruct?bogus=1"], "judge hf: unknown option 'bogus'"),
    "hf judge model not here": (["--judge", "hf:nobody/judge-model"],
                                "judge hf:nobody/judge-model: model 'nobody/judge-model' is not a local folder and "
                                "not in the local Hub cache, and HF_HUB_OFFLINE is set"),
    "wildguard model not here": (["--judge", "wildguard"], "judge wildguard: model 'allenai/wildguard' is not a "
                                 "local folder and not in the local Hub cache"),
    "group-by column": (["--group-by", "nope"], "--group-by 'nope': no row has a column 'nope'"),
    "benign schema": (["--benign-data", "{other-columns}"], "other-columns.parquet: no column 'request', 'answer'; "
                      "its columns are 'question', 'response'; expected columns for request and answer: name yours "
                      "with --benign-column-mapping, e.g. --benign-column-mapping request=question,answer=response"),
    "benign without a usable row": (["--benign-data", "{empty-answers}"],
                                    "empty-answers.csv: read 2 rows, kept 0, skipped 2 (empty text: 1, missing "
                                    "field: 1): no usable benign row for the over-correction pass (row 1: field "
                                    "'answer' is missing; row 2: field 'answer' is empty or not text)"),
    "data schema": (["--data", "{goal-target}"], "goal-target.jsonl: no column 'prompt', 'response_0', 'response_1', "
                    "'is_response_0_safe', 'is_response_1_safe'; its columns are 'goal', 'target'; expected "
                    "PKU-SafeRLHF's columns"),
}


@pytest.mark.parametrize("case", list(EVAL_REFUSALS))
def test_eval_run_refuses_before_any_model_loads(case, no_model, files, tiny_model_dir, tmp_path, capsys):
    extra, expected = EVAL_REFUSALS[case]
    extra = [value.format(**{name: str(path) for name, path in files.items()}) for value in extra]
    err = refused(eval_args(tiny_model_dir, tmp_path / "runs" / "run", *extra), capsys)
    assert err.startswith("c2 eval: error: ") and expected in err
    assert not (tmp_path / "runs").exists()  # nothing made at --out, not even the folder of its lock


def test_a_model_that_is_not_here_is_refused_before_the_folder_is_locked(no_model, tmp_path, capsys):
    err = refused(eval_args("nobody/model", tmp_path / "run"), capsys)
    assert ("model 'nobody/model' is not a local folder and not in the local Hub cache, and HF_HUB_OFFLINE is set"
            in err) and not (tmp_path / "run").exists()


def test_a_bad_judge_is_refused_before_the_data_is_read(no_model, tiny_model_dir, tmp_path, capsys):
    import c2_eval_metric.runner

    no_model.setattr(c2_eval_metric.runner, "load_source", lambda *a, **k: pytest.fail("the data was read first"))
    for judge in ("bogus", "hf:nobody/judge-model", "openai:gpt-4o"):
        no_model.delenv("OPENAI_API_KEY", raising=False)
        err = refused(eval_args(tiny_model_dir, tmp_path / "run", "--judge", judge), capsys)
        assert "judge" in err and not (tmp_path / "run").exists()


def test_syn_build_refuses_a_source_of_the_wrong_schema_before_the_generator_loads(files, tiny_model_dir, tmp_path,
                                                                                  capsys, monkeypatch):
    import c2_syn_dataset.pipeline

    monkeypatch.setattr(c2_syn_dataset.pipeline, "open_generator", lambda *a: pytest.fail("the generator loaded"))
    out = tmp_path / "builds" / "c2-syn"
    err = refused(["syn", "build", "--data", str(files["goal-target"]), "--model", tiny_model_dir, "--out", str(out)],
                  capsys)
    assert "its columns are 'goal', 'target'" in err and "--column-mapping request=goal,harmful_response=target" in err
    assert not (tmp_path / "builds").exists()  # its lock was taken, and went with the folder it made


TRAIN_REFUSALS = {
    "missing folder": (["--data", "runs/c2-synn"], "runs/c2-synn: no such dataset folder"),
    "hub id offline": (["--data", "ORG/NAME"], "dataset 'ORG/NAME' is not a local file or folder, and it could not "
                       "be reached"),
    "a file": (["--data", "data.csv"], "data.csv: not a dataset folder (a file)"),
    "a training run": (["--data", "runs/trained"], "runs/trained is a training run directory written by c2 train (it "
                       "holds train_config.yaml), not preference pairs: --data wants"),
    "judge of --eval": (["--eval", "--c2eval_rejudge", "wildguard"], "judge wildguard: model 'allenai/wildguard' is "
                        "not a local folder and not in the local Hub cache"),
}


@pytest.mark.parametrize("case", list(TRAIN_REFUSALS))
def test_train_refuses_what_cannot_work_before_training_starts(case, tmp_path, capsys, monkeypatch):
    import c2kit.training

    monkeypatch.setattr(c2kit.training, "run_training", lambda *a, **k: pytest.fail("training started"))
    from c2kit.training.tiny_data import write_pairs_dir

    monkeypatch.chdir(tmp_path)
    write_pairs_dir(tmp_path / "runs" / "c2-syn", [{"prompt": "How?", "chosen": "No.", "rejected": "Sure."}])
    (tmp_path / "runs" / "trained").mkdir()
    (tmp_path / "runs" / "trained" / "train_config.yaml").write_text("seed: 0\n")
    (tmp_path / "data.csv").write_text("prompt,chosen,rejected\na,b,c\n")
    (tmp_path / "profile.yaml").write_text("model_name_or_path: tiny\noptim: adamw_torch\n")
    flags, expected = TRAIN_REFUSALS[case]
    err = refused(["train", "--config", "profile.yaml", "--data", "runs/c2-syn", *flags, "--out", "out/train"], capsys)
    assert err.startswith("c2 train: error: ") and expected in err
    assert not (tmp_path / "out").exists()


# --- the lock of a failed start goes with it ---------------------------------------------------------------

def test_a_released_lock_takes_the_folders_it_made_with_it(tmp_path):
    lock = lock_output_folder(tmp_path / "a" / "b" / "out", "c2 eval run")
    assert (tmp_path / "a" / "b" / "out" / OUTPUT_LOCK).is_file()
    lock.release()
    assert list(tmp_path.iterdir()) == []  # out, b and a: all made by the lock, all empty again


def test_a_folder_that_was_there_keeps_everything_but_an_unused_lock(tmp_path):
    (tmp_path / "mine").mkdir()
    lock_output_folder(tmp_path / "mine", "c2 eval run").release()
    assert (tmp_path / "mine").is_dir() and list((tmp_path / "mine").iterdir()) == []
    lock = lock_output_folder(tmp_path / "written", "c2 eval run")
    (tmp_path / "written" / "config.json").write_text("{}")  # the run wrote something: the folder is its
    lock.release()
    assert sorted(path.name for path in (tmp_path / "written").iterdir()) == [OUTPUT_LOCK, "config.json"]


def test_a_shared_lock_another_process_holds_stays(tmp_path):
    folder = tmp_path / "build"
    with holding_output_lock(folder, "c2 syn build", shared=True):
        lock_output_folder(folder, "c2 syn build", shared=True).release()  # another shard still works there
        assert (folder / OUTPUT_LOCK).is_file()
    lock_output_folder(folder, "c2 syn build", shared=True).release()  # now the last: the unused lock goes
    assert folder.is_dir() and list(folder.iterdir()) == []  # the folder stays: the other process made it


def test_a_lock_file_removed_as_it_was_taken_is_taken_again(tmp_path, monkeypatch):
    """The holder of a failed start removes the lock file while another run opens it: that run locks the new one."""
    import c2kit.locks

    real_flock, calls = fcntl.flock, []

    def flock_after_removal(fd, operation):
        if not calls:  # the first attempt: the holder removes its folder between our open and our flock
            (tmp_path / "out" / OUTPUT_LOCK).unlink()
            (tmp_path / "out").rmdir()
        calls.append(operation)
        return real_flock(fd, operation)

    monkeypatch.setattr(c2kit.locks.fcntl, "flock", flock_after_removal)
    lock = lock_output_folder(tmp_path / "out", "c2 eval run")
    assert len(calls) == 2 and lock.file == (tmp_path / "out" / OUTPUT_LOCK).resolve() and lock.file.is_file()
    monkeypatch.setattr(c2kit.locks.fcntl, "flock", real_flock)
    lock.release()


def test_the_shipped_data_still_passes_every_check(no_model, tiny_model_dir, tmp_path):
    """The checks refuse mistakes only: the shipped benchmark and benign set are read as before."""
    from c2_eval_metric.overcorrection import load_benign
    from c2_eval_metric.runner import EvalConfig, read_inputs

    inputs = read_inputs(EvalConfig(model=tiny_model_dir, overcorrection=True), tmp_path / "run")
    assert len(inputs.source.rows) == 500 and len(inputs.benign[0]) == 100
    assert [item_id for item_id, _, _ in load_benign()[0][:2]] == ["benign:b000", "benign:b001"]
