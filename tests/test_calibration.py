"""Corr@k calibrated with human labels: the labelling sample's design, the estimator on cases worked by hand, and
proof by simulation that its 95% interval holds the truth whatever the judge (tests/calibration_sim.py).

The simulation draws fresh synthetic runs (items with correlated paths and k values, a known true Corr@k) and a
fresh labelling sample for each draw, seeded by the draw's number, so it gives the same figures on any machine;
the thresholds leave room for the coverage's own sampling error (about 0.7 points over 1,000 draws).
"""

from __future__ import annotations

import numpy as np
import pytest

from c2_eval_metric.corr import MEAN_KEY, compute_corr
from c2_eval_metric.labelling_sample import allocate, draw, draw_positions
from c2_eval_metric.ppi_corr import labels_only_corr, ppi_corr
from calibration_sim import JUDGES, synthetic_run, true_corr_at_k

DRAWS = 1000  # fresh run + fresh labels each
TODAY_DRAWS = 60  # today's item-bootstrap interval costs ~40 ms a run: on the first draws only
N_ITEMS, N_KS, PATHS, N_LABELS = 200, 4, 5, 200


# -- the labelling sample ---------------------------------------------------------------------------------------

def test_allocation_is_proportional_with_largest_remainders_and_a_floor_of_three():
    assert allocate({10: 40, 20: 40, 30: 40}, 40) == {10: 14, 20: 13, 30: 13}  # the tie goes to the smaller k
    assert allocate({10: 50, 20: 30, 30: 20}, 10) == {10: 4, 20: 3, 30: 3}  # 5/3/2, k=30 lifted from k=10
    assert allocate({10: 60, 20: 30, 30: 10}, 9) == {10: 3, 20: 3, 30: 3}  # 5.4/2.7/0.9 -> floor of 3 each
    assert allocate({10: 100, 20: 50, 30: 10}, 16) == {10: 8, 20: 5, 30: 3}  # 10/5/1, the last lifted from k=10
    with pytest.raises(ValueError, match="--n must be between 9"):
        allocate({10: 40, 20: 40, 30: 40}, 8)
    with pytest.raises(ValueError, match="and 120"):
        allocate({10: 40, 20: 40, 30: 40}, 121)


def test_the_draw_depends_on_the_keys_seed_and_n_only():
    keys = [(str(item), k, path) for item in range(20) for k in (10, 20, 30) for path in range(4)]
    chosen, plan = draw(keys, 30, seed=7)
    again, _ = draw(list(reversed(keys)), 30, seed=7)
    assert chosen == again  # same continuations in the same (random) order, whatever the file order
    assert len(set(chosen)) == 30 and plan.strata == {10: 80, 20: 80, 30: 80} and plan.sizes == {10: 10, 20: 10, 30: 10}
    assert {k: sum(key[1] == k for key in chosen) for k in (10, 20, 30)} == plan.sizes
    assert [key[1] for key in chosen] != sorted(key[1] for key in chosen)  # not grouped by k for the labeller
    assert set(draw(keys, 30, seed=8)[0]) != set(chosen)
    assert plan.inclusion_probability(20) == pytest.approx(10 / 80)


def test_every_continuation_is_drawn_with_its_inclusion_probability():
    ks = np.repeat([10, 20, 30], [30, 20, 10])  # strata of 30, 20 and 10 continuations
    counts = np.zeros(len(ks))
    for seed in range(3000):
        positions, plan = draw_positions(ks, 12, seed)
        counts[positions] += 1
    expected = np.array([plan.inclusion_probability(int(k)) for k in ks])
    assert plan.sizes == {10: 5, 20: 4, 30: 3}  # 6 / 4 / 2, the last lifted to 3 from the largest
    assert np.max(np.abs(counts / 3000 - expected)) < 0.035  # 4 standard errors of the worst stratum


# -- the estimator, by hand ---------------------------------------------------------------------------------------

def test_plain_ppi_is_the_judges_figure_corrected_by_its_mean_error_on_the_labels():
    # Two items at one k: item 0 has 1 path, item 1 has 3; the judge says corrected on paths 0 and 1.
    items = np.array([0, 1, 1, 1])
    ks = np.full(4, 10)
    verdicts = np.array([True, True, False, False])
    labelled, labels = np.array([0, 2, 3]), np.array([False, True, False])
    result = ppi_corr(items, ks, verdicts, labelled, labels, lam=1.0)
    judge = (1.0 + 1 / 3) / 2  # item-averaged, as Corr@k
    weights = np.array([4 / (2 * 1), 4 / (2 * 3), 4 / (2 * 3)])  # N_k / (n_Ik * m_ik): every item counts the same
    weights = weights / weights.mean()
    correction = np.mean(weights * (labels.astype(float) - verdicts[labelled]))
    assert result.estimate[0] == pytest.approx(judge + correction)
    assert labels_only_corr(items, ks, labelled, labels).estimate[0] == pytest.approx(np.mean(weights * labels))


def test_with_a_perfect_judge_the_calibrated_figure_is_the_judges_with_its_item_interval():
    rng = np.random.default_rng(3)
    run = synthetic_run(rng, 60, 3, 6)
    positions, _ = draw_positions(run.ks, 30, seed=3)
    result = ppi_corr(run.items, run.ks, run.truth, positions, run.truth[positions])
    scores = compute_corr(zip(run.items.tolist(), run.ks.tolist(), run.truth.tolist()), judge="perfect")
    assert result.lam[0] == 1.0
    assert result.estimate.tolist() == pytest.approx([scores.corr_at_k[k] for k in (10, 20, 30)])
    fractions = run.truth.reshape(3, 60, 6).mean(axis=(0, 2))  # each item's share of Corr_mean
    assert result.se() == pytest.approx(fractions.std(ddof=1) / np.sqrt(60))


