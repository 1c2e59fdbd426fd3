"""``c2 eval sample`` and ``c2 eval calibrate`` on results directories as c2 eval run writes them (synthetic text,
tests/view_synthetic.py): the blind labelling sample, calibrated figures beside the judge's, label files that are
no random sample refused in one line, calibrated.json and its API (load, paired difference, the no-labels hint)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from c2_eval_metric.calibration import (
    Rate,
    calibrate_run,
    calibrated_difference,
    load_calibration,
    write_calibration,
)
from c2_eval_metric.corr import format_interval, format_percent
from c2_eval_metric.labels_hint import labels_hint
from c2_eval_metric.results import GENERATIONS_FILE, JUDGMENTS_FILE, read_scores, write_scored_results
from c2kit.cli import main
from c2kit.jsonio import read_jsonl, write_jsonl
from lock_holders import holding_output_lock
from view_synthetic import REFUSALS, write_rejudged_copy, write_synthetic_run

KS = (10, 20, 30)
LABEL_FIELDS = {"id", "request", "prefix", "prompt", "continuation", "label", "item_id", "k", "path", "sample"}


def person(continuation: str) -> bool:
    """What a reader labels: the synthetic model course-corrects exactly where it wrote a refusal sentence."""
    return any(refusal in continuation for refusal in REFUSALS)


def rows_of(path: Path) -> list[dict]:
    return [row for _, row in read_jsonl(path)]


def labelled(path: Path) -> Path:
    """Fill in every label of a sample file, as a person would."""
    write_jsonl(path, [{**row, "label": person(row["continuation"])} for row in rows_of(path)])
    return path


def all_labelled_corr_mean(run: Path) -> float:
    """Corr_mean if people labelled every continuation of the run (the truth the calibration estimates)."""
    cells: dict[tuple[str, int], list[bool]] = {}
    for row in rows_of(run / GENERATIONS_FILE):
        cells.setdefault((row["item_id"], row["k"]), []).append(person(row["continuation"]))
    per_k = {k: [sum(v) / len(v) for (_, kk), v in cells.items() if kk == k] for k in KS}
    return sum(sum(values) / len(values) for values in per_k.values()) / len(KS)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """``exact``: a run whose judge says corrected exactly where the text refuses; ``biased``: the same
    continuations re-judged by a judge wrong on every 4th path; ``other``: another run with 5 paths per (item, k)."""
    root = tmp_path_factory.mktemp("calibration-runs")
    exact = write_synthetic_run(root / "exact", items=30, ks=KS, paths=4, seed=0)
    biased = write_rejudged_copy(exact, root / "biased", flip_every=4)
    other = write_synthetic_run(root / "other", items=30, ks=KS, paths=5, seed=1)
    return {"exact": exact, "biased": biased, "other": other, "root": root}


@pytest.fixture
def run_copy(runs, tmp_path):
    """A writable copy of a fixture run (calibrate writes calibrated.json into it)."""
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(runs[name], target)
        return target
    return copy


def test_sample_writes_blind_label_rows_in_random_order(runs, tmp_path, capsys):
    out = tmp_path / "sample.jsonl"
    code, printed, _ = run_cli(["eval", "sample", runs["biased"], "--n", 36, "--seed", 5, "--out", out], capsys)
    assert code == 0
    assert "k=10: 12 of 120, k=20: 12 of 120, k=30: 12 of 120" in printed and "c2 eval calibrate" in printed
    rows = rows_of(out)
    assert len(rows) == 36 and all(set(row) == LABEL_FIELDS for row in rows)  # no verdict anywhere
    assert all(row["label"] is None for row in rows)
    generations = {(row["item_id"], row["k"], row["path"]): row for row in rows_of(runs["biased"] / GENERATIONS_FILE)}
    for row in rows:
        source = generations[(row["item_id"], row["k"], row["path"])]
        assert row["continuation"] == source["continuation"] and row["request"] == source["request"]
        assert row["id"] == f"{row['item_id']}/k{row['k']}/p{row['path']}"
        assert row["sample"] == {"design": row["sample"]["design"], "seed": 5, "n": 36,
                                 "strata": {"10": 120, "20": 120, "30": 120}, "sizes": {"10": 12, "20": 12, "30": 12},
                                 "inclusion_probability": 0.1}
    assert [row["k"] for row in rows] != sorted(row["k"] for row in rows)  # shuffled for the labeller
    # The rows are label rows: once labelled, c2 judge validate reads them as they are.
    labelled(out)
    code, printed, _ = run_cli(["judge", "validate", "--judge", "keyword", "--labels", out], capsys)
    assert code == 0 and "on 36 labelled continuations" in printed


def test_sample_refuses_too_small_a_sample_and_an_existing_file(runs, tmp_path, capsys):
    out = tmp_path / "sample.jsonl"
    code, _, err = run_cli(["eval", "sample", runs["exact"], "--n", 8, "--out", out], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--n must be between 9 (3 per k for 3 k values) and 360" in err and not out.exists()
    out.write_text("labels given earlier\n", encoding="utf-8")
    code, _, err = run_cli(["eval", "sample", runs["exact"], "--n", 9, "--out", out], capsys)
    assert code == 2 and "exists" in err and out.read_text(encoding="utf-8") == "labels given earlier\n"
    code, _, _ = run_cli(["eval", "sample", runs["exact"], "--n", 9, "--out", out, "--overwrite"], capsys)
    assert code == 0 and len(rows_of(out)) == 9


def test_calibrate_corrects_a_biased_judge_and_writes_calibrated_json(runs, run_copy, tmp_path, capsys):
    biased = run_copy("biased")
    sample = tmp_path / "sample.jsonl"
    assert run_cli(["eval", "sample", biased, "--n", 90, "--out", sample], capsys)[0] == 0  # seed 0
    code, printed, _ = run_cli(["eval", "calibrate", biased, "--labels", labelled(sample)], capsys)
    assert code == 0
    assert "| k | judge only (%) | calibrated (%) | labels only (%) | labels | judge sensitivity |" in printed
    assert f"calibration written to {biased / 'calibrated.json'}" in printed
    stored = json.loads((biased / "calibrated.json").read_text(encoding="utf-8"))
    assert stored["n_labels"] == {"10": 30, "20": 30, "30": 30, "mean": 90} and len(stored["labels"]) == 90
    truth = all_labelled_corr_mean(biased)
    low, high = stored["ci95"]["mean"]
    assert low <= truth <= high
    assert abs(stored["corr_mean"] - truth) < abs(stored["raw"]["corr_mean"] - truth)  # the judge's bias corrected
    assert stored["raw"]["corr_mean"] == pytest.approx(json.loads((biased / "scores.json").read_text())["corr_mean"])
    assert 0 < stored["lambda"] < 1 and stored["specificity"]["mean"]["value"] < 1  # a judge that errs
    assert stored["labels_only"]["mean"]["ci95"][1] - stored["labels_only"]["mean"]["ci95"][0] > high - low


def test_calibrate_refuses_a_run_another_command_is_writing(runs, run_copy, tmp_path, capsys):
    biased = run_copy("biased")
    sample = tmp_path / "sample.jsonl"
    assert run_cli(["eval", "sample", biased, "--n", 90, "--out", sample], capsys)[0] == 0
    scores_before = (biased / "scores.json").read_bytes()
    with holding_output_lock(biased, "c2 eval run", shared=False) as holder:
        code, _, err = run_cli(["eval", "calibrate", biased, "--labels", labelled(sample)], capsys)
    assert code == 2
    assert err.strip().splitlines() == [f"c2 eval: error: {biased}: the results directory is in use by another run "
                                        f"(pid {holder.pid}: c2 eval run); wait for it to finish or choose another --out"]
    assert not (biased / "calibrated.json").exists() and (biased / "scores.json").read_bytes() == scores_before


def test_the_judge_only_figures_are_the_runs_scores_json_byte_for_byte(runs, run_copy, tmp_path, capsys):
    """calibrated.json's ``raw`` and the printed "judge only" column are the run's scores.json (the bootstrap
    interval depends on the order items are drawn in: a recomputation in another order gives other bounds)."""
    biased = run_copy("biased")
    sample = tmp_path / "sample.jsonl"
    assert run_cli(["eval", "sample", biased, "--n", 60, "--out", sample], capsys)[0] == 0
    scores_before = (biased / "scores.json").read_text(encoding="utf-8")
    code, printed, _ = run_cli(["eval", "calibrate", biased, "--labels", labelled(sample)], capsys)
    assert code == 0
    stored = json.loads(scores_before)
    raw = json.loads((biased / "calibrated.json").read_text(encoding="utf-8"))["raw"]
    assert json.dumps(raw, sort_keys=True) == json.dumps({name: stored[name] for name in raw}, sort_keys=True)
    assert set(raw) >= {"corr_at_k", "corr_mean", "ci95"}
    scores = read_scores(biased)
    table = printed.split("| k | judge only (%)")[1]
    for key, point in [*((str(k), value) for k, value in sorted(scores.corr_at_k.items())),
                       ("mean", scores.corr_mean)]:
        name = "**Corr_mean**" if key == "mean" else key
        shown = f"| {name} | {format_percent(point)} {format_interval(scores.ci95[key])} |"
        assert shown in table, (shown, table)


def test_with_the_exact_judge_calibration_changes_nothing(runs, tmp_path):
    sample = tmp_path / "sample.jsonl"
    write_jsonl(sample, [{**row, "label": person(row["continuation"])} for row in _sample_rows(runs["exact"], 30)])
    calibration = calibrate_run(runs["exact"], sample)
    assert calibration.lam == 1.0
    assert calibration.corr_at_k == pytest.approx(calibration.raw.corr_at_k)
    assert calibration.sensitivity["mean"].value == 1.0 and calibration.specificity["mean"].value == 1.0
    assert calibration.sensitivity["mean"].ci95[0] < 1.0  # Wilson: 1.0 on a few labels is not a proof
    assert "Every label" not in calibration.to_markdown()
    unanimous = replace(calibration, sensitivity={**calibration.sensitivity, "20": Rate.of(0, 0)})
    assert "Every label at k = 20 is the same" in unanimous.to_markdown()  # no label there said "corrected"
    write_calibration(calibration, tmp_path / "elsewhere")
    assert load_calibration(tmp_path / "elsewhere").to_json() == calibration.to_json()


def _sample_rows(run: Path, n: int, seed: int = 0) -> list[dict]:
    from c2_eval_metric.labelling_sample import sample_rows

    return sample_rows(run, n, seed)


def _variants(runs) -> dict[str, tuple[list[dict], str]]:
    """Label files that are not the random sample of ``biased``, and what the refusal must say."""
    good = [{**row, "label": person(row["continuation"])} for row in _sample_rows(runs["biased"], 30)]
    drawn = {(row["item_id"], row["k"], row["path"]) for row in good}
    spare = next(row for row in rows_of(runs["biased"] / GENERATIONS_FILE)
                 if (row["item_id"], row["k"], row["path"]) not in drawn)
    plain = [{name: row[name] for name in ("id", "request", "prefix", "prompt", "continuation", "label")}
             for row in good]
    edited_plan = [dict(row) for row in good]
    edited_plan[4] = {**edited_plan[4], "sample": {**edited_plan[4]["sample"], "seed": 99}}
    edited_text = [dict(row) for row in good]
    edited_text[2] = {**edited_text[2], "continuation": edited_text[2]["continuation"] + " Actually, no."}
    return {
        "rows two judges disagree on": ([{**row, "verdicts": {"keyword-v4": True, "other": False}} for row in plain],
                                        "(rows chosen where two judges disagree are not)"),
        "labels chosen by hand in c2 view": ([{**row, "source": "biased", "item_id": good[n]["item_id"],
                                               "k": good[n]["k"], "path": good[n]["path"], "verdicts": {}}
                                              for n, row in enumerate(plain)], "(rows chosen by hand are not)"),
        "a row removed": (good[:-1], "1 of the 30 sampled continuations are missing"),
        "a row added": (good + [{**good[0], "id": "x", "item_id": spare["item_id"], "k": spare["k"],
                                 "path": spare["path"], "continuation": spare["continuation"]}],
                        "is not in the sample that seed 0 draws"),
        "rows of two samples": (edited_plan, "row 5: its sampling plan (seed 99, n 30) differs from row 1's"),
        "a row without its plan": ([*good[:2], {name: value for name, value in good[2].items() if name != "sample"},
                                    *good[3:]], "row 3: no sampling plan (field 'sample') while row 1 has one"),
        "an unlabelled row": ([*good[:3], {**good[3], "label": None}, *good[4:]],
                              "1 of 30 sampled continuations have no label yet (first: row 4"),
        "a label that is no boolean": ([{**good[0], "label": "yes"}, *good[1:]], "row 1: field 'label' must be true"),
        "an edited continuation": (edited_text, "row 3: the continuation of"),
        "another run's sample": (_sample_rows(runs["other"], 30), "this sample was drawn from another run"),
    }


@pytest.mark.parametrize("variant", ["rows two judges disagree on", "labels chosen by hand in c2 view", "a row removed",
                                     "a row added", "rows of two samples", "a row without its plan",
                                     "an unlabelled row",
                                     "a label that is no boolean", "an edited continuation", "another run's sample"])
def test_labels_that_are_no_random_sample_are_refused_in_one_line(runs, run_copy, tmp_path, capsys, variant):
    rows, reason = _variants(runs)[variant]
    labels = tmp_path / "labels.jsonl"
    write_jsonl(labels, rows)
    biased = run_copy("biased")
    code, printed, err = run_cli(["eval", "calibrate", biased, "--labels", labels], capsys)
    assert code == 2 and printed == "" and len(err.strip().splitlines()) == 1, err
    assert str(labels) in err and reason in err, err
    assert not (biased / "calibrated.json").exists()
    if variant in ("rows two judges disagree on", "labels chosen by hand in c2 view"):
        assert "not a random sample" in err and "still serves c2 judge validate" in err
        from c2kit.judges.validation import read_labels

        assert len(read_labels(labels)) == 30  # they still serve c2 judge validate


def test_a_calibration_goes_stale_when_the_judgments_change(run_copy, tmp_path):
    biased = run_copy("biased")
    assert load_calibration(biased) is None
    sample = tmp_path / "sample.jsonl"
    write_jsonl(sample, [{**row, "label": person(row["continuation"])} for row in _sample_rows(biased, 30)])
    write_calibration(calibrate_run(biased, sample), biased)
    assert load_calibration(biased).n_labels["mean"] == 30
    moved = shutil.copytree(biased, tmp_path / "moved")  # a run moved with its calibration keeps it
    assert load_calibration(moved).run == str(moved.resolve())
    judgments = rows_of(biased / JUDGMENTS_FILE)
    judgments[0]["corrected"] = not judgments[0]["corrected"]
    write_jsonl(biased / JUDGMENTS_FILE, judgments)
    with pytest.raises(ValueError, match="changed since this calibration was made; run 'c2 eval calibrate"):
        load_calibration(biased)


def _improved(run: Path, out: Path) -> Path:
    """The run as a model that corrects more would leave it: on even items every path at k=10 and 20 refuses,
    judged by the same kind of biased judge (wrong on every 4th path)."""
    generations = rows_of(run / GENERATIONS_FILE)
    for row in generations:
        if int(row["item_id"]) % 2 == 0 and row["k"] < 30 and not person(row["continuation"]):
            row["continuation"] += " " + REFUSALS[1]
    exact = out.parent / f"{out.name}-exact"
    exact.mkdir(parents=True)
    write_jsonl(exact / GENERATIONS_FILE, generations)
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    write_scored_results(exact, [{"item_id": row["item_id"], "k": row["k"], "path": row["path"],
                                  "judge": "synthetic-judge", "corrected": person(row["continuation"])}
                                 for row in generations], judge="synthetic-judge", config=config)
    return write_rejudged_copy(exact, out, flip_every=4)


def test_the_paired_difference_of_two_calibrated_runs(runs, run_copy, tmp_path):
    first = run_copy("biased")
    later = _improved(first, tmp_path / "later")
    assert calibrated_difference(first, later) is None  # no labels yet
    for run, seed in ((first, 1), (later, 2)):
        sample = tmp_path / f"{run.name}.jsonl"
        write_jsonl(sample, [{**row, "label": person(row["continuation"])} for row in _sample_rows(run, 60, seed)])
        write_calibration(calibrate_run(run, sample), run)
    difference = calibrated_difference(first, later)
    truth = all_labelled_corr_mean(later) - all_labelled_corr_mean(first)
    assert truth > 0.1
    assert difference["ci95"][0] <= truth <= difference["ci95"][1] and difference["ci95"][0] > 0
    assert difference["p_value"] < 0.05 and difference["n_items"] == 30 and difference["n_labels"] == [60, 60]
    assert set(difference["per_k"]) == {"10", "20", "30"} and difference["ks"] == list(KS)
    assert difference["corr_mean_diff"] == pytest.approx(load_calibration(later).corr_mean
                                                         - load_calibration(first).corr_mean)


def test_the_hint_for_a_run_without_labels(runs, tmp_path):
    line = labels_hint(runs["biased"])
    assert "\n" not in line
    assert f"c2 eval sample {runs['biased']} --n 360 --out biased-labels.jsonl" in line  # the run has 360
    assert f"c2 eval calibrate {runs['biased']} --labels biased-labels.jsonl" in line
    assert "with 100 labels" in line and "other-judge has no validation figures" in line
    keyword = tmp_path / "keyword-run"
    keyword.mkdir()
    shutil.copyfile(runs["exact"] / GENERATIONS_FILE, keyword / GENERATIONS_FILE)
    write_scored_results(keyword, [{**row, "judge": "keyword-v4"} for row in rows_of(runs["exact"] / JUDGMENTS_FILE)],
                         judge="keyword-v4")
    line = labels_hint(keyword)
    from c2kit.judges.trust import judge_figures, measured_figures

    sets = measured_figures()["sets"]
    real = {name: entry for name, entry in judge_figures("keyword-v4").items() if sets[name]["real_outputs"]}
    weakest = min(real, key=lambda name: real[name]["kappa"])  # the figures grow as sets are added
    precision = real[weakest]["precision"]
    assert f"as on {weakest} (its weakest validation on real outputs: precision {precision:.2f}" in line
    widths = [float(line.split("about ")[1].split(" points")[0]),
              float(line.split(" labels and ")[1].split(" with")[0])]
    judge_only = float(line.split("judge only: ")[1].split(",")[0])
    assert widths[0] > widths[1] >= judge_only


def _widths_in(line: str) -> list[int]:
    """The forecast widths of a hint line, in points."""
    forecast = line.split("expected 95% interval of Corr_mean about ")[1].split(" (judge only")[0]
    return [int(part.split(" ")[0]) for part in forecast.replace(" points wide", "").split(" and ")]


def test_the_hint_of_a_run_smaller_than_the_counts_forecasts_for_all_its_continuations(tmp_path, monkeypatch):
    """A run of 120 continuations has no 400 to label: its second forecast is for all 120, said as such; a run of
    60 gets one forecast only. Forecast with the judge's true error rates on the run, the widths are those that
    c2 eval calibrate then gives (labels of every continuation, and the mean over draws of 100)."""
    small = write_rejudged_copy(write_synthetic_run(tmp_path / "exact", items=10, ks=KS, paths=4, seed=0),
                                tmp_path / "small", flip_every=4)
    truth = {(row["item_id"], row["k"], row["path"]): person(row["continuation"])
             for row in rows_of(small / GENERATIONS_FILE)}
    verdicts = [(row["corrected"], truth[(row["item_id"], row["k"], row["path"])])
                for row in rows_of(small / JUDGMENTS_FILE)]
    precision = sum(label for said, label in verdicts if said) / sum(said for said, _ in verdicts)
    npv = sum(not label for said, label in verdicts if not said) / sum(not said for said, _ in verdicts)
    monkeypatch.setattr("c2_eval_metric.labels_hint._error_rates", lambda judge: (precision, npv, "on this run"))
    line = labels_hint(small)
    assert f"c2 eval sample {small} --n 120 --out small-labels.jsonl" in line
    assert " with 100 labels and " in line and " with all 120 of the run's continuations labelled (judge only" in line
    forecast = _widths_in(line)
    assert len(forecast) == 2 and forecast[0] >= forecast[1]

    def calibrated_width(n: int, seed: int) -> float:
        sample = tmp_path / f"sample-{n}-{seed}.jsonl"
        write_jsonl(sample, [{**row, "label": truth[(row["item_id"], row["k"], row["path"])]}
                             for row in _sample_rows(small, n, seed)])
        low, high = calibrate_run(small, sample).ci95["mean"]
        return 100 * (high - low)

    every = calibrated_width(120, 0)
    hundred = sum(calibrated_width(100, seed) for seed in range(5)) / 5
    assert 0.75 < forecast[1] / every < 1.33 and 0.75 < forecast[0] / hundred < 1.33, (forecast, every, hundred)

    tiny = write_synthetic_run(tmp_path / "tiny", items=5, ks=KS, paths=4, seed=2)
    line = labels_hint(tiny)
    assert "--n 60 --out tiny-labels.jsonl" in line and "100 labels" not in line
    assert " points wide with all 60 of the run's continuations labelled (judge only" in line
    assert len(_widths_in(line)) == 1


def test_equal_forecasts_say_that_the_items_make_the_width():
    from c2_eval_metric.labels_hint import _widths

    assert _widths([100, 120], [26, 26], 120) == (
        "26 points wide with 100 labels and 26 with all 120 of the run's continuations labelled; more labels barely "
        "narrow it here: most of its width is which items the run holds, as the judge's own interval shows")
    assert _widths([100, 400], [17, 11], 600) == "17 points wide with 100 labels and 11 with 400"
