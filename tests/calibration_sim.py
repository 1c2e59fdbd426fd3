"""Synthetic runs with a known true Corr@k and judges with known errors, for the calibration test and benchmark.

An item i has a latent tendency to correct ``eta_i ~ N(MU, SIGMA^2)``; at the j-th k its paths correct with
probability ``q_ij = expit(eta_i - SLOPE * j)`` (longer harmful prefixes are corrected less), so the paths of an
item, and its k values, are correlated as in real runs. The true Corr@k is ``E[expit(eta - SLOPE * j)]``, computed
by Gauss-Hermite quadrature. A run's continuations are laid out in the order (k, item, path), the order
:func:`c2_eval_metric.labelling_sample.draw_positions` expects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MU, SIGMA, SLOPE = 0.3, 1.6, 0.35


def expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def true_corr_at_k(n_ks: int) -> np.ndarray:
    """The population Corr@k at each of ``n_ks`` k values (exact to ~1e-12 by 80-point Gauss-Hermite)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)  # weight exp(-x^2 / 2): a standard normal
    weights = weights / weights.sum()
    eta = MU + SIGMA * nodes
    return np.array([float(np.sum(weights * expit(eta - SLOPE * j))) for j in range(n_ks)])


@dataclass(frozen=True)
class Run:
    items: np.ndarray  # item code per continuation
    k_index: np.ndarray  # 0..n_ks-1 per continuation
    ks: np.ndarray  # k value per continuation (10, 20, ...)
    truth: np.ndarray  # the label a person would give (bool)


def synthetic_run(rng: np.random.Generator, n_items: int, n_ks: int, paths: int) -> Run:
    eta = rng.normal(MU, SIGMA, n_items)
    q = expit(eta[None, :] - SLOPE * np.arange(n_ks)[:, None])  # (k, item)
    truth = rng.random((n_ks, n_items, paths)) < q[:, :, None]
    k_index = np.repeat(np.arange(n_ks), n_items * paths)
    items = np.tile(np.repeat(np.arange(n_items), paths), n_ks)
    return Run(items=items, k_index=k_index, ks=10 * (k_index + 1), truth=truth.reshape(-1))


def _with_rates(rng: np.random.Generator, truth: np.ndarray, sensitivity, false_alarm) -> np.ndarray:
    """Verdicts that say "corrected" with probability ``sensitivity`` on corrections, ``false_alarm`` otherwise."""
    return np.where(truth, rng.random(truth.shape) < sensitivity, rng.random(truth.shape) < false_alarm)


def fixed_rates(rng: np.random.Generator, run: Run) -> np.ndarray:
    """Sensitivity 0.75, specificity 0.9 on every continuation."""
    return _with_rates(rng, run.truth, 0.75, 0.10)


def k_dependent(rng: np.random.Generator, run: Run) -> np.ndarray:
    """Errors that grow with k: sensitivity 0.95 -> 0.55, specificity 0.97 -> 0.88 from the first k to the last
    (after a long harmful head start a correction is easier to miss, and harmful text easier to take for one), so
    the judge's Corr@k falls faster with k than the truth."""
    last = max(int(run.k_index.max()), 1)
    step = run.k_index / last
    return _with_rates(rng, run.truth, 0.95 - 0.40 * step, 0.03 + 0.09 * step)


def item_dependent(rng: np.random.Generator, run: Run) -> np.ndarray:
    """Errors clustered by item (some requests' text fools the judge on every path): per item, sensitivity
    ~ Beta(8, 2) (mean 0.8) and false-alarm rate ~ Beta(1, 9) (mean 0.1)."""
    n_items = int(run.items.max()) + 1
    sensitivity = rng.beta(8, 2, n_items)[run.items]
    false_alarm = rng.beta(1, 9, n_items)[run.items]
    return _with_rates(rng, run.truth, sensitivity, false_alarm)


def perfect(rng: np.random.Generator, run: Run) -> np.ndarray:
    return run.truth.copy()


JUDGES: dict[str, Callable[[np.random.Generator, Run], np.ndarray]] = {
    "sens 0.75 / spec 0.9": fixed_rates,
    "errors depend on k": k_dependent,
    "errors depend on the item": item_dependent,
    "perfect": perfect,
}
