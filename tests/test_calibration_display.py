"""Corr@k calibrated with human labels is shown beside the judge's own wherever a run's numbers are shown: the
console table, summary.md, scores.json (checked against calibrated.json and the labels, as its judge-only
figures are against the verdicts), c2 eval compare's table and paired difference, and the results card. A run
without labels says in one line how to get them. Synthetic runs as c2 eval run writes them (tests/view_synthetic.py);
the plots are checked in tests/test_plots.py, c2 view in tests/test_view_calibrated.py."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from c2_eval_metric.calibration import calibrated_difference
from c2_eval_metric.consistency import ScoresMismatch, check_results_dir
from c2_eval_metric.console import results_report
from c2_eval_metric.corr import format_interval, format_percent
from c2_eval_metric.paired import format_difference
from c2_eval_metric.results import read_judgments, read_scores, write_scored_results
from c2kit.cli import main
from c2kit.jsonio import read_jsonl, write_jsonl
from view_synthetic import corrects, label_file, write_improved_copy, write_rejudged_copy, write_synthetic_run

KS = (10, 20, 30)
N_LABELS = 60
STANDARD = ("corr_at_k", "corr_mean", "ci95", "n_items", "paths", "judge")


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def label_sample(run: Path, out: Path, seed: int, capsys) -> Path:
    """``c2 eval sample`` of the run, every label filled in as a person would."""
    assert run_cli(capsys, "eval", "sample", run, "--n", N_LABELS, "--seed", seed, "--out", out)[0] == 0
    return label_file(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """``biased``: 40 items x 3 k x 4 paths judged by a judge wrong on every 4th path; ``improved``: the same items
    as a model that corrects more answered them, judged the same biased way; ``exact``: biased's continuations
    judged exactly."""
    root = tmp_path_factory.mktemp("calibration-display")
    exact = write_synthetic_run(root / "exact", items=40, ks=KS, paths=4, seed=0)
    biased = write_rejudged_copy(exact, root / "biased", flip_every=4)
    improved = write_rejudged_copy(write_improved_copy(exact, root / "improved-exact"), root / "improved",
                                   flip_every=4)
    return {"exact": exact, "biased": biased, "improved": improved}


@pytest.fixture
def copy_of(runs, tmp_path):
    def copy(name: str, as_name: str | None = None) -> Path:
        return Path(shutil.copytree(runs[name], tmp_path / (as_name or name)))
    return copy


@pytest.fixture
def calibrated(copy_of, tmp_path, capsys):
    """A calibrated copy of a run (``c2 eval calibrate`` into it) and its labels file."""
    def make(name: str, seed: int = 1) -> tuple[Path, Path]:
        run = copy_of(name)
        labels = label_sample(run, tmp_path / f"{name}-labels.jsonl", seed, capsys)
        code, printed, err = run_cli(capsys, "eval", "calibrate", run, "--labels", labels)
        assert code == 0, err
        assert printed.endswith(f"scores.json, summary.md, corr_at_k.png of {run} now show the calibrated Corr@k "
                                "beside the judge's own\n")
        return run, labels
    return make


def truth(run: Path) -> dict[int, float]:
    """Corr@k as people would label every continuation of the run."""
    cells: dict[tuple[str, int], list[bool]] = {}
    for _, row in read_jsonl(run / "generations.jsonl"):
        cells.setdefault((row["item_id"], row["k"]), []).append(corrects(row["continuation"]))
    return {k: sum(sum(v) / len(v) for (_, kk), v in cells.items() if kk == k) / sum(kk == k for _, kk in cells)
            for k in KS}


def side_by_side_row(scores, block, key: str) -> str:
    """The start of the calibrated table's row for k (or ``"mean"``): the judge's figure, then the calibrated one."""
    raw, raw_ci = (scores.corr_mean, scores.ci95["mean"]) if key == "mean" else (scores.corr_at_k[int(key)],
                                                                                 scores.ci95[key])
    value = block["corr_mean"] if key == "mean" else block["corr_at_k"][key]
    calibrated = f"{format_percent(value)} {format_interval(block['ci95'][key])}"
    name, calibrated = ("**Corr_mean**", f"**{calibrated}**") if key == "mean" else (key, calibrated)
    return f"| {name} | {format_percent(raw)} {format_interval(raw_ci)} | {calibrated} |"


def test_a_run_without_labels_says_in_one_line_how_to_get_them(runs, tmp_path, capsys):
    out = tmp_path / "rescored"
    code, printed, _ = run_cli(capsys, "eval", "score", "--results", runs["exact"], "--judge", "keyword", "--out", out)
    assert code == 0
    hints = [line for line in printed.splitlines() if line.startswith("No human labels for this run")]
    assert len(hints) == 1  # one line
    hint = hints[0]
    assert f"'c2 eval sample {out} --n 400 --out rescored-labels.jsonl'" in hint  # the run has 480 continuations
    assert f"'c2 eval calibrate {out} --labels rescored-labels.jsonl'" in hint
    widths = [float(hint.split("about ")[1].split(" points wide with 100 labels")[0]),
              float(hint.split(" labels and ")[1].split(" with 400")[0])]
    assert widths[0] > widths[1] > 0  # the width expected with 100, then 400 labels
    # Under the Corr@k table, before what follows it.
    assert printed.index("| **Corr_mean** |") < printed.index(hint) < printed.index("By harm_category")
    assert hint in results_report(out, read_scores(out))
    summary = (out / "summary.md").read_text(encoding="utf-8")
    # summary.md names the run by its folder, where it lies: the same line, no local path.
    assert hint.replace(str(out), "rescored") in summary.splitlines()
    assert str(tmp_path) not in hint.replace(str(out), "rescored")
    assert summary.index("| **Corr_mean** |") < summary.index("No human labels") < summary.index("- k values:")
    assert "calibrated" not in json.loads((out / "scores.json").read_text(encoding="utf-8"))


def test_runs_without_continuations_get_no_hint(tmp_path, capsys):
    judged = tmp_path / "judged.jsonl"
    write_jsonl(judged, [{"item_id": str(i), "k": 10, "path": 0, "judge": "keyword-v4", "corrected": i % 2 == 0}
                         for i in range(4)])
    code, printed, _ = run_cli(capsys, "eval", "score", "--judged", judged, "--out", tmp_path / "out")
    assert code == 0 and "No human labels" not in printed and "calibrate" not in printed


def test_calibrate_shows_calibrated_beside_raw_in_console_summary_and_scores(runs, calibrated, capsys):
    before = json.loads((runs["biased"] / "scores.json").read_text(encoding="utf-8"))
    summary_before = (runs["biased"] / "summary.md").read_text(encoding="utf-8")
    plot_before = (runs["biased"] / "corr_at_k.png").read_bytes()
    run, labels = calibrated("biased")
    stored = json.loads((run / "scores.json").read_text(encoding="utf-8"))
    # The judge's own figures stay exactly as they were; the calibrated ones sit beside them, named.
    assert {name: stored[name] for name in before} == before
    block = stored["calibrated"]
    calibration = json.loads((run / "calibrated.json").read_text(encoding="utf-8"))
    for name in ("corr_at_k", "corr_mean", "ci95", "n_labels", "sensitivity", "specificity", "lambda", "judge"):
        assert block[name] == calibration[name], name
    assert block["n_labels"]["mean"] == N_LABELS and "judge's own" in block["note"]
    assert block["labels_file"] == str(labels.resolve()) and block["file"] == "calibrated.json"
    assert block["judgments_sha256"] == hashlib.sha256((run / "judgments.jsonl").read_bytes()).hexdigest()
    assert block["labels_sha256"] == hashlib.sha256(json.dumps(calibration["labels"], separators=(",", ":"))
                                                    .encode()).hexdigest()
    low, high = block["ci95"]["mean"]
    assert low <= sum(truth(run).values()) / len(KS) <= high

    scores = read_scores(run)
    summary = (run / "summary.md").read_text(encoding="utf-8")
    assert summary.split("<!-- calibrated")[0] == summary_before.split("<!-- calibrated")[0]  # the raw table kept
    assert "No human labels" not in summary
    assert "| k | judge only (%) | calibrated (%) | labels only (%) | labels |" in summary
    assert f"**Calibrated with {N_LABELS} human labels** (`calibrated.json`). *judge only*:" in summary
    for key in [*map(str, KS), "mean"]:
        assert side_by_side_row(scores, block, key) in summary, key
    report = results_report(run, scores)
    assert report.startswith(scores.to_markdown()) and "No human labels" not in report
    for key in [*map(str, KS), "mean"]:
        assert side_by_side_row(scores, block, key) in report, key
    assert (run / "corr_at_k.png").read_bytes() != plot_before  # drawn again, with the calibrated band


def test_scoring_the_same_verdicts_again_keeps_the_calibration_and_other_verdicts_drop_it(calibrated, capsys):
    run, labels = calibrated("biased")
    block = json.loads((run / "scores.json").read_text(encoding="utf-8"))["calibrated"]
    rows, config = read_judgments(run), json.loads((run / "config.json").read_text(encoding="utf-8"))
    write_scored_results(run, rows, judge="other-judge", config=config)  # as a resumed run writes it again
    assert json.loads((run / "scores.json").read_text(encoding="utf-8"))["calibrated"] == block
    assert "| k | judge only (%) | calibrated (%)" in (run / "summary.md").read_text(encoding="utf-8")
    assert check_results_dir(run) == []

    rows[0]["corrected"] = not rows[0]["corrected"]
    write_scored_results(run, rows, judge="other-judge", config=config)  # other verdicts: the labels no longer apply
    assert "calibrated" not in json.loads((run / "scores.json").read_text(encoding="utf-8"))
    summary = (run / "summary.md").read_text(encoding="utf-8")
    assert "calibrated (%)" not in summary
    [line] = [line for line in summary.splitlines() if line.startswith("Not calibrated: ")]
    assert line.startswith(f"Not calibrated: {run.name}/calibrated.json: {run.name}/judgments.jsonl changed since "
                           f"this calibration was made; run 'c2 eval calibrate {run.name} --labels ")
    assert f"Not calibrated: {run}/calibrated.json: " in results_report(run, read_scores(run))  # its path, as given
    assert check_results_dir(run) == []  # nothing shown as calibrated, nothing to refuse


def test_a_stale_or_edited_calibrated_block_is_refused(calibrated, tmp_path, capsys):
    run, labels = calibrated("biased")
    assert check_results_dir(run) == []  # checked against calibrated.json and made again from the labels
    scores_file = run / "scores.json"
    original = scores_file.read_text(encoding="utf-8")

    edited = json.loads(original)
    edited["calibrated"]["corr_at_k"]["20"] += 0.05
    scores_file.write_text(json.dumps(edited), encoding="utf-8")
    with pytest.raises(ScoresMismatch, match=r"field calibrated: corr_at_k\[20\] is .* but .*calibrated.json gives"):
        check_results_dir(run)
    code, printed, err = run_cli(capsys, "eval", "compare", run, run, "--out", tmp_path / "cmp")
    assert code == 2 and printed == "" and len(err.strip().splitlines()) == 1
    assert f"--labels {labels.resolve()}' again" in err and not (tmp_path / "cmp").exists()
    scores_file.write_text(original, encoding="utf-8")

    rows = [row for _, row in read_jsonl(labels)]
    rows[0]["label"] = not rows[0]["label"]  # a label corrected after calibrating: the figures are stale
    write_jsonl(labels, rows)
    with pytest.raises(ScoresMismatch, match=f"made with other labels than {labels.resolve()} holds"):
        check_results_dir(run)

    moved = labels.rename(tmp_path / "elsewhere.jsonl")
    assert check_results_dir(run) == []  # the labels file gone: checked against calibrated.json alone
    (run / "calibrated.json").rename(tmp_path / "calibrated.json")
    assert check_results_dir(run) == ["calibrated.json"]  # nothing to check it against: callers say so
    code, printed, _ = run_cli(capsys, "view", run, "--out", tmp_path / "report.html")
    assert code == 0 and "no calibrated.json to check it against" in printed
    assert moved.is_file()


def test_compare_shows_calibrated_figures_and_the_calibrated_paired_difference(calibrated, runs, tmp_path, capsys):
    first, _ = calibrated("biased", seed=1)
    later, _ = calibrated("improved", seed=2)
    code, table, _ = run_cli(capsys, "eval", "compare", first, later, "--out", tmp_path / "cmp")
    assert code == 0
    assert "Corr@k in %, judge only (the judge's own verdicts), with the 95% item-bootstrap interval" in table
    blocks = [json.loads((run / "scores.json").read_text(encoding="utf-8"))["calibrated"] for run in (first, later)]
    calibrated_part = table.split("**Calibrated with human labels**")[1].split("Paired difference")[0]
    for key in map(str, KS):
        cells = [f"{format_percent(b['corr_at_k'][key])} {format_interval(b['ci95'][key])}" for b in blocks]
        assert f"| {key} | {cells[0]} | {cells[1]} |" in calibrated_part
    assert f"| labels | {N_LABELS} | {N_LABELS} |" in calibrated_part and "No human labels" not in table

    difference = calibrated_difference(first, later)
    heading = ("Paired difference from **synthetic/full-size**, calibrated with human labels (same items, each run's "
               "own random sample of labels;")
    paired = table.split(heading)[1]
    assert f"| **Corr_mean** | **{format_difference(difference)}** |" in paired
    for k in KS:
        assert f"| {k} | {format_difference(difference['per_k'][str(k)], 'corr_at_k_diff')} |" in paired
    # The judge-only paired difference is still there, named as before, above it.
    assert table.index("Paired difference from **synthetic/full-size** (same items;") < table.index(heading)
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text(encoding="utf-8"))
    assert data["runs"][1]["calibrated_paired_vs_first"] == json.loads(json.dumps(difference))
    assert data["runs"][1]["scores"]["calibrated"] == blocks[1]
    # The calibrated difference holds what people would say: the model corrects more at k=10 only.
    gain = truth(later)[10] - truth(first)[10]
    low, high = difference["per_k"]["10"]["ci95"]
    assert gain > 0.2 and low <= gain <= high


def test_compare_with_one_run_labelled_names_the_other_and_how_to_label_it(calibrated, copy_of, tmp_path, capsys):
    first, _ = calibrated("biased")
    later = copy_of("improved")
    code, table, _ = run_cli(capsys, "eval", "compare", first, later, "--out", tmp_path / "cmp")
    assert code == 0
    assert "| **Corr_mean** | **" in table.split("**Calibrated with human labels**")[1]
    assert "| labels | 60 | – |" in table and "no labels" in table
    [hint] = [line for line in table.splitlines() if line.startswith("- **synthetic/improved**: ")]
    assert f"'c2 eval sample {later} --n 400" in hint
    assert "calibrated with human labels (same items" not in table  # no calibrated paired difference
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text(encoding="utf-8"))
    assert data["runs"][1]["calibrated_paired_vs_first"] is None
    assert data["runs"][1]["calibrated_paired_note"].startswith("not both runs are calibrated")


def test_calibrate_out_elsewhere_leaves_the_run_as_it_is(copy_of, tmp_path, capsys):
    run = copy_of("biased")
    files = {path.name: path.read_bytes() for path in run.iterdir()}
    labels = label_sample(run, tmp_path / "labels.jsonl", 1, capsys)
    out = tmp_path / "calibration"
    code, printed, _ = run_cli(capsys, "eval", "calibrate", run, "--labels", labels, "--out", out)
    assert code == 0
    assert {path.name: path.read_bytes() for path in run.iterdir()} == files
    assert sorted(path.name for path in out.iterdir() if not path.name.startswith(".")) == ["calibrated.json",
                                                                                          "corr_at_k.png"]  # .lock
    assert f"{run}'s own files are left as they are (--out)" in printed and f"{out / 'corr_at_k.png'} shows" in printed


def test_the_results_card_shows_calibrated_beside_raw(calibrated, copy_of, tmp_path, capsys):
    run, _ = calibrated("biased")
    preview = tmp_path / "preview"
    code, printed, err = run_cli(capsys, "publish", "results", run, "--repo-id", "org/c2-results", "--dry-run",
                                 "--preview-dir", preview)
    assert code == 0, err
    card = (preview / "README.md").read_text(encoding="utf-8")
    scores, block = read_scores(run), json.loads((run / "scores.json").read_text(encoding="utf-8"))["calibrated"]
    assert "| k | Corr@k (%) | 95% CI (%) |" in card  # the judge's table, as before
    assert "### Calibrated with human labels" in card
    assert "| k | judge only (%) | calibrated (%) | labels | judge sensitivity | judge specificity |" in card
    raw = f"{format_percent(scores.corr_mean)} {format_interval(scores.ci95['mean'])}"
    value = f"{format_percent(block['corr_mean'])} {format_interval(block['ci95']['mean'])}"
    assert f"| **mean** | {raw} | {value} | {N_LABELS} |" in card
    assert "`calibrated.json` |" in card and "the calibrated ones count both" in card
    # calibrated.json goes up with the run, with no local path in it or in scores.json's block.
    published = json.loads((preview / "calibrated.json").read_text(encoding="utf-8"))
    assert published["corr_mean"] == block["corr_mean"] and str(tmp_path) not in json.dumps(published)
    assert str(tmp_path) not in (preview / "scores.json").read_text(encoding="utf-8")

    plain = copy_of("improved")
    code, _, _ = run_cli(capsys, "publish", "results", plain, "--repo-id", "org/c2-plain", "--dry-run",
                         "--preview-dir", tmp_path / "plain")
    card = (tmp_path / "plain" / "README.md").read_text(encoding="utf-8")
    [hint] = [line for line in card.splitlines() if line.startswith("**Not calibrated with human labels.**")]
    # The run named where the card's own commands download it.
    assert "'c2 eval sample c2-results --n 400 --out improved-labels.jsonl'" in hint and "with 100 labels" in hint
    assert "### Calibrated" not in card and "`calibrated.json`" not in card
