"""c2 view without a browser: what the report holds for real runs, label files, bad input, and publishing it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from c2kit.view import build_view_data, read_report_data
from view_runs import COMPLIANCE, REFUSAL, run_cli, view_runs  # noqa: F401 (fixture)


def test_runs_become_columns_with_every_judges_verdict(view_runs):
    data = build_view_data([view_runs["refuser"], view_runs["rejudged"], view_runs["complier"]])
    harmful = [column for column in data["columns"] if column["set"] == "harmful"]
    benign = [column for column in data["columns"] if column["set"] == "overcorrection"]
    # The re-judged copy has the same generations as the refuser's run: one column with two judges.
    assert [column["label"] for column in harmful] == ["refuser-model", "complier-model"]
    assert len(benign) == 2 and len(data["runs"]) == 3
    refuser, complier = harmful
    keyword, unsure = refuser["judges"]
    assert keyword["name"] == "keyword-v4" and unsure["name"] == "hf:unsure-judge"  # named without its local path
    n = 3 * 2 * 2  # items x k x paths
    assert len(refuser["item"]) == n and keyword["verdicts"] == "1" * n and unsure["verdicts"] == "0" * n
    assert unsure["unparsed"] == list(range(n)) and keyword["unparsed"] == []
    assert set(keyword["located"]) == {str(i) for i in range(n)}  # the keyword judge says where it corrects
    assert complier["judges"][0]["verdicts"] == "0" * n
    texts = data["strings"]
    assert {texts[i] for i in refuser["continuation"]} == {REFUSAL}
    assert {texts[i] for i in complier["continuation"]} == {COMPLIANCE}
    assert sorted(refuser["k"]) == [10] * 6 + [20] * 6
    assert data["sets"]["harmful"]["categories"] == [["Violence"], ["Cybercrime", "Violence"], ["Cybercrime"]]
    # Labels of two runs on the same item stay apart.
    assert refuser["key"] == "refuser-model:" and complier["key"] == "complier-model:"
    paired = data["paired"][0]
    assert paired["label"] == "complier-model" and paired["figures"]["corr_mean_diff"] == -1.0
    assert data["runs"][1]["rejudged"] and data["runs"][1]["tally"]["unparsed"] == 2 * n
    assert data["label_mode"] is False


def test_unparsed_answers_are_recorded_per_path(view_runs):
    rows = [json.loads(line) for line in (view_runs["rejudged"] / "judgments.jsonl").read_text().splitlines()]
    assert rows and all(row["unparsed"] is True and row["corrected"] is False for row in rows)
    keyword_rows = (view_runs["refuser"] / "judgments.jsonl").read_text()
    assert "unparsed" not in keyword_rows


def test_an_api_judge_marks_its_unparsed_answers_per_path(monkeypatch, tmp_path):
    from c2_eval_metric.judging import judge_rows
    from c2kit.judges.openai_judge import OpenAIJudge
    from fake_openai import serving

    rows = [{"item_id": "0", "k": 10, "path": path, "prefix": "Sure,", "prompt": "[INST] r [/INST] Sure,",
             "continuation": text} for path, text in enumerate(("no, I refuse.", "here is how", "hmm"))]
    answers = {"no, I refuse.": "yes", "here is how": "no", "hmm": "perhaps"}
    with serving(monkeypatch, lambda body: next(a for t, a in answers.items() if t in json.dumps(body))):
        judge = OpenAIJudge("m", question="paper", cache_dir=tmp_path, progress=False, backoff=lambda attempt: 0.0)
        judged = judge_rows(judge, rows, ["r"] * 3)
    assert judge.last_readings == ["yes", "no", "unparsed"]
    assert [row["corrected"] for row in judged] == [True, False, False]
    assert [row.get("unparsed") for row in judged] == [None, None, True]


def test_cli_writes_one_self_contained_file(view_runs, tmp_path):
    out = tmp_path / "report.html"
    code, printed = run_cli("view", str(view_runs["refuser"]), str(view_runs["rejudged"]), str(view_runs["complier"]),
                            "--out", str(out))
    assert code == 0
    assert re.fullmatch(r"report written to .*report\.html \(48 paths of 6 items, 0\.\d MB\); open it in a browser\. "
                        r"It shows harmful text: share it with care\.\n", printed), printed
    html = out.read_bytes()
    # Nothing is fetched: no external script, style, font or image.
    assert not re.search(rb"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)
    assert b"<link" not in html and b"@import" not in html
    data = read_report_data(html)
    assert data["columns"][0]["judges"][0]["verdicts"] == "1" * 12
    assert str(view_runs["refuser"].parent) not in json.dumps(data)  # no local path inside


def test_rejudging_points_to_labelling_in_the_browser(view_runs, tmp_path):
    code, printed = run_cli("eval", "score", "--results", str(view_runs["refuser"]), "--judge", "keyword-v2",
                            "--out", str(tmp_path / "v2"), "--disagreements", str(tmp_path / "d.jsonl"))
    assert code == 0
    assert (f"disagreements written to {tmp_path / 'd.jsonl'} for labelling (fill in 'label', or label them with the "
            f"keyboard in a browser: c2 view {tmp_path / 'd.jsonl'} --out label.html)") in printed


def test_a_disagreements_file_opens_in_label_mode(view_runs):
    rows = [json.loads(line) for line in view_runs["disagreements"].read_text().splitlines()]
    assert len(rows) == 12
    data = build_view_data([view_runs["disagreements"]])
    (column,) = data["columns"]
    assert data["label_mode"] is True and column["ids"] == [row["id"] for row in rows]
    assert column["labels"] == [None] * 12
    assert sorted(column["k"]) == [10] * 6 + [20] * 6  # read back from the ids item/kK/pP
    assert [judge["name"] for judge in column["judges"]] == ["keyword-v4", "hf:unsure-judge"]  # no local path
    assert column["judges"][0]["verdicts"] == "1" * 12 and column["judges"][1]["verdicts"] == "0" * 12


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: [str(tmp / "missing")], r"missing: no such results directory or label file"),
    (lambda tmp: [str(tmp)], r"no generations\.jsonl; is this a results directory of 'c2 eval run'\?"),
    (lambda tmp: [_write(tmp / "labels.jsonl", '{"request": "r", "prefix": "p", "label": true}\n')],
     r"labels\.jsonl, row 1: field 'continuation' must be a string"),
    (lambda tmp: [_write(tmp / "labels.jsonl", '{"request": "r", "prefix": "p", "continuation": "c", "label": 1}\n')],
     r"labels\.jsonl, row 1: field 'label' must be true, false or null, got 1"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    code, _ = run_cli("view", *make(tmp_path), "--out", str(tmp_path / "report.html"))
    error = capsys.readouterr().err
    assert code == 2 and len(error.strip().splitlines()) == 1
    assert re.search(r"^c2 view: error: .*" + message, error), error
    assert not (tmp_path / "report.html").exists()


def test_out_must_be_an_html_file(view_runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # refused while parsing
        run_cli("view", str(view_runs["refuser"]), "--out", str(tmp_path / "report"))
    assert stop.value.code == 2 and "give an .html file name" in capsys.readouterr().err


@pytest.mark.parametrize(("out", "message"), [
    ("sub/report.html", "'sub' is a file, not a directory"),
    ("sub/deeper/report.html", "'sub/deeper' cannot be created: 'sub' is a file, not a directory"),
])
def test_out_in_a_folder_that_is_a_file_is_refused_while_parsing(view_runs, tmp_path, capsys, monkeypatch, out,
                                                                 message):
    import c2kit.view

    monkeypatch.chdir(tmp_path)
    Path("sub").write_text("my notes")
    monkeypatch.setattr(c2kit.view, "build_report", lambda *args, **kwargs: pytest.fail("a run was read"))
    with pytest.raises(SystemExit) as stop:
        run_cli("view", str(view_runs["refuser"]), "--out", out)
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.strip().splitlines() == [
        f"c2 view: error: argument --out: {message} (see 'c2 view --help')"]
    assert Path("sub").read_text() == "my notes"


def test_publish_results_can_include_the_report(view_runs, tmp_path):
    preview = tmp_path / "preview"
    code, printed = run_cli("publish", "results", str(view_runs["refuser"]), "--repo-id", "someone/c2-results",
                            "--dry-run", "--report", "--out", str(preview))
    assert code == 0 and "report.html" in printed
    data = read_report_data((preview / "report.html").read_bytes())
    assert [column["set"] for column in data["columns"]] == ["harmful", "overcorrection"]
    assert str(view_runs["refuser"].parent) not in json.dumps(data)
    code, _ = run_cli("publish", "results", str(view_runs["refuser"]), "--repo-id", "someone/c2-results",
                      "--dry-run", "--out", str(tmp_path / "without"))
    assert code == 0 and not (tmp_path / "without" / "report.html").exists()


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)
