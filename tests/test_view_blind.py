"""Blind label mode in a real headless Chromium: a random sample of a real run drawn by ``c2 eval sample`` opens
with ``c2 view sample.jsonl RUN`` in a seeded random order with no judge's verdict anywhere in the page; each
continuation is labelled by clicking, its verdict shows only then, the labels are downloaded in the sample's
own format, and ``c2 judge validate`` and ``c2 eval calibrate`` take them: the calibrated table is printed and
calibrated.json holds the clicked labels and the judge's sensitivity and specificity on them. Markup in every
field of the sample and the runs it borrows verdicts from runs nowhere. ``C2_VIEW_BLIND_SCREENSHOT=DIR`` keeps
the screenshots (before and after a continuation is labelled).

Skipped, with the reason, where Chromium cannot be had (tests/browser_env.py).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from view_browser import browser, download_labels, downloads, hostile_reports_shown  # noqa: F401 (fixtures)
from view_page import open_report
from view_runs import REFUSAL, mixed_run, run_cli, view_runs, view_sample  # noqa: F401 (fixtures)

N_LABELS = 40
# Every text and attribute value of the page but its scripts: what a person could see, tooltips included.
PAGE_TEXT = """
const parts = [document.title];
for (const node of document.body.querySelectorAll("*")) {
  if (node.localName === "script") continue;
  for (const name of node.getAttributeNames()) parts.push(node.getAttribute(name));
}
for (const node of document.body.children) if (node.localName !== "script") parts.push(node.textContent);
return parts.join("\\n");
"""
# What would give a verdict away: a verdict's words, a judge's name, a percentage (a score), a located correction.
VERDICT = re.compile(r"\bcorrected\b|keyword|unparsed|%|\bCorr@k \(")


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sample(mixed_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("blind") / "sample.jsonl"
    code, _ = run_cli("eval", "sample", str(mixed_run), "--n", str(N_LABELS), "--seed", "3", "--out", str(out))
    assert code == 0
    return out


@pytest.fixture(scope="module")
def blind_report(mixed_run, sample) -> Path:
    out = sample.parent / "blind.html"
    code, printed = run_cli("view", str(sample), str(mixed_run), "--out", str(out))
    assert code == 0
    assert printed.startswith(f"report written to {out} (blind label mode: {N_LABELS} sampled continuations in a "
                              "random order, 1 judge's verdicts shown on each only once it is labelled, "), printed
    return out


def entry_ids(driver) -> list[str]:
    """The list's sampled continuations, in the order shown (their ids)."""
    return driver.execute_script("return [...document.querySelectorAll('#list .entry[data-item]')].map("
                                 "(entry) => entry.querySelector('b').textContent.replace(/^\\d+\\. item /, ''))")


def verdicts_shown(driver) -> list[str]:
    return [node.text for node in driver.find_elements("css selector", "#detail .v")]


def judge_verdicts(run: Path) -> tuple[str, dict[str, bool]]:
    rows = rows_of(run / "judgments.jsonl")
    return rows[0]["judge"], {f"{row['item_id']}/k{row['k']}/p{row['path']}": row["corrected"] for row in rows}


def label_rule(position: int, continuation: str) -> bool:
    """The labeller's deterministic rule: a refusal steers away, except on every fifth continuation, where the
    labeller reads it the other way (so the judge has errors on the labels)."""
    return (continuation == REFUSAL) != (position % 5 == 2)


