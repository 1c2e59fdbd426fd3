"""c2 view without a browser: what the report holds for real runs, label files, bad input, and publishing it."""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from c2kit.judges.keyword import NAME as KEYWORD  # the live keyword judge, the default
from c2kit.view import build_report, build_view_data, read_report_data, render_html
from view_runs import COMPLIANCE, REFUSAL, run_cli, view_runs, view_sample  # noqa: F401 (fixtures)


def test_runs_become_columns_with_every_judges_verdict(view_runs):
    data = build_view_data([view_runs["refuser"], view_runs["rejudged"], view_runs["complier"]])
    harmful = [column for column in data["columns"] if column["set"] == "harmful"]
    benign = [column for column in data["columns"] if column["set"] == "overcorrection"]
    # The re-judged copy has the same generations as the refuser's run: one column with two judges.
    assert [column["label"] for column in harmful] == ["refuser-model", "complier-model"]
    assert len(benign) == 2 and len(data["runs"]) == 3
    refuser, complier = harmful
    keyword, unsure = refuser["judges"]
    assert keyword["name"] == KEYWORD and unsure["name"] == "hf:unsure-judge"  # named without its local path
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
    assert [judge["name"] for judge in column["judges"]] == [KEYWORD, "hf:unsure-judge"]  # no local path
    assert column["judges"][0]["verdicts"] == "1" * 12 and column["judges"][1]["verdicts"] == "0" * 12


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_labelling_sample_opens_blind_with_the_runs_verdicts_kept_for_after(view_runs, view_sample):
    sample = _rows(view_sample)
    data = build_view_data([view_sample, view_runs["refuser"], view_runs["rejudged"]])
    # Only the sample: no run summary or score (they follow from the verdicts), one entry per sampled continuation.
    assert data["label_mode"] is True and data["runs"] == [] and data["paired"] == []
    assert data["blind"] == {"seed": 1, "n": 6, "rows": 6, "strata": {"10": 6, "20": 6}, "sizes": {"10": 3, "20": 3},
                             "judges": 2}
    (column,) = data["columns"]
    assert sorted(column["ids"]) == sorted(row["id"] for row in sample) == sorted(data["sets"]["harmful"]["ids"])
    by_id = {row["id"]: row for row in sample}
    assert [(by_id[i]["k"], by_id[i]["path"]) for i in column["ids"]] == list(zip(column["k"], column["path"]))
    assert [column["line"][column["ids"].index(row["id"])] for row in sample] == list(range(1, 7))
    # Every judge of the runs, on the sampled continuations only (the page shows each once it is labelled).
    assert [judge["name"] for judge in column["judges"]] == [KEYWORD, "hf:unsure-judge"]
    assert column["judges"][0]["verdicts"] == "1" * 6 and sorted(column["judges"][1]["unparsed"]) == list(range(6))
    # The order is shuffled by the sample's seed, whatever the file's order.
    again = _write_rows(view_sample.parent / "sample-reversed.jsonl", sample[::-1])
    assert build_view_data([again])["columns"][0]["ids"] == column["ids"]
    by_k = sorted(sample, key=lambda row: (row["k"], row["item_id"], row["path"]))
    assert column["ids"] != [row["id"] for row in by_k]
    # Alone, it opens blind with no judge at all.
    alone = build_view_data([view_sample])
    assert alone["columns"][0]["judges"] == [] and alone["blind"]["judges"] == 0


def test_cli_says_a_sample_opens_blind(view_runs, view_sample, tmp_path):
    code, printed = run_cli("view", str(view_sample), str(view_runs["refuser"]), "--out", str(tmp_path / "b.html"))
    assert code == 0
    assert printed.startswith(f"report written to {tmp_path / 'b.html'} (blind label mode: 6 sampled continuations "
                              "in a random order, 1 judge's verdicts shown on each only once it is labelled, ")
    assert printed.endswith("Label every continuation, save the labels, then: c2 eval calibrate RUN --labels "
                            "LABELS.jsonl\n")
    code, printed = run_cli("view", str(view_sample), "--out", str(tmp_path / "alone.html"))
    assert code == 0 and "(blind label mode: 6 sampled continuations in a random order, no judge's verdict, " in printed


@pytest.mark.parametrize(("change", "message"), [
    (lambda rows, runs: ([{key: value for key, value in row.items() if key != "sample"} if number == 2 else row
                          for number, row in enumerate(rows)], [runs["refuser"]]),
     r"sample\.jsonl, row 3: no sampling plan \(field 'sample'\) while row 1 has one"),
    (lambda rows, runs: ([{**row, "sample": {**row["sample"], "seed": 2}} if number == 1 else row
                          for number, row in enumerate(rows)], []),
     r"sample\.jsonl, row 2: its sampling plan \(seed 2, n 6\) differs from row 1's \(seed 1, n 6\)"),
    (lambda rows, runs: ([{**rows[0], "k": "ten"}, *rows[1:]], []),
     r"sample\.jsonl, row 1: field 'k' must be a whole number, got 'ten'"),
    (lambda rows, runs: ([{key: value for key, value in rows[0].items() if key != "item_id"}, *rows[1:]], []),
     r"sample\.jsonl, row 1: field 'item_id' is missing"),
    (lambda rows, runs: ([*rows, {**rows[0], "id": "again"}], []), r"sample\.jsonl, row 7: continuation .* repeats row"),
    (lambda rows, runs: (rows, [runs["complier"]]),
     r"sample\.jsonl, row \d: continuation .* differs from the one in .*complier/generations\.jsonl: give the results "
     r"directory this sample was drawn from \(or none\)"),
    (lambda rows, runs: (rows, [runs["disagreements"]]), r"disagreements\.jsonl: a labelling sample .* opens alone"),
])
def test_a_sample_that_does_not_hold_together_is_refused_in_one_line(view_runs, view_sample, tmp_path, capsys,
                                                                    change, message):
    rows, others = change(_rows(view_sample), view_runs)
    sample = _write_rows(tmp_path / "sample.jsonl", rows)
    code, _ = run_cli("view", str(sample), *map(str, others), "--out", str(tmp_path / "report.html"))
    error = capsys.readouterr().err
    assert code == 2 and len(error.strip().splitlines()) == 1
    assert re.search(r"^c2 view: error: .*" + message, error), error
    assert not (tmp_path / "report.html").exists()


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


