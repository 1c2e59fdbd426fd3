"""One line for a run without human labels: how to get them, and how wide the calibrated interval would be.

The width is a forecast, and it says what it assumes. The calibrated variance of Corr_mean is what the items happen
to be plus the sampling of the labels (:mod:`ppi_corr`). The first part is taken from the run's own item-bootstrap
interval of Corr_mean (as if the true fractions varied between items as much as the judge's do). The second needs
the judge's errors on this run, unknown before labelling: they are assumed to be those of its weakest validation
on real model outputs (``c2kit/data/judge_figures.json``): with precision ``P`` and negative predictive value
``V`` there, a label differs from a verdict "corrected" with probability ``1 - P`` and from a verdict "not
corrected" with probability ``1 - V``, so the variance of a label around its best linear prediction from the
verdict, at a k where the judge says "corrected" to a share ``q`` of continuations, is
``q * P * (1 - P) + (1 - q) * V * (1 - V)``, divided by the labels at that k. The finite-population correction
is left out on purpose: the labels' sampling shrinks by ``1 - n_k / N_k``, but the true fractions spread between
items more than the verdicts do, by about that variance over ``N_k``, which the judge's interval cannot show; the
two cancel, so with every continuation labelled the forecast is the labels-alone width over the items, not the
judge's. A run with fewer continuations than a count gets the forecast for all of them instead, said as such. A
judge without figures is assumed to have sensitivity 0.75 and specificity 0.9 at a prevalence of one half
(precision 0.88, negative predictive value 0.78).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from c2kit.jsonio import read_jsonl

from .corr import MEAN_KEY
from .ppi_corr import Z95
from .run_files import JUDGMENTS_FILE, read_scores

HINT_LABELS = (100, 400)
UNVALIDATED = {"recall": 0.75, "specificity": 0.9, "prevalence": 0.5}


def labels_hint(run_dir: str | Path) -> str:
    """``No human labels: c2 eval sample ...; expected interval width ... with 100 and 400 labels (assuming ...)``."""
    run = Path(run_dir)
    scores = read_scores(run)
    said: Counter[int] = Counter()
    total: Counter[int] = Counter()
    for _, row in read_jsonl(run / JUDGMENTS_FILE):
        total[int(row["k"])] += 1
        said[int(row["k"])] += bool(row.get("corrected"))
    precision, npv, source = _error_rates(scores.judge)
    low, high = scores.ci95[MEAN_KEY]
    items_variance = ((high - low) / (2 * Z95)) ** 2
    everything = sum(total.values())
    counts = hint_counts(everything)
    widths = []
    for n in counts:
        variance = items_variance
        for k, count in total.items():
            share = said[k] / count
            residual = share * precision * (1 - precision) + (1 - share) * npv * (1 - npv)
            variance += residual / (n * count / everything) / len(total) ** 2
        widths.append(round(200 * Z95 * np.sqrt(variance)))
    sample = f"{run.name}-labels.jsonl"
    return (f"No human labels for this run: 'c2 eval sample {run} --n {counts[-1]} --out {sample}', label every row, "
            f"then 'c2 eval calibrate {run} --labels {sample}' gives Corr@k that holds whatever the judge; expected "
            f"95% interval of Corr_mean about {_widths(counts, widths, everything)} (judge only: "
            f"{100 * (high - low):.0f}, which leaves its errors out), if {scores.judge} errs here as {source}")


def hint_counts(continuations: int) -> list[int]:
    """The label counts the hint forecasts for: :data:`HINT_LABELS`, those a run of fewer continuations cannot
    give replaced by all of them."""
    below = [n for n in HINT_LABELS if n < continuations]
    return below + ([continuations] if len(below) < len(HINT_LABELS) else [])


def _widths(counts: list[int], widths: list[int], continuations: int) -> str:
    """``W1 points wide with N1 labels and W2 with N2``; a count that is every continuation of the run is said to
    be, and equal widths say why (the items, not the labels, make most of the width)."""
    every = f"all {continuations} of the run's continuations labelled"
    if len(counts) == 1:
        return f"{widths[0]} points wide with {every}"
    text = f"{widths[0]} points wide with {counts[0]} labels and {widths[1]} with "
    text += every if counts[1] == continuations else str(counts[1])
    if widths[1] == widths[0]:
        text += ("; more labels barely narrow it here: most of its width is which items the run holds, as the judge's "
                 "own interval shows")
    return text


def _error_rates(judge: str) -> tuple[float, float, str]:
    """Precision, negative predictive value and where they come from (module docstring)."""
    from c2kit.judges.trust import judge_figures, measured_figures

    sets = measured_figures()["sets"]
    real = {name: entry for name, entry in judge_figures(judge).items() if sets.get(name, {}).get("real_outputs")}
    if real:
        name, entry = min(real.items(), key=lambda item: item[1]["kappa"])
        recall, specificity, precision = entry["recall"], entry["specificity"], entry["precision"]
        # Positives per negative in that set, from precision = recall * P / (recall * P + (1 - specificity) * N)
        # (one half each where precision cannot tell).
        ratio = precision * (1 - specificity) / (recall * (1 - precision)) if 0 < precision < 1 and recall else 1.0
        npv = specificity / (specificity + (1 - recall) * ratio)
        return precision, npv, (f"on {name} (its weakest validation on real outputs: precision {precision:.2f}, "
                                f"negative predictive value {npv:.2f})")
    recall, specificity, prevalence = (UNVALIDATED[key] for key in ("recall", "specificity", "prevalence"))
    precision = recall * prevalence / (recall * prevalence + (1 - specificity) * (1 - prevalence))
    npv = specificity * (1 - prevalence) / (specificity * (1 - prevalence) + (1 - recall) * prevalence)
    return precision, npv, (f"a judge with sensitivity {recall} and specificity {specificity} ({judge} has no "
                            "validation figures: 'c2 judge validate')")