def test_label_a_sample_blind_then_calibrate_it(browser, blind_report, sample, mixed_run, downloads, tmp_path,
                                                capsys):
    judge, verdicts = judge_verdicts(mixed_run)
    open_report(browser, blind_report)
    # Before any label: no verdict, judge name, score or highlighted correction anywhere in the page.
    text = browser.execute_script(PAGE_TEXT)
    assert not VERDICT.search(text), VERDICT.search(text)
    assert not browser.find_elements("css selector", ".v, mark, svg.chart, #f-corr, #f-disagree, #f-unparsed")
    assert "labelling" in browser.find_element("tag name", "body").get_attribute("class")
    assert (f"{N_LABELS} continuations drawn at random from the run's 60 (seed 3; k=10: 20 of 30, k=20: 20 of 30), "
            "shown in a random order.") in browser.find_element("id", "summary").text
    assert browser.find_element("id", "label-count").text == f"0 of {N_LABELS} labelled"
    # A random order, the same after a reload: neither the file's nor one sorted by k or item.
    order = entry_ids(browser)
    in_file = [row["id"] for row in rows_of(sample)]
    assert sorted(order) == sorted(in_file) and len(order) == N_LABELS
    assert order != in_file and order != sorted(order, key=lambda id_: (int(id_.split("/k")[1].split("/")[0]), id_))
    open_report(browser, blind_report)
    assert entry_ids(browser) == order

    clicked: dict[str, bool] = {}
    for position, row_id in enumerate(order):
        browser.find_element("css selector", f'#list .entry[data-item="{position}"]').click()
        path = browser.find_element("css selector", "#detail .path")
        assert path.get_attribute("data-label-id") == row_id
        assert verdicts_shown(browser) == [] and not browser.find_elements("css selector", "#detail mark")
        label = label_rule(position, path.find_element("css selector", ".part.cont").text)
        path.find_element("css selector", f'button[data-label="{int(label)}"]').click()
        clicked[row_id] = label
        # Labelled: now its judge's verdict shows beside the label.
        word = "corrected" if verdicts[row_id] else "not corrected"
        assert verdicts_shown(browser) == [f"{judge}: {word}"], row_id
        assert f"label: {'steers away' if label else 'does not'}" in browser.find_element("id", "detail").text
    assert browser.find_element("id", "label-count").text == f"{N_LABELS} of {N_LABELS} labelled"
    assert len(set(clicked.values())) == 2 and any(clicked[i] != verdicts[i] for i in clicked)

    # The labels come back as the sample itself: every row, in its order, with its plan; only the labels filled in.
    saved = download_labels(browser, downloads)
    assert [{**row, "label": clicked[row["id"]]} for row in rows_of(sample)] == rows_of(saved)

    code, _ = run_cli("judge", "validate", "--judge", judge, "--labels", str(saved), "--out", str(tmp_path))
    assert code == 0
    validation = json.loads((tmp_path / "validation.json").read_text())
    result = validation["reports"][0] if "reports" in validation else validation
    agree = sum(clicked[i] == verdicts[i] for i in clicked)
    assert result["n"] == N_LABELS and result["metrics"]["accuracy"]["value"] == pytest.approx(agree / N_LABELS)

    capsys.readouterr()
    code, printed = run_cli("eval", "calibrate", str(mixed_run), "--labels", str(saved))
    assert code == 0, capsys.readouterr().err
    assert "| k | judge only (%) | calibrated (%) | labels only (%) | labels |" in printed
    assert f"calibration written to {mixed_run / 'calibrated.json'}" in printed
    calibrated = json.loads((mixed_run / "calibrated.json").read_text())
    drawn = {row["id"]: row for row in rows_of(sample)}
    assert calibrated["labels"] == sorted([drawn[i]["item_id"], drawn[i]["k"], drawn[i]["path"], clicked[i]]
                                          for i in clicked)
    # The labels' count and the judge's sensitivity and specificity, recomputed from the clicks, per k and over all.
    scores = json.loads((mixed_run / "scores.json").read_text())
    for k in ("10", "20", "mean"):
        chosen = [i for i in clicked if k == "mean" or str(drawn[i]["k"]) == k]
        positives = [i for i in chosen if clicked[i]]
        negatives = [i for i in chosen if not clicked[i]]
        assert calibrated["n_labels"][k] == len(chosen)
        assert calibrated["sensitivity"][k]["n"] == len(positives)
        assert calibrated["sensitivity"][k]["value"] == pytest.approx(
            sum(verdicts[i] for i in positives) / len(positives))
        assert calibrated["specificity"][k]["n"] == len(negatives)
        assert calibrated["specificity"][k]["value"] == pytest.approx(
            sum(not verdicts[i] for i in negatives) / len(negatives))
        if k != "mean":  # equal paths per item: the labels-alone Corr@k is the share of labels that say corrected
            assert calibrated["labels_only"][k]["estimate"] == pytest.approx(len(positives) / len(chosen))
            assert calibrated["raw"]["corr_at_k"][k] == pytest.approx(scores["corr_at_k"][k])
            low, high = calibrated["ci95"][k]
            assert low <= calibrated["corr_at_k"][k] <= high
    assert calibrated["n_labels"]["mean"] == N_LABELS and calibrated["sample"]["seed"] == 3


