"""A bug in c2-toolkit is not shown as the user's mistake: one line saying it is a bug, where to report it and
where its traceback was written, exit 1; a user's error stays one line, exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import c2kit.view
from c2kit.cli import main
from c2kit.cli.bug_report import ISSUES_URL
from c2kit.errors import UserError

SECRET = "hf_notarealtoken1234567890"


def _view(tmp_path: Path, capsys) -> tuple[int, str]:
    code = main(["view", str(tmp_path), "--out", str(tmp_path / "report.html")])
    return code, capsys.readouterr().err


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("C2_TRACEBACK", raising=False)
    return tmp_path / "cache"


def _fail_with(monkeypatch, error: Exception) -> None:
    def build_report(*args, **kwargs):
        raise error

    monkeypatch.setattr(c2kit.view, "build_report", build_report)


@pytest.mark.parametrize("error", [ValueError("could not broadcast shapes (3,) and (4,)"), KeyError("corr_at_k")],
                         ids=["ValueError", "KeyError"])
def test_an_unexpected_error_is_reported_as_a_bug_with_its_traceback_in_a_file(tmp_path, capsys, monkeypatch,
                                                                                cache, error):
    _fail_with(monkeypatch, error)
    code, err = _view(tmp_path, capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    line = lines[0]
    assert line.startswith("c2 view: error: this is a bug in c2-toolkit")
    assert f"{type(error).__name__}: " in line and ISSUES_URL in line and "C2_TRACEBACK=1" in line
    written = Path(re.search(r"the full traceback is in (\S+)", line).group(1))
    assert written.parent == cache / "c2-toolkit" / "tracebacks"
    text = written.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "in build_report" in text
    assert text.rstrip().splitlines()[-1] == f"{type(error).__name__}: {error}"
    assert f"command: c2 view {tmp_path}" in text
    assert written.stat().st_mode & 0o077 == 0  # readable by this user alone


def test_c2_traceback_shows_a_bugs_traceback(tmp_path, capsys, monkeypatch, cache):
    _fail_with(monkeypatch, ValueError("an internal invariant broke"))
    monkeypatch.setenv("C2_TRACEBACK", "1")
    with pytest.raises(ValueError, match="an internal invariant broke"):
        _view(tmp_path, capsys)
    assert not (cache / "c2-toolkit" / "tracebacks").exists()


def test_a_user_error_stays_one_line_exit_2(tmp_path, capsys, monkeypatch, cache):
    _fail_with(monkeypatch, UserError(f"{tmp_path}/labels.jsonl, row 3: field 'label' must be true or false"))
    code, err = _view(tmp_path, capsys)
    assert (code, err.strip()) == (2, f"c2 view: error: {tmp_path}/labels.jsonl, row 3: field 'label' must be "
                                      "true or false")
    assert not (cache / "c2-toolkit" / "tracebacks").exists()


def test_a_secret_in_the_environment_is_blanked_out_of_the_report(tmp_path, capsys, monkeypatch, cache):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    _fail_with(monkeypatch, RuntimeError(f"request failed: Authorization: Bearer {SECRET}"))
    code, err = _view(tmp_path, capsys)
    assert code == 1 and SECRET not in err and "Bearer ***" in err
    written = Path(re.search(r"the full traceback is in (\S+)", err).group(1))
    text = written.read_text(encoding="utf-8")
    assert SECRET not in text and "Bearer ***" in text


def test_without_a_writable_cache_the_traceback_goes_to_the_temp_folder_or_the_line_says_how_to_see_it(
        tmp_path, capsys, monkeypatch):
    import tempfile

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # no folder can be made under a file, even by root
    monkeypatch.delenv("C2_TRACEBACK", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    _fail_with(monkeypatch, ValueError("boom"))
    code, err = _view(tmp_path, capsys)
    written = Path(re.search(r"the full traceback is in (\S+)", err).group(1))
    assert code == 1 and written.parent == tmp_path / "tmp" / "c2-toolkit-tracebacks"
    assert "ValueError: boom" in written.read_text(encoding="utf-8")

    monkeypatch.setattr(tempfile, "tempdir", str(blocked))
    code, err = _view(tmp_path, capsys)
    assert code == 1 and "run it again with C2_TRACEBACK=1 to see the full traceback" in err
