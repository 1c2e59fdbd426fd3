"""Paired comparison of two runs on the same items: the difference in Corr_mean and Corr@k, its 95% interval
from a paired bootstrap over items, and a two-sided p-value from a paired sign-flip permutation test.

Why paired: benchmark items differ a lot (some requests are corrected by every model, some by none). Two runs'
separate intervals both carry that item-to-item spread, so they overlap even when one model corrects 10 points
more often on nearly every item. Taking the difference item by item removes the spread both runs share.

Definitions (``d_i`` = the later run's figure for item i minus the first run's):

* Per item, the fraction of its paths judged corrected at each k. For Corr_mean, an item's figure is the mean
  of its fractions over the k values both runs evaluated it at; for Corr@k, its fraction at k.
* ``corr_mean_diff`` (and ``corr_at_k_diff`` per k) = mean of ``d_i`` over the items both runs have. When every
  item has every k this is exactly Corr_mean(later) - Corr_mean(first).
* ``ci95``: percentile bootstrap. One resample draws n items with replacement (multinomial counts, as in
  :mod:`corr`), and the *same* draw weighs both runs' figures of an item, i.e. it resamples the ``d_i``. The same
  resamples serve Corr_mean and every k.
* ``p_value``: paired sign-flip permutation test of "no difference" (under it, which run produced which figure
  of an item is exchangeable, so each ``d_i`` is as likely to have the other sign). Statistic ``|mean d|``;
  exact over all 2^n sign patterns for n <= 16 items, else ``n_permutations`` random patterns with the
  (1 + hits) / (1 + draws) estimate, which is never 0. Seeded.

Only the standard library and numpy are imported.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from c2kit.errors import UserError

EXACT_MAX_ITEMS = 16
N_BOOTSTRAP = 2000
N_PERMUTATIONS = 10000

ItemFractions = dict[str, dict[int, float]]  # item_id -> {k: fraction of its paths judged corrected}


def item_fractions(rows: Iterable[tuple[str, int, bool]]) -> ItemFractions:
    """Per-item, per-k fraction of paths judged corrected, from ``(item_id, k, corrected)`` rows."""
    counts: dict[str, dict[int, list[int]]] = {}
    for item_id, k, corrected in rows:
        cell = counts.setdefault(str(item_id), {}).setdefault(int(k), [0, 0])
        cell[0] += bool(corrected)
        cell[1] += 1
    return {item: {k: hits / total for k, (hits, total) in ks.items()} for item, ks in counts.items()}


def why_not_paired(first: ItemFractions, later: ItemFractions) -> str | None:
    """Why two runs get no paired figure (``None`` when they can be paired): they must hold the same items and
    share at least one k."""
    a, b = set(first), set(later)
    if a != b:
        only_first, only_later = sorted(a - b), sorted(b - a)
        parts = []
        if only_first:
            parts.append(f"{len(only_first)} item(s) only in the first run (e.g. {only_first[0]!r})")
        if only_later:
            parts.append(f"{len(only_later)} item(s) only in this run (e.g. {only_later[0]!r})")
        return ("the runs were evaluated on different item sets (" + "; ".join(parts) + "), so a difference item by "
                "item is not defined; compare their separate intervals instead, or re-run on the same items")
    ks_first = {k for ks in first.values() for k in ks}
    ks_later = {k for ks in later.values() for k in ks}
    if not ks_first & ks_later:
        return (f"the runs share no k value (first: {sorted(ks_first)}, this run: {sorted(ks_later)})")
    return None


def paired_difference(first: ItemFractions, later: ItemFractions, *, n_bootstrap: int = N_BOOTSTRAP,
                      n_permutations: int = N_PERMUTATIONS, seed: int = 0) -> dict[str, Any]:
    """``later - first`` on their common items: ``{"corr_mean_diff", "ci95", "p_value", "n_items", "per_k",
    "ks", "test", ...}`` (fractions; see the module docstring). Raises ``ValueError`` with
    :func:`why_not_paired`'s reason when the runs cannot be paired."""
    reason = why_not_paired(first, later)
    if reason:
        raise UserError(reason)
    items = sorted(first)
    ks = sorted({k for ks in first.values() for k in ks} & {k for ks in later.values() for k in ks})
    # d[i, j]: difference of item i at k j; present[i, j]: both runs evaluated item i at k j.
    present = np.array([[k in first[i] and k in later[i] for k in ks] for i in items], dtype=bool)
    d = np.array([[later[i][k] - first[i][k] if ok else 0.0 for k, ok in zip(ks, row)]
                  for i, row in zip(items, present)], dtype=float)
    has_any = present.any(axis=1)
    per_item_mean = np.divide(d.sum(axis=1), present.sum(axis=1), out=np.zeros(len(items)), where=has_any)

    rng = np.random.default_rng(seed)
    n = len(items)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(float)
    result = _summary(per_item_mean[has_any], weights[:, has_any], rng, n_permutations)
    per_k = {}
    for j, k in enumerate(ks):
        column = present[:, j]
        figures = _summary(d[column, j], weights[:, column], rng, n_permutations)
        per_k[str(k)] = {"corr_at_k_diff": figures["diff"], "ci95": figures["ci95"], "p_value": figures["p_value"],
                         "n_items": figures["n_items"]}
    return {
        "corr_mean_diff": result["diff"],
        "ci95": result["ci95"],
        "p_value": result["p_value"],
        "n_items": result["n_items"],
        "per_k": per_k,
        "ks": ks,
        "test": (f"paired bootstrap over items ({n_bootstrap} resamples, seed {seed}) for ci95; two-sided paired "
                 f"sign-flip permutation test for p_value ({'exact' if result['exact'] else n_permutations})"),
    }