def test_items_missing_a_k_count_only_where_they_were_evaluated():
    # 60 items at k=10 and 30; only the first 30 at k=20 (a run stopped early): as in Corr@k, each k averages
    # over its own items, and k=20's interval is as wide as 30 items make it.
    rng = np.random.default_rng(4)
    run = synthetic_run(rng, 60, 3, 6)
    keep = (run.ks != 20) | (run.items < 30)
    items, ks, truth = run.items[keep], run.ks[keep], run.truth[keep]
    positions, _ = draw_positions(ks, 45, seed=4)
    result = ppi_corr(items, ks, truth, positions, truth[positions])
    scores = compute_corr(zip(items.tolist(), ks.tolist(), truth.tolist()), judge="perfect")
    assert result.estimate.tolist() == pytest.approx([scores.corr_at_k[k] for k in (10, 20, 30)])
    at_20 = truth[ks == 20].reshape(30, 6).mean(axis=1)
    assert result.se(1) == pytest.approx(at_20.std(ddof=1) / np.sqrt(30), rel=0.05)


def test_too_few_labels_at_a_k_is_an_error_naming_it():
    items, ks = np.repeat(np.arange(4), 2), np.tile([10, 20], 4)
    with pytest.raises(ValueError, match="k=20: 2 labelled"):
        ppi_corr(items, ks, np.zeros(8, bool), np.array([0, 2, 4, 1, 3]), np.zeros(5, bool))


# -- proof by simulation ------------------------------------------------------------------------------------------

def _simulate():
    truth = true_corr_at_k(N_KS)
    figures = {name: {"hits": [], "hits_k": [], "width": [], "alone": [], "today_hits": [], "today_width": [],
                      "calibrated_width_today_draws": []} for name in JUDGES}
    for number in range(DRAWS):
        rng = np.random.default_rng(number)
        run = synthetic_run(rng, N_ITEMS, N_KS, PATHS)
        positions, _ = draw_positions(run.ks, N_LABELS, seed=number)
        low, high = labels_only_corr(run.items, run.ks, positions, run.truth[positions], n_items=N_ITEMS).ci95()
        alone = high - low
        for name, judge in JUDGES.items():
            verdicts = judge(rng, run)
            result = ppi_corr(run.items, run.ks, verdicts, positions, run.truth[positions], n_items=N_ITEMS)
            low, high = result.ci95()
            entry = figures[name]
            entry["hits"].append(low <= truth.mean() <= high)
            entry["hits_k"].append(np.mean([result.ci95(j)[0] <= truth[j] <= result.ci95(j)[1] for j in range(N_KS)]))
            entry["width"].append(high - low)
            entry["alone"].append(alone)
            if number < TODAY_DRAWS:
                today = compute_corr(zip(run.items.tolist(), run.ks.tolist(), verdicts.tolist()), judge=name)
                t_low, t_high = today.ci95[MEAN_KEY]
                entry["today_hits"].append(t_low <= truth.mean() <= t_high)
                entry["today_width"].append(t_high - t_low)
                entry["calibrated_width_today_draws"].append(high - low)
    return {name: {key: float(np.mean(values)) for key, values in entry.items()} for name, entry in figures.items()}


@pytest.fixture(scope="module")
def simulation():
    figures = _simulate()
    print(f"\n{DRAWS} draws, {N_ITEMS} items x {N_KS} k x {PATHS} paths, {N_LABELS} labels (today's: first "
          f"{TODAY_DRAWS} draws)")
    print("| judge | calibrated covers Corr_mean / Corr@k | today's covers | width calibrated / today / labels only |")
    for name, entry in figures.items():
        print(f"| {name} | {entry['hits']:.3f} / {entry['hits_k']:.3f} | {entry['today_hits']:.3f} | "
              f"{100 * entry['width']:.1f} / {100 * entry['today_width']:.1f} / {100 * entry['alone']:.1f} |")
    return figures


@pytest.mark.parametrize("judge", list(JUDGES))
def test_the_calibrated_interval_holds_the_truth_whatever_the_judge(simulation, judge):
    assert simulation[judge]["hits"] >= 0.93  # Corr_mean
    assert simulation[judge]["hits_k"] >= 0.93  # Corr@k, mean over the k values


@pytest.mark.parametrize("judge", [name for name in JUDGES if name != "perfect"])
def test_todays_interval_misses_the_truth_with_a_biased_judge(simulation, judge):
    assert simulation[judge]["today_hits"] <= 0.6
    assert simulation[judge]["hits"] - simulation[judge]["today_hits"] >= 0.3


def test_with_a_perfect_judge_the_calibrated_interval_is_as_narrow_as_todays(simulation):
    perfect = simulation["perfect"]
    assert perfect["today_hits"] >= 0.85
    assert perfect["calibrated_width_today_draws"] <= 1.05 * perfect["today_width"]


@pytest.mark.parametrize("judge", list(JUDGES))
def test_the_judge_makes_the_interval_narrower_than_the_labels_alone(simulation, judge):
    ratio = simulation[judge]["width"] / simulation[judge]["alone"]
    assert ratio <= (0.6 if judge == "perfect" else 0.95)
