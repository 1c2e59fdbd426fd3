"""Corr@k calibrated with human labels, checked by simulation: coverage of the truth, and interval width against
the number of labels, for judges with known errors.

Synthetic runs with a known true Corr@k (tests/calibration_sim.py: items with correlated paths and k values) are
judged by four judges (sensitivity 0.75 / specificity 0.9; errors that depend on k; errors that depend on the item;
perfect). Every draw is a fresh run and a fresh random labelling sample (c2 eval sample's design), seeded by its
number. Printed:

1. Coverage (``--draws`` draws of ``--items`` items x 4 k x 5 paths, 200 labels): how often each 95% interval
   holds the true Corr_mean, and the true Corr@k (mean over k): the calibrated interval, today's interval from
   the judge's verdicts alone (item bootstrap), the labels alone, and ppi_py's ``ppi_mean_ci`` (per k, which
   treats continuations as independent); mean widths; and how often the calibrated interval holds the run's own
   all-labelled Corr_mean.
2. Width against labels (the paper's size: 500 items x 8 k x 20 paths = 80,000 continuations; 50, 100, 200 and
   400 labels; ``--width-draws`` draws each): mean width of Corr_mean's calibrated interval (percentage points)
   and its coverage, beside the labels-alone width and today's (judge-only) width.

    .venv/bin/python benchmarks/bench_calibration.py               # about 6 minutes on 2 busy cores
    .venv/bin/python benchmarks/bench_calibration.py --quick       # fewer draws, about 1 minute
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the suite's synthetic runs and judges

from calibration_sim import JUDGES, synthetic_run, true_corr_at_k  # noqa: E402

from c2_eval_metric.corr import MEAN_KEY, compute_corr  # noqa: E402
from c2_eval_metric.labelling_sample import draw_positions  # noqa: E402
from c2_eval_metric.ppi_corr import labels_only_corr, ppi_corr  # noqa: E402

LABEL_COUNTS = (50, 100, 200, 400)


def today(run, verdicts) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """Today's intervals (item bootstrap of the judge's verdicts): Corr_mean's and each k's."""
    scores = compute_corr(zip(run.items.tolist(), run.ks.tolist(), verdicts.tolist()), judge="simulated")
    return scores.ci95[MEAN_KEY], [scores.ci95[str(k)] for k in sorted(scores.corr_at_k)]


def iid_ppi_intervals(run, verdicts, positions) -> list[tuple[float, float]]:
    """ppi_py's ppi_mean_ci at each k: every continuation an independent draw (equal paths: no weights needed)."""
    with warnings.catch_warnings():  # ppi_py silences warnings when imported
        from ppi_py import ppi_mean_ci
    intervals = []
    for k in np.unique(run.ks):
        chosen = positions[run.ks[positions] == k]
        low, high = ppi_mean_ci(run.truth[chosen].astype(float), verdicts[chosen].astype(float),
                                verdicts[run.ks == k].astype(float), alpha=0.05)
        intervals.append((float(np.ravel(low)[0]), float(np.ravel(high)[0])))
    return intervals


def holds(bounds, value) -> bool:
    return bounds[0] <= value <= bounds[1]


