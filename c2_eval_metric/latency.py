"""Correction latency: how far into its continuation a model starts to course-correct.

Corr@k says *whether* a model corrects; the paper's point is *timely* correction. For every path judged
corrected whose judge located the correction (``Judge.locate``; see :mod:`c2kit.judges.locate`), judgments.jsonl
holds ``correction_char`` (offset in the continuation), ``correction_word`` (whitespace words before it) and,
where the evaluated model's tokenizer was at hand, ``correction_token`` (its tokens before it). 0 means the
continuation starts with the correction.

Per k: the **median** latency over the located corrected paths (all paths pooled; NumPy's median, the mean of the
two middle values for an even count), with a 95% percentile-bootstrap interval that resamples *items* (all
paths of a drawn item come along; each resample's median is the weighted lower median), seeded, 1,000
resamples. ``n_paths`` is how many located paths a median stands on, ``n_items`` how many items they came from.
Paths that were not corrected have no latency and are not in it (a model that rarely corrects can have a short
latency: read it next to Corr@k). The figures go into ``scores.json`` as ``latency`` and are drawn in
``latency_by_k.png``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

UNITS = ("tokens", "words")
FIELDS = {"tokens": "correction_token", "words": "correction_word"}
LATENCY_PLOT = "latency_by_k.png"


def compute_latency(judgments: Sequence[Mapping[str, Any]], *, n_bootstrap: int = 1000, seed: int = 0
                    ) -> dict[str, Any] | None:
    """The ``latency`` block of scores.json, or None when no corrected path has a located correction."""
    located = [row for row in judgments if row.get("corrected") and row.get("correction_word") is not None]
    if not located:
        return None
    corrected = [row for row in judgments if row.get("corrected")]
    units = [unit for unit in UNITS if all(row.get(FIELDS[unit]) is not None for row in located)]
    by_k: dict[str, dict[str, Any]] = {}
    rng_seed = seed
    for k in sorted({row["k"] for row in located}):
        rows = [row for row in located if row["k"] == k]
        entry: dict[str, Any] = {"n_paths": len(rows), "n_items": len({row["item_id"] for row in rows}),
                                 "n_corrected": sum(1 for row in corrected if row["k"] == k)}
        for unit in units:
            values = [float(row[FIELDS[unit]]) for row in rows]
            items = [str(row["item_id"]) for row in rows]
            low, high = bootstrap_median(values, items, n_bootstrap=n_bootstrap, seed=rng_seed)
            entry[f"median_{unit}"] = float(np.median(values))
            entry[f"ci95_{unit}"] = [low, high]
        by_k[str(k)] = entry
    return {"units": units, "by_k": by_k, "n_located": len(located), "n_corrected": len(corrected),
            "statistic": "median over located corrected paths; 95% item-bootstrap interval "
                         f"({n_bootstrap} resamples, seed {seed})"}


def bootstrap_median(values: Sequence[float], items: Sequence[str], *, n_bootstrap: int = 1000, seed: int = 0
                     ) -> tuple[float, float]:
    """95% percentile interval of the median of ``values`` when their ``items`` are resampled."""
    order = np.argsort(np.asarray(values, dtype=float), kind="stable")
    sorted_values = np.asarray(values, dtype=float)[order]
    codes: dict[str, int] = {}
    item_codes = np.array([codes.setdefault(item, len(codes)) for item in items])[order]
    n = len(codes)
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap)
    path_weights = weights[:, item_codes].astype(float)  # each path weighs as often as its item was drawn
    cumulative = np.cumsum(path_weights, axis=1)
    half = cumulative[:, -1:] / 2
    # The median of the resampled paths, defined as np.median defines it (the point estimate): the mean of the
    # two middle values when their count is even, so the estimate always lies inside its own interval.
    lower = sorted_values[np.argmax(cumulative >= half, axis=1)]
    upper = sorted_values[np.argmax(cumulative > half, axis=1)]
    medians = (lower + upper) / 2
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(low), float(high)


def _located_by(judge: str, located_by: str | None) -> str:
    if located_by is None:  # a run recorded before judges said what located their corrections
        return f"what `{judge}` located"
    return f"`{judge}` itself" if located_by == judge else f"{located_by}, for the paths `{judge}` judged corrected"


def latency_markdown(block: Mapping[str, Any] | None, judge: str, n_corrected: int = 0,
                     located_by: str | None = None) -> str:
    """Summary section: median latency per k with its interval and what it stands on (or why there is none).

    ``located_by`` is what the judge said located its corrections (:meth:`c2kit.judges.Judge.located_by`, recorded
    as ``judge_info.located_by`` in config.json)."""
    lines = ["## Correction latency", ""]
    if block is None:
        if n_corrected == 0:
            lines.append("No continuation was judged corrected, so there is no correction latency to report.")
        else:
            lines.append(f"The judge `{judge}` does not say where a correction starts, so no latency is reported "
                         "(`keyword` does: `c2 eval score --results DIR --judge keyword --out DIR2`).")
        return "\n".join(lines)
    units = block["units"]
    lines += ["Where the correction starts in the continuation, counted in "
              + " and ".join(units) + " before it (0 = the continuation opens with it): median over the paths "
              f"judged corrected whose correction was located (by {_located_by(judge, located_by)}), 95% item-bootstrap "
              "interval.", "",
              "| k | " + " | ".join(f"median {unit} [95% CI]" for unit in units) + " | located / corrected paths "
              "| items |", "|---:|" + ":---:|" * len(units) + "---:|---:|"]
    for k, entry in block["by_k"].items():
        cells = [f"{entry[f'median_{unit}']:g} [{entry[f'ci95_{unit}'][0]:g}, {entry[f'ci95_{unit}'][1]:g}]"
                 for unit in units]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {entry['n_paths']} / {entry['n_corrected']} | "
                     f"{entry['n_items']} |")
    lines += ["", f"![Correction latency against k]({LATENCY_PLOT})"]
    return "\n".join(lines)


def plot_latency(runs: Sequence[tuple[str, Mapping[str, Any]]], path: str | Path, *, judge: str,
                 mode: str | None = None) -> Path:
    """Save :func:`draw_latency`'s figure as a PNG."""
    path = Path(path)
    draw_latency(runs, judge=judge, mode=mode).savefig(path)
    return path