def _summary(diffs: np.ndarray, weights: np.ndarray, rng: np.random.Generator, n_permutations: int) -> dict:
    """Mean difference, bootstrap interval (weights: resample counts of these items) and permutation p-value."""
    n = len(diffs)
    if n == 0:
        return {"diff": None, "ci95": None, "p_value": None, "n_items": 0, "exact": True}
    totals = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (weights @ diffs) / totals  # NaN where a resample drew none of these items (left out)
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    p_value, exact = sign_flip_p_value(diffs, rng=rng, n_permutations=n_permutations)
    return {"diff": float(diffs.mean()), "ci95": [float(low), float(high)], "p_value": p_value, "n_items": n,
            "exact": exact}


def sign_flip_p_value(diffs: Sequence[float] | np.ndarray, *, rng: np.random.Generator | None = None,
                      n_permutations: int = N_PERMUTATIONS) -> tuple[float, bool]:
    """Two-sided p-value of the paired sign-flip test on per-item differences; ``(p, exact)``."""
    diffs = np.asarray(diffs, dtype=float)
    n = len(diffs)
    observed = abs(diffs.mean())
    tolerance = 1e-12 * max(1.0, observed)
    if n <= EXACT_MAX_ITEMS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        statistics = np.abs(signs @ diffs) / n
        return float(np.mean(statistics >= observed - tolerance)), True
    rng = rng or np.random.default_rng(0)
    hits = 0
    for start in range(0, n_permutations, 1000):  # in blocks, so memory stays small for large n
        size = min(1000, n_permutations - start)
        signs = rng.choice((1.0, -1.0), size=(size, n))
        hits += int(np.sum(np.abs(signs @ diffs) / n >= observed - tolerance))
    return (1 + hits) / (1 + n_permutations), False


def format_difference(figures: Mapping[str, Any], key: str = "corr_mean_diff") -> str:
    """``+10.0 [7.9, 12.1] p=0.0001`` (percentage points); ``–`` when there is no figure."""
    value = figures.get(key)
    if value is None:
        return "–"
    low, high = figures["ci95"]
    return f"{100 * value:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] {format_p(figures['p_value'])}"


def format_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"