def coverage_table(draws: int, n_items: int, n_labels: int) -> str:
    n_ks, paths = 4, 5
    truth = true_corr_at_k(n_ks)
    columns = ("calibrated", "today", "labels only", "ppi_mean_ci")
    hits = {name: {column: [0, 0] for column in columns} for name in JUDGES}  # [Corr_mean, Corr@k] hits
    widths = {name: {column: 0.0 for column in columns[:3]} for name in JUDGES}
    own = {name: 0 for name in JUDGES}
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        run = synthetic_run(rng, n_items, n_ks, paths)
        positions, _ = draw_positions(run.ks, n_labels, seed=draw)
        alone = labels_only_corr(run.items, run.ks, positions, run.truth[positions], n_items=n_items)
        all_labelled = run.truth.reshape(n_ks, -1).mean()
        for name, judge in JUDGES.items():
            verdicts = judge(rng, run)
            calibrated = ppi_corr(run.items, run.ks, verdicts, positions, run.truth[positions], n_items=n_items)
            today_mean, today_k = today(run, verdicts)
            figures = {"calibrated": (calibrated.ci95(), [calibrated.ci95(j) for j in range(n_ks)]),
                       "today": (today_mean, today_k),
                       "labels only": (alone.ci95(), [alone.ci95(j) for j in range(n_ks)]),
                       "ppi_mean_ci": (None, iid_ppi_intervals(run, verdicts, positions))}
            for column, (mean_bounds, k_bounds) in figures.items():
                if mean_bounds is not None:
                    hits[name][column][0] += holds(mean_bounds, truth.mean())
                    widths[name][column] += mean_bounds[1] - mean_bounds[0]
                hits[name][column][1] += np.mean([holds(b, value) for b, value in zip(k_bounds, truth)])
            own[name] += holds(calibrated.ci95(), all_labelled)
    lines = [f"Coverage of the truth by 95% intervals, {draws} draws (each a fresh run of {n_items} items x {n_ks} k x "
             f"{paths} paths and {n_labels} labels); Corr_mean / Corr@k (mean over k), in %:", "",
             "| judge | calibrated | today (judge only) | labels only | ppi_mean_ci (paths independent) | "
             "width: calibrated / today / labels only (points) | calibrated holds the run's all-labelled Corr_mean |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in JUDGES:
        cells = [f"{100 * hits[name][c][0] / draws:.1f} / {100 * hits[name][c][1] / draws:.1f}" for c in columns[:3]]
        cells.append(f"– / {100 * hits[name]['ppi_mean_ci'][1] / draws:.1f}")
        width = " / ".join(f"{100 * widths[name][c] / draws:.1f}" for c in columns[:3])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {width} | {100 * own[name] / draws:.1f} |")
    return "\n".join(lines)


def width_table(draws: int, today_draws: int) -> str:
    n_items, n_ks, paths = 500, 8, 20
    truth = true_corr_at_k(n_ks).mean()
    width = {name: {n: [] for n in LABEL_COUNTS} for name in JUDGES}
    covered = {name: {n: 0 for n in LABEL_COUNTS} for name in JUDGES}
    alone = {n: [] for n in LABEL_COUNTS}
    today_width = {name: [] for name in JUDGES}
    for draw in range(draws):
        rng = np.random.default_rng(10_000 + draw)
        run = synthetic_run(rng, n_items, n_ks, paths)
        verdicts = {name: judge(rng, run) for name, judge in JUDGES.items()}
        for n in LABEL_COUNTS:
            positions, _ = draw_positions(run.ks, n, seed=10_000 + draw)
            low, high = labels_only_corr(run.items, run.ks, positions, run.truth[positions], n_items=n_items).ci95()
            alone[n].append(high - low)
            for name in JUDGES:
                result = ppi_corr(run.items, run.ks, verdicts[name], positions, run.truth[positions], n_items=n_items)
                low, high = result.ci95()
                width[name][n].append(high - low)
                covered[name][n] += low <= truth <= high
        if draw < today_draws:
            for name in JUDGES:
                low, high = today(run, verdicts[name])[0]
                today_width[name].append(high - low)
    header = " | ".join(f"{n} labels" for n in LABEL_COUNTS)
    lines = [f"Width of Corr_mean's 95% interval (percentage points; coverage of the truth in brackets) against the "
             f"number of labels; {n_items} items x {n_ks} k x {paths} paths ({n_items * n_ks * paths:,} "
             f"continuations), {draws} draws (today's width: {today_draws}):", "",
             f"| judge | {header} | today (judge only) |", "|---|" + "---:|" * (len(LABEL_COUNTS) + 1)]
    for name in JUDGES:
        cells = [f"{100 * np.mean(width[name][n]):.1f} ({100 * covered[name][n] / draws:.0f}%)" for n in LABEL_COUNTS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {100 * np.mean(today_width[name]):.1f} |")
    lines.append("| labels only (no judge) | " + " | ".join(f"{100 * np.mean(alone[n]):.1f}" for n in LABEL_COUNTS)
                 + " | – |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=500, help="draws for the coverage table (default: 500)")
    parser.add_argument("--items", type=int, default=200, help="items per run of the coverage table (default: 200)")
    parser.add_argument("--width-draws", type=int, default=100, help="draws per cell of the width table (default: 100)")
    parser.add_argument("--today-draws", type=int, default=10,
                        help="draws for today's width at the paper's size (80,000 rows each; default: 10)")
    parser.add_argument("--quick", action="store_true", help="100 coverage draws, 20 width draws, 3 today's")
    args = parser.parse_args()
    if args.quick:
        args.draws, args.width_draws, args.today_draws = 100, 20, 3
    start = time.perf_counter()
    print(coverage_table(args.draws, args.items, 200), flush=True)
    print()
    print(width_table(args.width_draws, args.today_draws))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
