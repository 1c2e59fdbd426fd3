"""c2 view of runs calibrated with human labels: each run's card shows its calibrated Corr@k beside the judge's own,
each named, with the calibrated curve and band in its chart; paired runs that are both calibrated get their
calibrated paired difference; a run without labels says how to get them. In a real headless Chromium (skipped,
with the reason, where it cannot be had: tests/browser_env.py), and markup put into every field of the files the
report reads (calibrated.json and scores.json's calibrated block among them) runs nowhere.
``C2_VIEW_CALIBRATED_SCREENSHOT=FILE`` keeps a screenshot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from c2_eval_metric.calibration import calibrated_difference
from c2_eval_metric.corr import format_interval, format_percent
from c2kit.cli import main
from c2kit.view import build_view_data
from view_browser import browser, downloads, hostile_reports_shown  # noqa: F401 (fixtures)
from view_page import open_report
from view_synthetic import label_file, write_improved_copy, write_rejudged_copy, write_synthetic_run

N_LABELS = 36


def scores_of(run: Path) -> dict:
    return json.loads((run / "scores.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """``first`` and ``later`` (the same 12 items, the later model correcting more), each judged by a judge wrong on
    every 4th path and calibrated with 36 labels; ``plain``: later's continuations judged exactly, no labels."""
    root = tmp_path_factory.mktemp("view-calibrated")
    exact = write_synthetic_run(root / "exact", items=12, ks=(10, 20, 30), paths=3, seed=0)
    improved = write_improved_copy(exact, root / "improved")
    runs = {"first": write_rejudged_copy(exact, root / "first", flip_every=4),
            "later": write_rejudged_copy(improved, root / "later", flip_every=4),
            "plain": write_rejudged_copy(improved, root / "plain", flip_every=10**6)}
    for seed, name in enumerate(("first", "later")):
        labels = root / f"{name}-labels.jsonl"
        assert main(["eval", "sample", str(runs[name]), "--n", str(N_LABELS), "--seed", str(seed), "--out",
                     str(labels)]) == 0
        assert main(["eval", "calibrate", str(runs[name]), "--labels", str(label_file(labels))]) == 0
    return runs


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("calibrated-report") / "report.html"
    assert main(["view", *(str(runs[name]) for name in ("first", "later", "plain")), "--out", str(out)]) == 0
    return out


def test_the_view_data_holds_calibrated_figures_beside_the_judges(runs):
    data = build_view_data([runs["first"], runs["later"], runs["plain"]])
    for run, summary in zip((runs["first"], runs["later"]), data["runs"]):
        block = scores_of(run)["calibrated"]
        assert summary["calibrated"] == {key: block[key] for key in ("corr_at_k", "corr_mean", "ci95", "n_labels",
                                                                      "sensitivity", "specificity", "lambda")}
        assert summary["scores"]["corr_mean"] == scores_of(run)["corr_mean"] and summary["labels_hint"] is None
    plain = data["runs"][2]
    assert plain["calibrated"] is None
    assert plain["labels_hint"].startswith("No human labels for this run: 'c2 eval sample plain --n 108 --out "
                                           "plain-labels.jsonl'")
    [paired] = [entry for entry in data["paired"] if entry["calibrated"]]
    assert paired["calibrated"] == json.loads(json.dumps(calibrated_difference(runs["first"], runs["later"])))
    assert str(runs["first"].parent) not in json.dumps(data)  # no local path inside


def test_the_report_shows_calibrated_beside_raw_each_named(browser, report, runs, tmp_path):
    open_report(browser, report)
    cards = browser.find_elements("css selector", "#summary .run")
    first, later, plain, paired = cards[:4]
    for card, run in ((first, runs["first"]), (later, runs["later"])):
        stored = scores_of(run)
        block = stored["calibrated"]
        rows = [[cell.text for cell in row.find_elements("css selector", "th, td")]
                for row in card.find_elements("css selector", "table tr")]
        assert rows[0] == ["k", "judge only (%)", "95% CI", "calibrated (%)", "95% CI", "labels", "items"]
        assert rows[-1] == ["Corr_mean", format_percent(stored["corr_mean"]), format_interval(stored["ci95"]["mean"]),
                            format_percent(block["corr_mean"]), format_interval(block["ci95"]["mean"]),
                            str(N_LABELS), "12"]
        for row, k in zip(rows[1:4], ("10", "20", "30")):
            assert row[:6] == [k, format_percent(stored["corr_at_k"][k]), format_interval(stored["ci95"][k]),
                               format_percent(block["corr_at_k"][k]), format_interval(block["ci95"][k]),
                               str(block["n_labels"][k])]
        assert f"corrected by its errors on {N_LABELS} human labels" in card.text
        chart = card.find_element("css selector", "svg.chart")
        assert chart.find_elements("css selector", "polygon[data-series='calibrated']")  # its band
        assert len(chart.find_elements("css selector", "rect")) == 3  # a point per k
        assert "Corr@k, judge only" in chart.text and "calibrated" in chart.text
    assert "calibrated (%)" not in plain.text and "No human labels for this run" in plain.text
    assert not plain.find_elements("css selector", "polygon[data-series='calibrated']")
    difference = calibrated_difference(runs["first"], runs["later"])
    assert paired.text.startswith("Paired: synthetic/improved − synthetic/full-size")
    assert "Difference, judge only" in paired.text
    assert f"Difference, calibrated with {N_LABELS} and {N_LABELS} human labels" in paired.text
    calibrated_rows = [[cell.text for cell in row.find_elements("css selector", "th, td")]
                       for row in paired.find_elements("css selector", "table")[1].find_elements("css selector", "tr")]
    assert calibrated_rows[-1][:2] == ["Corr_mean", f"{100 * difference['corr_mean_diff']:+.1f}"]
    target = Path(os.environ.get("C2_VIEW_CALIBRATED_SCREENSHOT") or tmp_path / "calibrated.png")
    assert browser.save_screenshot(str(target)) and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_field_of_a_calibrated_run_runs_script_in_the_report(browser, runs, tmp_path):
    from view_hostile import hostile_runs, sort_fields

    sources = [runs[name] for name in ("first", "later", "plain")]
    hostile = hostile_runs(sources, runs["first"].parent, tmp_path / "hostile")
    assert "calibrated.json" in hostile.files  # read for the calibrated paired difference, so walked too
    accepted, refused = sort_fields(hostile, lambda: build_view_data(hostile.inputs))
    every = len(hostile.names) + len(hostile.fields())
    for group, reason in refused.items():  # refused in one line naming the file
        files = [path.name for one in group for path in hostile.files[one.kind]]
        assert "\n" not in reason and any(name in reason for name in files), (group, reason)
    assert sum(map(len, refused)) < 0.05 * every, refused
    shown = hostile_reports_shown(browser, hostile, accepted, tmp_path)
    must_show = [("scores.json", ("calibrated", "corr_at_k", "10"), False),
                 ("scores.json", ("calibrated", "corr_mean"), False),
                 ("scores.json", ("calibrated", "ci95", "mean", None), False),
                 ("scores.json", ("calibrated", "n_labels", "10"), False)]
    missing = [where for where in must_show if where not in shown]
    assert not missing, missing
    of_calibration = sum(one.kind == "calibrated.json" for one in hostile.fields())
    print(f"\n{every} hostile fields ({of_calibration} of calibrated.json): "
          f"{len(accepted)} in reports ({len(shown)} of them shown), {sum(map(len, refused))} refused in one line; "
          "none ran")