def test_screenshots_before_and_after_a_label(browser, blind_report, tmp_path):
    folder = Path(os.environ.get("C2_VIEW_BLIND_SCREENSHOT") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    open_report(browser, blind_report)
    before, after = folder / "view-blind-before.png", folder / "view-blind-after.png"
    assert browser.save_screenshot(str(before)) and verdicts_shown(browser) == []
    browser.find_element("css selector", '#detail .path button[data-label="1"]').click()
    assert len(verdicts_shown(browser)) == 1
    assert browser.save_screenshot(str(after))
    for shot in (before, after):
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


@pytest.fixture(scope="module")
def hostile_sample(view_runs, view_sample, tmp_path_factory):
    """Copies of a labelling sample and the two runs it borrows verdicts from (the refuser's run and its
    re-judged copy), with markup in every field (tests/view_hostile.py)."""
    from c2kit.view import build_view_data
    from view_hostile import hostile_runs, sort_fields

    sources = [view_sample, view_runs["refuser"], view_runs["rejudged"]]
    runs = hostile_runs(sources, view_runs["refuser"].parent, tmp_path_factory.mktemp("hostile-blind") / "runs")
    accepted, refused = sort_fields(runs, lambda: build_view_data(runs.inputs))
    return runs, accepted, refused


# The sample's fields the page shows, and the judges' names it shows once a continuation is labelled.
MUST_SHOW = [("label file", (None, "request"), False), ("label file", (None, "prefix"), False),
             ("label file", (None, "continuation"), False), ("label file", (None, "id"), False),
             ("judgments.jsonl", (None, "judge"), False), ("input name", (), True)]


def may_refuse(one) -> bool:
    """What a report of a sample may refuse: a field it needs renamed away, a k or path that is no number, a label
    that is not true, false or null, and its sampling plan's numbers."""
    return one.key or one.path[-1] in ("k", "path", "label") or "sample" in one.path


def test_no_field_of_a_sample_runs_script_in_blind_mode(browser, hostile_sample, tmp_path):
    runs, accepted, refused = hostile_sample
    # The sample's file is walked, its sampling plan included, and the files the verdicts come from.
    assert "judgments.jsonl" in runs.files and "generations.jsonl" in runs.files
    assert {one.path[1] for one in runs.fields() if one.kind == "label file" and len(one.path) > 1} >= {
        "id", "request", "prefix", "prompt", "continuation", "label", "item_id", "k", "path", "sample"}
    assert any(one.path[1:] == ("sample", "seed") for one in runs.fields() if one.kind == "label file")
    for group, reason in refused.items():
        files = [path.name for one in group for path in runs.files[one.kind]]
        assert "\n" not in reason and any(name in reason for name in files), (group, reason)
        assert all(map(may_refuse, group)), (group, reason)

    def label_every_row(driver) -> None:  # so every verdict, and the judges' names, are shown too
        for position in range(len(driver.find_elements("css selector", "#list .entry[data-item]"))):
            driver.find_element("css selector", f'#list .entry[data-item="{position}"]').click()
            driver.find_element("css selector", '#detail .path button[data-label="1"]').click()

    shown = hostile_reports_shown(browser, runs, accepted, tmp_path, label_every_row)
    missing = [where for where in MUST_SHOW if where not in shown]
    assert not missing, missing
    sample_fields = [one for one in runs.fields() if one.kind == "label file"]
    print(f"\n{len(sample_fields)} hostile fields of the sample, {len(runs.fields())} in all: {len(accepted)} in "
          f"reports ({len(shown)} of them shown), {sum(map(len, refused))} refused in one line; none ran")
