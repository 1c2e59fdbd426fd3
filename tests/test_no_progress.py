"""``--no-progress``: every command that shows progress bars takes it, and then none shows, however deep (the
judging bars of ``c2 train --eval`` included)."""

from __future__ import annotations

import re

import pytest

from training_helpers import c2syn_like_rows

from c2kit.cli import main
from c2kit.quiet import progress_shown, show_progress_bars
from c2kit.training.tiny_data import write_pairs_dir

# What tqdm writes for a bar: "judging (keyword): 100%|██████████| 4/4 [00:00<00:00, ...]".
BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+")


@pytest.fixture(autouse=True)
def _bars_back_on():
    yield
    show_progress_bars(True)  # main() sets it per call; leave the process as other tests expect it


def _stderr(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err[-2000:]
    return capsys.readouterr().err


def _shows_a_bar(text: str) -> bool:
    return BAR.search(text) is not None


@pytest.fixture(scope="module")
def run_dir(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["eval", "run", "--model", tiny_model_dir, "--limit", "2", "--ks", "10", "--paths", "2",
                 "--max-new-tokens", "4", "--out", str(out), "--no-progress"]) == 0
    return out


def test_eval_run_takes_no_progress_and_shows_no_bar(tiny_model_dir, tmp_path, capsys):
    argv = ["eval", "run", "--model", tiny_model_dir, "--limit", "2", "--ks", "10", "--paths", "2",
            "--max-new-tokens", "4"]
    assert _shows_a_bar(_stderr(capsys, [*argv, "--out", str(tmp_path / "shown")]))  # generating, judging
    assert not _shows_a_bar(_stderr(capsys, [*argv, "--out", str(tmp_path / "hidden"), "--no-progress"]))


def test_eval_score_rejudging_shows_no_bar(run_dir, tmp_path, capsys):
    argv = ["eval", "score", "--results", str(run_dir), "--judge", "keyword-v3"]
    assert _shows_a_bar(_stderr(capsys, [*argv, "--out", str(tmp_path / "shown")]))
    assert not _shows_a_bar(_stderr(capsys, [*argv, "--out", str(tmp_path / "hidden"), "--no-progress"]))
    assert progress_shown() is False  # the whole process, until the next command


def test_judge_validate_shows_no_bar(capsys):
    assert _shows_a_bar(_stderr(capsys, ["judge", "validate", "--judge", "keyword"]))
    assert not _shows_a_bar(_stderr(capsys, ["judge", "validate", "--judge", "keyword", "--no-progress"]))
    assert not _shows_a_bar(_stderr(capsys, ["judge", "validate", "--judge", "keyword", "--no-progress"]))
    assert progress_shown() is False
    _stderr(capsys, ["judge", "validate", "--judge", "keyword"])
    assert progress_shown() is True  # a command without the flag shows them again


def test_syn_build_shows_no_bar(tiny_model_dir, tmp_path, capsys):
    argv = ["syn", "build", "--source", "c2eval-500", "--generator", tiny_model_dir, "--limit", "2",
            "--chunk-size", "2", "--max-new-tokens", "4"]
    assert _shows_a_bar(_stderr(capsys, [*argv, "--out", str(tmp_path / "shown")]))
    assert not _shows_a_bar(_stderr(capsys, [*argv, "--out", str(tmp_path / "hidden"), "--no-progress"]))


def test_train_eval_shows_no_training_generation_or_judging_bar(tmp_path, capsys):
    data = write_pairs_dir(tmp_path / "c2-syn", c2syn_like_rows()[:40])
    argv = ["train", "--config", "tiny-cpu", "--dataset", str(data), "--out", str(tmp_path / "run"),
            "--num_pairs", "8", "--num_eval_pairs", "4", "--max_steps", "2", "--no-eval_before_training",
            "--c2eval_limit", "1", "--c2eval_ks", "10", "--c2eval_paths", "2", "--c2eval_max_new_tokens", "4",
            "--eval", "--no-progress"]
    err = _stderr(capsys, argv)
    assert "judging" not in err and "generating" not in err and not _shows_a_bar(err), err[-2000:]
