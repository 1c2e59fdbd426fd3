"""Corr@k and Corr_mean calibrated with human labels: prediction-powered inference with items as clusters.

Every continuation of a run has a judge verdict ``f``; a random sample of them, stratified by k
(:mod:`labelling_sample`), also has a human label ``Y``. At each k, with ``N_k`` continuations, ``n_Ik`` items,
``m_ik`` paths of item i and ``S_k`` the ``n_k`` labelled continuations, a continuation weighs
``g = N_k / (n_Ik * m_ik)`` (so every item counts the same, as in Corr@k), ``w = g / mean of g over S_k`` on the
labels (1 when every item has the same paths), and

    estimate_k = lam * J_k + mean over S_k of w * (Y - lam * f)

where ``J_k`` is the judge's own Corr@k. This is the PPI++ mean (Angelopoulos, Duchi and Zrnic, 2023) with
sampling weights, computed by ``ppi_py.ppi_mean_pointestimate``: ``lam = 1`` is plain PPI (the judge's figure
corrected by the mean of its errors on the labels), ``lam = 0`` the labels alone. Whatever ``lam``, the second term
is an unbiased estimate of the judge's error on all of k's continuations, whatever the judge. Corr_mean is the
mean of the estimates over k.

The variance. The estimand is what Corr@k would be with every continuation labelled by people, as a figure of the
model on the benchmark's population of items (as today's item-bootstrap interval is for the judge's figure), so the
interval counts both what the items happen to be and which continuations were labelled. Items are the independent
units (an item's paths, and its k values, are correlated), as in the item bootstrap of :mod:`corr`. Each item gets
its share of the estimate,

    z_ik = lam * f_ik + (n_Ik / n_k) * sum over its labelled continuations at k of w * (r - mean over S_k of w * r)

with ``r = Y - lam * f`` and ``f_ik`` the item's fraction judged corrected; the shares' mean over the items at k is
``estimate_k`` up to a constant. An item without k gets the domain-mean linearisation ``estimate_k + (n_I / n_Ik)
* 1[i has k] * (z_ik - mean z)``, and an item's share of Corr_mean is the mean of its shares over k, so the
interval of Corr_mean counts the correlation between an item's k values. The variance of the shares' mean over
the ``n_I`` items (the "ultimate cluster" estimator of survey sampling) estimates what the items happen to be
plus the label sampling; the label sampling is taken apart for the degrees of freedom and for the fitted ``lam``:
for a simple random sample without replacement at each k it is ``(1 - n_k / N_k) * s2_k / n_k``, ``s2_k`` the
variance of ``w * (r - mean)`` over ``S_k``. So

    var = max(var(shares) / n_I - sum_k c_k^2 * (1 - n_k/N_k) * s2_k[ddof 1] / n_k, 0)
          + sum_k c_k^2 * (1 - n_k/N_k) * s2_k[ddof 2] / n_k

(``c_k``: 1 at the k of a Corr@k, ``1 / K`` each for Corr_mean; ddof 2 because ``lam`` is fitted). The 95%
interval is ``estimate +- t * sqrt(var)``, ``t`` the Student quantile with Welch-Satterthwaite degrees of freedom
(``n_I - 1`` for the items' part, ``n_k - 2`` for the labels of each k: a k with few labels gets a wider
interval), clipped to [0, 1]. The labels-alone figure is the same with ``lam = 0`` (no judge anywhere).

``lam`` (power tuning) is one value for every k, as ppi_py's default (``lam_optim_mode="overall"``): the one in
[0, 1] that minimises the label sampling of Corr_mean, a pooled weighted slope of the labels on the verdicts
within k (1 when the verdicts on the labels never vary). ``lam = 0`` is allowed, so the label sampling is never
above the labels-alone one; with a perfect judge ``lam = 1``, ``r = 0`` and the interval is the judge's own
item-level one. One value rather than one per k because a slope fitted on the few labels of one k is noisy (with
50 labels over 8 k values, per-k slopes broke coverage in the simulation); errors that depend on k are still
corrected per k, by the second term of the estimate.

Why not ``ppi_py.ppi_mean_ci`` for the interval: it treats every continuation as an independent draw and the
labelled ones as a sample apart from the judged ones, while paths of one item are strongly correlated and the
labelled continuations are some of the judged ones; its interval is far too narrow
(``benchmarks/bench_calibration.py`` prints its coverage). Its ``lam`` tuning is for that variance too.

Only numpy, scipy and ppi_py are imported (ppi_py lazily: importing it silences Python warnings process-wide,
which is undone).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from c2kit.errors import UserError

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile
MIN_LABELS_PER_K = 3  # a variance of residuals around a fitted slope needs three


@dataclass(frozen=True)
class PPIResult:
    """Calibrated Corr@k per k and Corr_mean of one run, with what their variances are made of.

    ``influence[i, j]`` is item i's share of ``estimate[j]`` (their mean over items is ``estimate[j]``); their
    variance over items counts what the items happen to be plus the label sampling, ``sampling_in_shares[j]``
    (ddof 1), which :func:`variance_and_df` replaces by ``sampling[j]`` (ddof 2 where ``lam`` was fitted; module
    docstring). Two runs' shares, item by item, give a paired variance.
    """

    ks: np.ndarray  # sorted k values
    estimate: np.ndarray  # per k
    lam: np.ndarray  # per k
    n_labels: np.ndarray  # per k
    influence: np.ndarray  # (n_items, len(ks))
    sampling_in_shares: np.ndarray  # per k
    sampling: np.ndarray  # per k

    @property
    def estimate_mean(self) -> float:
        return float(self.estimate.mean())

    def contrast(self, j: int | None) -> np.ndarray:
        """The weights over k of k number ``j`` (one-hot) or of Corr_mean (``1 / len(ks)`` each)."""
        if j is None:
            return np.full(len(self.ks), 1.0 / len(self.ks))
        return np.eye(len(self.ks))[j]

    def se(self, j: int | None = None) -> float:
        """Standard error of k number ``j`` (``None``: Corr_mean)."""
        return float(np.sqrt(variance_and_df(self, self.contrast(j))[0]))

    def ci95(self, j: int | None = None) -> tuple[float, float]:
        """The 95% interval of k number ``j`` (``None``: Corr_mean), clipped to [0, 1]."""
        value = self.estimate_mean if j is None else float(self.estimate[j])
        variance, df = variance_and_df(self, self.contrast(j))
        return interval(value, float(np.sqrt(variance)), df, low=0.0, high=1.0)


def variance_and_df(later: PPIResult, weights_later: np.ndarray, first: PPIResult | None = None,
                    weights_first: np.ndarray | None = None) -> tuple[float, float]:
    """Variance of ``later``'s weighted sum of estimates over k (minus ``first``'s, when given: runs on the same
    items in the same order, paired item by item), and its Welch-Satterthwaite degrees of freedom.

    The items' shares give what the items happen to be plus the label sampling (each run's labels are drawn
    apart, so theirs add); the label sampling is taken apart for the degrees of freedom (module docstring).
    Degrees of freedom: ``n_items - 1`` for the items' part, ``n_k - 2`` for the label sampling at each k.
    """
    parts = [(later, weights_later)] + ([(first, weights_first)] if first is not None else [])
    share = later.influence @ weights_later
    if first is not None:
        share = share - first.influence @ weights_first
    full = sum(float(np.sum(c ** 2 * run.sampling_in_shares)) for run, c in parts)
    labelled = [c ** 2 * run.sampling for run, c in parts]
    items_part = max(float(share.var(ddof=1)) / len(share) - full, 0.0)
    variance = items_part + sum(float(np.sum(terms)) for terms in labelled)
    denominator = items_part ** 2 / (len(share) - 1) + sum(
        float(np.sum(terms ** 2 / (run.n_labels - 2))) for terms, (run, _) in zip(labelled, parts))
    return variance, (variance ** 2 / denominator if denominator > 0 else np.inf)


def interval(value: float, se: float, df: float, *, low: float, high: float) -> tuple[float, float]:
    """``value +- t(0.975, df) * se``, clipped to [low, high] (a Corr@k lies in [0, 1], a difference in [-1, 1])."""
    from scipy.stats import t

    half = float(t.ppf(0.975, df)) * se if np.isfinite(df) else Z95 * se
    return max(low, value - half), min(high, value + half)


def ppi_corr(items: np.ndarray, ks: np.ndarray, verdicts: np.ndarray, labelled: np.ndarray, labels: np.ndarray,
             *, n_items: int | None = None, lam: float | None = None) -> PPIResult:
    """The calibrated estimates of one run (module docstring).

    ``items`` (integer codes 0..n_items-1), ``ks`` and ``verdicts`` hold one entry per continuation of the run;
    ``labelled`` indexes the labelled continuations in them and ``labels`` holds their human labels. ``lam``
    fixes the weight on the judge (1: plain PPI); ``None`` tunes it (one value for every k). ``n_items``
    (default: the largest code + 1) sets the items the shares are given for, so two runs' shares line up.
    """
    return _fit(items, ks, np.asarray(verdicts, dtype=float), labelled, labels, n_items=n_items, lam=lam)


def labels_only_corr(items: np.ndarray, ks: np.ndarray, labelled: np.ndarray, labels: np.ndarray, *,
                     n_items: int | None = None) -> PPIResult:
    """The classical estimate from the labels alone (no judge), with its variance over items."""
    return _fit(items, ks, None, labelled, labels, n_items=n_items, lam=0.0)


def _fit(items, ks, verdicts: np.ndarray | None, labelled, labels, *, n_items: int | None,
         lam: float | None) -> PPIResult:
    items = np.asarray(items, dtype=np.int64)
    labelled = np.asarray(labelled, dtype=np.int64)
    labels = np.asarray(labels, dtype=float)
    judge_free = verdicts is None
    verdicts = np.zeros(len(items)) if judge_free else verdicts
    n_items = int(items.max()) + 1 if n_items is None else n_items
    if n_items < 2:
        raise UserError("calibration needs at least 2 items (its variance is over items)")
    k_values, k_codes = np.unique(np.asarray(ks), return_inverse=True)
    n_k = len(k_values)
    cell = items * n_k + k_codes
    paths = np.bincount(cell, minlength=n_items * n_k).reshape(n_items, n_k)
    judged = np.bincount(cell, weights=verdicts, minlength=n_items * n_k).reshape(n_items, n_k)
    present = paths > 0
    fraction = np.divide(judged, paths, out=np.zeros_like(judged), where=present)
    items_at_k = present.sum(axis=0)
    continuations_at_k = paths.sum(axis=0)
    # g = N_k / (n_Ik * m_ik) for every continuation: the weight that makes the labelled mean of g * (Y - lam * f)
    # estimate the item-averaged judge error at k.
    weight = continuations_at_k[k_codes] / (items_at_k[k_codes] * paths.reshape(-1)[cell])

    n_labels = np.bincount(k_codes[labelled], minlength=n_k)
    too_few = np.flatnonzero(n_labels < MIN_LABELS_PER_K)
    if len(too_few):
        j = int(too_few[0])
        raise UserError(f"k={k_values[j]}: {n_labels[j]} labelled continuation(s); calibration needs at least "
                        f"{MIN_LABELS_PER_K} per k")
    fpc = 1.0 - n_labels / continuations_at_k
    strata = []  # per k: the labelled rows' labels, verdicts and normalised weights
    for j in range(n_k):
        chosen = k_codes[labelled] == j
        rows = labelled[chosen]
        strata.append((labels[chosen], verdicts[rows], weight[rows] / weight[rows].mean(), rows))
    if lam is not None:
        lams = np.full(n_k, float(lam))
    else:  # one weight for every k, the one that makes Corr_mean's interval narrowest
        lams = np.full(n_k, _pooled_slope(strata, fpc / n_labels))
    estimate = np.empty(n_k)
    sampling_in_shares, sampling = np.empty(n_k), np.empty(n_k)
    influence = np.zeros((n_items, n_k))
    for j, (y, f, w, rows) in enumerate(strata):
        at_k = present[:, j]
        estimate[j] = _point_estimate(y, f, verdicts[k_codes == j], weight[rows], weight[k_codes == j], lams[j])
        z = _shares(fraction[at_k, j], items[rows], y, f, w, np.flatnonzero(at_k), lams[j])
        # Domain-mean linearisation over all items: an item without k shares only the estimate itself.
        influence[:, j] = estimate[j]
        influence[at_k, j] += (n_items / items_at_k[j]) * (z - z.mean())
        sampling_in_shares[j] = fpc[j] * _residual_variance(y, f, w, lams[j], ddof=1) / n_labels[j]
        sampling[j] = fpc[j] * _residual_variance(y, f, w, lams[j], ddof=1 + (lam is None)) / n_labels[j]
    return PPIResult(ks=k_values, estimate=estimate, lam=lams, n_labels=n_labels, influence=influence,
                     sampling_in_shares=sampling_in_shares, sampling=sampling)


def _pooled_slope(strata, importance: np.ndarray) -> float:
    """The weight on the judge that minimises ``sum_k importance_k * var_k(Y - lam * f)`` over the labelled rows of
    each k: a pooled weighted slope of the labels on the verdicts within k, clipped to [0, 1] as PPI++ does (0: the
    judge is no help). Where the verdicts on the labels never vary it is 1: plain PPI, the judge's figure
    corrected by the mean of its errors."""
    covariance = spread = 0.0
    for (y, f, w, _), weight in zip(strata, importance):
        y = y - np.average(y, weights=w)
        f = f - np.average(f, weights=w)
        covariance += weight * float(np.sum(w * w * y * f)) / len(y)
        spread += weight * float(np.sum(w * w * f * f)) / len(y)
    return 1.0 if spread <= 0 else float(np.clip(covariance / spread, 0.0, 1.0))


def _shares(fraction: np.ndarray, label_items: np.ndarray, labels: np.ndarray, label_verdicts: np.ndarray,
            w: np.ndarray, item_codes: np.ndarray, lam: float) -> np.ndarray:
    """Per item at one k, its share ``z`` of the estimate with weight ``lam`` on the judge (module docstring)."""
    position = np.full(int(item_codes.max()) + 1, -1)
    position[item_codes] = np.arange(len(item_codes))
    residual = labels - lam * label_verdicts
    centred = w * (residual - np.mean(w * residual))
    scale = len(item_codes) / len(labels)
    return lam * fraction + scale * np.bincount(position[label_items], weights=centred, minlength=len(item_codes))


def _residual_variance(labels: np.ndarray, label_verdicts: np.ndarray, w: np.ndarray, lam: float, *,
                       ddof: int) -> float:
    """Variance of the weighted residuals ``w * (Y - lam * f - their weighted mean)`` over the labelled rows."""
    residual = labels - lam * label_verdicts
    centred = w * (residual - np.mean(w * residual))
    return float(np.sum(centred ** 2) / (len(centred) - ddof))


def _point_estimate(labels: np.ndarray, label_verdicts: np.ndarray, verdicts: np.ndarray, label_weights: np.ndarray,
                    weights: np.ndarray, lam: float) -> float:
    """ppi_py's weighted PPI++ mean: ``lam * mean(w * f) over all + mean(w * (Y - lam * f)) over the labelled``."""
    with warnings.catch_warnings():  # ppi_py calls warnings.simplefilter("ignore") when imported
        from ppi_py import ppi_mean_pointestimate
    value = ppi_mean_pointestimate(labels, label_verdicts, verdicts, lam=lam, w=label_weights, w_unlabeled=weights)
    return float(np.asarray(value).reshape(-1)[0])