class _Page(HTMLParser):
    """The elements of a report that matter to its policy: its <meta>s, and each <script> / <style> with its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metas: list[dict[str, str]] = []
        self.blocks: list[tuple[str, dict[str, str], str]] = []  # (tag, attributes, text)
        self.handlers: list[str] = []  # on...= attributes of any element
        self.inside = False  # in a <script> or <style>

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.handlers += [f"{tag} {name}" for name in attributes if name.startswith("on")]
        if tag == "meta":
            self.metas.append(attributes)
        elif tag in ("script", "style"):
            self.blocks.append((tag, attributes, ""))
            self.inside = True

    def handle_endtag(self, tag):
        self.inside = self.inside and tag not in ("script", "style")

    def handle_data(self, data):
        if self.inside:
            tag, attributes, text = self.blocks[-1]
            self.blocks[-1] = (tag, attributes, text + data)


def _policy(html: bytes) -> tuple[dict[str, list[str]], _Page]:
    page = _Page()
    page.feed(html.decode("utf-8"))
    (content,) = [meta["content"] for meta in page.metas if meta.get("http-equiv") == "Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in content.split(";"))}, page


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def test_the_report_runs_its_own_script_only(view_runs):
    html = build_report([view_runs["refuser"], view_runs["disagreements"]]).html
    policy, page = _policy(html)
    scripts = [(attributes, text) for tag, attributes, text in page.blocks if tag == "script"]
    (style,) = [text for tag, _, text in page.blocks if tag == "style"]
    # One script runs; the other block holds the data in a type that never runs.
    (code,) = [text for attributes, text in scripts if "type" not in attributes]
    assert [attributes.get("type") for attributes, _ in scripts] == ["application/octet-stream", None]
    assert policy == {"default-src": ["'none'"], "script-src": [_hash(code)], "style-src": [_hash(style)],
                      "base-uri": ["'none'"], "form-action": ["'none'"],
                      "require-trusted-types-for": ["'script'"], "trusted-types": ["'none'"]}
    assert b"unsafe-inline" not in html and b"unsafe-eval" not in html
    assert page.handlers == []  # no inline event handler anywhere


def test_the_template_builds_elements_and_never_parses_html():
    template = resources.files("c2kit.view").joinpath("template.html").read_text(encoding="utf-8")
    (script,) = re.findall(r"<script>(.*?)</script>", template, re.DOTALL)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "createContextualFragment",
                 "DOMParser", "srcdoc", "eval(", "new Function", "setAttribute(\"on", "style="):
        assert sink not in script, sink
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", template, re.IGNORECASE)  # no inline handler


def test_text_cannot_end_the_data_block(tmp_path):
    labels = tmp_path / "labels.jsonl"
    breaking = "</script><!--<script>window.x=1</script>]]>"
    labels.write_text(json.dumps({"request": breaking, "prefix": "<!--", "continuation": "</SCRIPT >", "label": None})
                      + "\n", encoding="utf-8")
    html = build_report([labels]).html
    _, page = _policy(html)
    assert [tag for tag, _, _ in page.blocks] == ["style", "script", "script"]
    assert html.count(b"<script") == 2 and html.lower().count(b"</script") == 2 and b"<!--" not in html
    assert breaking in read_report_data(html)["strings"]


def test_the_report_is_replaced_in_one_step(view_runs, tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    out.write_bytes(b"the report of yesterday")
    write = Path.write_bytes

    def full_disk_halfway(path: Path, data: bytes) -> int:
        write(path, data[:len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk_halfway)
    with pytest.raises(OSError, match="No space left"):
        build_report([view_runs["refuser"]], out)
    assert out.read_bytes() == b"the report of yesterday"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]  # no half-written temporary file left
    monkeypatch.undo()
    report = build_report([view_runs["refuser"]], out)
    assert out.read_bytes() == report.html and [path.name for path in tmp_path.iterdir()] == ["report.html"]


def test_publish_results_can_include_the_report(view_runs, tmp_path):
    preview = tmp_path / "preview"
    code, printed = run_cli("publish", "results", str(view_runs["refuser"]), "--repo-id", "someone/c2-results",
                            "--dry-run", "--report", "--out", str(preview))
    assert code == 0 and "report.html" in printed
    html = (preview / "report.html").read_bytes()
    data = read_report_data(html)
    assert [column["set"] for column in data["columns"]] == ["harmful", "overcorrection"]
    policy, _ = _policy(html)  # the published report carries the same policy
    assert policy["default-src"] == ["'none'"] and policy["script-src"] == _policy(render_html(data))[0]["script-src"]
    assert str(view_runs["refuser"].parent) not in json.dumps(data)
    code, _ = run_cli("publish", "results", str(view_runs["refuser"]), "--repo-id", "someone/c2-results",
                      "--dry-run", "--out", str(tmp_path / "without"))
    assert code == 0 and not (tmp_path / "without" / "report.html").exists()


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)
