"""``scripts/compare_objectives.sh``: every objective of ``c2 train --objective`` trained on the tiny demo, C2-Eval
and the over-correction set run on the base once and on every adapter, one ``c2 eval compare`` table with each
adapter's paired difference from the base, its plot and one ``c2 view`` report.

The script runs once for the module, as a user runs it (its set-up left out: the tests' .venv is the one it uses).
For every objective the package registers, the adapter's Corr_mean must beat the base's with a paired 95% interval
above 0. Measured on this machine with the script's SEED 0 (the test's), 1 and 2 (other LoRA initialisations, data
orders and samples: a larger change than another CPU's rounding), the lower bounds are +35.8, +49.2 and +91.7 points
for c2-dpo, +100.0, +90.0 and +97.5 for recovery-sft, +100.0, +97.5 and +100.0 for derta, +100.0 for backtrack.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from c2kit.judges.caveats import OBJECTIVE_CAVEATS
from c2kit.training.objectives import OBJECTIVE_NAMES
from c2kit.view.report import read_report_data

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "compare_objectives.sh"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> tuple[Path, str]:
    """The script's output folder and everything it printed."""
    out = tmp_path_factory.mktemp("compare-objectives") / "out"
    done = subprocess.run(["bash", str(SCRIPT), str(out)], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "C2_SKIP_SETUP": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout


def comparison(out: Path) -> dict:
    return json.loads((out / "compare" / "comparison.json").read_text(encoding="utf-8"))


def label(objective: str) -> str:
    return f"base + {objective}"  # c2 eval compare names a local adapter on a local base by both folders


def test_every_objective_is_trained_on_the_one_base_and_compared_with_one_base_run(compared):
    out, _ = compared
    runs = comparison(out)["runs"]
    assert [run["label"] for run in runs] == ["base", *map(label, OBJECTIVE_NAMES)]
    assert runs[0]["dir"] == str((out / "eval" / "base").resolve())
    for objective in OBJECTIVE_NAMES:
        config = json.loads((out / "eval" / objective / "config.json").read_text(encoding="utf-8"))
        assert (config["model"], config["adapter"]) == (str(out / "base"), str(out / "train" / objective))
        trained = json.loads((out / "train" / objective / "metrics.json").read_text(encoding="utf-8"))
        assert (trained["objective"], trained["base_model"]) == (objective, str(out / "base"))


@pytest.mark.parametrize("objective", OBJECTIVE_NAMES)
def test_the_adapter_beats_the_base_with_a_paired_interval_above_zero(compared, objective):
    out, _ = compared
    runs = {run["label"]: run for run in comparison(out)["runs"]}
    base, adapter = runs["base"]["scores"], runs[label(objective)]
    difference = adapter["paired_vs_first"]
    assert difference is not None, adapter["paired_note"]
    assert difference["n_items"] == 10 and difference["ks"] == [10, 20, 30]
    assert adapter["scores"]["corr_mean"] > base["corr_mean"]
    assert difference["ci95"][0] > 0, (objective, difference)
    assert difference["corr_mean_diff"] == pytest.approx(adapter["scores"]["corr_mean"] - base["corr_mean"])


def test_over_correction_is_measured_and_reported_for_every_run(compared):
    out, printed = compared
    runs = comparison(out)["runs"]
    for run in runs:
        rate = run["scores"]["overcorrection"]
        assert rate["n_items"] == 10 and 0 <= rate["rate_mean"] <= 1, run["label"]
    table = (out / "compare" / "comparison.md").read_text(encoding="utf-8")
    row = next(line for line in table.splitlines() if line.startswith("| **Over-correction**"))
    assert "not measured" not in row and row.count("|") == len(runs) + 2
    assert row in printed


def test_the_table_plot_and_report_name_every_objective(compared):
    out, printed = compared
    table = (out / "compare" / "comparison.md").read_text(encoding="utf-8")
    header = next(line for line in table.splitlines() if line.startswith("| k | base"))
    assert header == "| k | " + " | ".join(["base", *map(label, OBJECTIVE_NAMES)]) + " |"
    assert header in printed  # the one table is printed, not only written
    for objective in OBJECTIVE_NAMES:
        assert f"{label(objective)} − base" in table  # its paired-difference column
    plot = (out / "compare" / "corr_at_k.png").read_bytes()
    assert plot.startswith(PNG_SIGNATURE) and len(plot) > 20_000
    report = read_report_data((out / "report.html").read_bytes())
    assert [run["label"] for run in report["runs"]] == ["base", *map(label, OBJECTIVE_NAMES)]
    assert [(paired["label"], paired["versus"]) for paired in report["paired"]] == [
        (label(objective), "base") for objective in OBJECTIVE_NAMES]
    assert all(run["overcorrection"] for run in report["runs"])
    assert str(out) not in json.dumps(report)  # folders by name, never the local paths


def test_it_prints_a_line_per_step(compared):
    _, printed = compared
    steps = [line for line in printed.splitlines() if line.startswith("== ")]
    total = len(OBJECTIVE_NAMES) + 4
    assert [line.split()[1] for line in steps[:total]] == [f"{i}/{total}" for i in range(1, total + 1)]
    for objective, line in zip(OBJECTIVE_NAMES, steps[1:]):
        assert line.startswith(f"== {steps.index(line) + 1}/{total} Training {objective} ")
    assert steps[-1].startswith("== Done.")


def test_each_adapter_gets_the_keyword_caution_of_its_own_objective(compared):
    """The keyword judge reads trigger phrases, refusals and [RESET] as corrections: each adapter's caution is the
    one its objective calls for (read from its training run), printed under the table; the base gets none."""
    out, printed = compared
    cautioned = {run: caveat["text"] for caveat in comparison(out)["caveats"] for run in caveat["runs"]}
    assert cautioned == {label(objective): OBJECTIVE_CAVEATS[objective].text for objective in OBJECTIVE_NAMES}
    for text in set(cautioned.values()):
        assert text in printed
