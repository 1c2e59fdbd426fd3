"""scores.json is checked against the verdicts beside it wherever it is shown (c2 view here; c2 eval compare in
tests/test_compare.py, c2 publish in tests/test_publish.py): real runs pass, edited copies are refused in one line."""

from __future__ import annotations

import json
import shutil

from c2_eval_metric.consistency import check_results_dir
from c2kit.judges.keyword import NAME as KEYWORD  # the default judge, which judged the runs
from view_runs import run_cli, view_runs  # noqa: F401 (fixture)


def _copy(run, to):
    shutil.copytree(run, to, ignore=shutil.ignore_patterns("cache", "judge-cache", ".lock"))
    return to


def _edit_scores(run, change) -> None:
    data = json.loads((run / "scores.json").read_text())
    change(data)
    (run / "scores.json").write_text(json.dumps(data))


def test_real_runs_and_their_over_correction_pass_the_check(view_runs):
    for name in ("refuser", "complier", "rejudged"):
        assert "overcorrection" in json.loads((view_runs[name] / "scores.json").read_text())
        assert check_results_dir(view_runs[name]) == []  # every figure checked, none differs


def test_view_refuses_an_edited_run_in_one_line_and_writes_no_report(view_runs, tmp_path, capsys):
    run = _copy(view_runs["complier"], tmp_path / "complier")
    stored = json.loads((run / "scores.json").read_text())
    out = tmp_path / "report.html"

    assert stored["overcorrection"]["rate_mean"] != 0.75
    _edit_scores(run, lambda data: data["overcorrection"].__setitem__("rate_mean", 0.75))
    assert run_cli("view", str(run), "--out", str(out))[0] == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"c2 view: error: {run / 'scores.json'}: field overcorrection.rate_mean is 0.75 but "
                           f"overcorrection/judgments.jsonl gives {stored['overcorrection']['rate_mean']}; ")
    assert f"c2 eval score --results {run} --judge {KEYWORD} --out NEW_FOLDER" in line
    assert not out.exists()

    _edit_scores(run, lambda data: data.update(overcorrection=stored["overcorrection"],
                                               corr_at_k={**stored["corr_at_k"], "10": 0.9}))
    assert run_cli("view", str(run), "--out", str(out))[0] == 2
    [line] = capsys.readouterr().err.splitlines()
    assert f"scores.json: field corr_at_k[10] is 0.9 but judgments.jsonl gives {stored['corr_at_k']['10']}" in line
    assert not out.exists()


def test_view_shows_scores_without_their_verdicts_with_a_note(view_runs, tmp_path):
    run = _copy(view_runs["refuser"], tmp_path / "refuser")
    (run / "judgments.jsonl").unlink()
    code, printed = run_cli("view", str(run), "--out", str(tmp_path / "report.html"))
    assert code == 0
    assert printed.splitlines()[0] == (f"note: {run}: its scores.json is shown as stored, unchecked (no "
                                       "judgments.jsonl to check it against)")