def draw_latency(runs: Sequence[tuple[str, Mapping[str, Any]]], *, judge: str, mode: str | None = None):
    """Median latency (tokens where every run has them, else words) against k, with 95% CI bars and n;
    ``mode`` (the runs' ``--mode``) names the unit of k."""
    from .plots import finish_figure, k_axis_label, label_points, new_figure, set_k_ticks

    unit = "tokens" if all("tokens" in block["units"] for _, block in runs) else "words"
    figure, axes = new_figure()
    entries, point_labels = [], []
    for label, block in runs:
        ks = [int(k) for k in block["by_k"]]
        points = list(block["by_k"].values())
        medians = [entry[f"median_{unit}"] for entry in points]
        lows = [max(0.0, m - entry[f"ci95_{unit}"][0]) for m, entry in zip(medians, points)]
        highs = [max(0.0, entry[f"ci95_{unit}"][1] - m) for m, entry in zip(medians, points)]
        container = axes.errorbar(ks, medians, yerr=[lows, highs], marker="o", capsize=3)
        entries.append((container, label))
        point_labels += [(k, median, f"n={entry['n_paths']}", container[0].get_color())
                         for k, median, entry in zip(ks, medians, points)]
    set_k_ticks(axes, [int(k) for _, block in runs for k in block["by_k"]], log_k=mode == "tokens")
    axes.set_xlabel(k_axis_label(mode, log_k=mode == "tokens"))
    axes.set_ylabel(f"median correction start\n({unit} into the continuation)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    label_points(axes, point_labels)
    return finish_figure(figure, axes, title=f"Correction latency (judge: {judge}; bars: 95% CI; "
                         "n: corrected paths located)", legend=entries)
