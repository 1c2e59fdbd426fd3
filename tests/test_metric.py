"""Corr@k math, the bootstrap intervals, the `evaluate` module and the results directory files."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

import c2_eval_metric
from c2_eval_metric.corr import CorrScores, compute_corr
from c2_eval_metric.results import write_scored_results
from c2kit.jsonio import read_jsonl

# Hand-made judgments with unequal path counts and an item missing a k:
#   k=10: a 1/4 corrected, b 2/2          -> Corr@10 = (0.25 + 1) / 2 = 0.625  (pooled: 3/6 = 0.5)
#   k=20: a 2/2, b 0/3, c 1/1             -> Corr@20 = (1 + 0 + 1) / 3 = 2/3   (pooled: 3/6 = 0.5)
#   Corr_mean = (0.625 + 2/3) / 2 = 0.6458333...
UNEQUAL = (
    [("a", 10, True)] + [("a", 10, False)] * 3 + [("b", 10, True)] * 2
    + [("a", 20, True)] * 2 + [("b", 20, False)] * 3 + [("c", 20, True)]
)


def synthetic_rows(n_items: int, ks=(10, 20), paths: int = 10, seed: int = 0) -> list[tuple[str, int, bool]]:
    """Items whose true correction rate is drawn from Beta(2, 3); the same distribution for any n_items."""
    rng = np.random.default_rng(seed)
    rows = []
    for item in range(n_items):
        rate = rng.beta(2, 3)
        for k in ks:
            rows += [(f"item{item}", k, bool(flag)) for flag in rng.random(paths) < rate]
    return rows


def test_corr_at_k_is_mean_over_items_not_pooled_fraction():
    scores = compute_corr(UNEQUAL, judge="test")
    assert scores.corr_at_k == {10: pytest.approx(0.625), 20: pytest.approx(2 / 3)}
    assert scores.corr_mean == pytest.approx((0.625 + 2 / 3) / 2)
    assert scores.n_items == 3
    assert scores.paths == 4  # the most paths of any (item, k)
    assert scores.judge == "test"


def test_equal_path_counts_give_the_pooled_fraction():
    # 3 items x 4 paths at k=10: 1, 2 and 4 corrected -> pooled 7/12 equals the mean of 1/4, 2/4, 4/4.
    rows = [("x", 10, i < 1) for i in range(4)] + [("y", 10, i < 2) for i in range(4)] + \
           [("z", 10, i < 4) for i in range(4)]
    scores = compute_corr(rows, judge="test")
    assert scores.corr_at_k[10] == pytest.approx(7 / 12)
    assert scores.corr_mean == pytest.approx(7 / 12)


def test_ci_contains_estimate_and_is_reproducible():
    rows = synthetic_rows(40)
    first = compute_corr(rows, judge="test", seed=3)
    again = compute_corr(rows, judge="test", seed=3)
    other = compute_corr(rows, judge="test", seed=4)
    assert first == again
    assert first.ci95 != other.ci95
    for k, value in first.corr_at_k.items():
        low, high = first.ci95[str(k)]
        assert 0 <= low < value < high <= 1
    low, high = first.ci95["mean"]
    assert low < first.corr_mean < high


def test_ci_shrinks_with_more_items():
    def width(scores: CorrScores, key: str) -> float:
        return scores.ci95[key][1] - scores.ci95[key][0]

    small = compute_corr(synthetic_rows(20), judge="test")
    large = compute_corr(synthetic_rows(500), judge="test")
    # Width scales like 1/sqrt(n_items): about 5x narrower for 25x the items; require at least 2.5x.
    for key in ("10", "20", "mean"):
        assert width(large, key) < width(small, key) / 2.5


def test_bootstrap_resamples_whole_items_across_k():
    # Each item corrects at k=20 exactly when it does not at k=10. Resampling whole items keeps
    # Corr@10 + Corr@20 = 1 in every resample, so Corr_mean is 0.5 with a zero-width interval; resampling
    # k values (or paths) independently would not.
    rows = []
    for item in range(30):
        flag = item % 3 == 0
        rows += [(str(item), 10, flag)] * 2 + [(str(item), 20, not flag)] * 2
    scores = compute_corr(rows, judge="test")
    assert scores.corr_at_k[10] == pytest.approx(1 / 3)
    assert scores.ci95["mean"] == pytest.approx((0.5, 0.5))
    assert scores.ci95["10"][1] - scores.ci95["10"][0] > 0.1


def test_all_items_alike_give_a_point_interval():
    rows = [(str(item), 10, path < 3) for item in range(10) for path in range(4)]
    scores = compute_corr(rows, judge="test")
    assert scores.ci95["10"] == pytest.approx((0.75, 0.75))


def full_size_rows(n_items: int) -> list[tuple[str, int, bool]]:
    """``n_items`` items x 8 ks x 20 paths, as a full C2-Eval run judges them."""
    flags = np.random.default_rng(0).random(n_items * 8 * 20) < 0.4
    return [(f"i{i // 160}", 10 * (1 + (i // 20) % 8), bool(flag)) for i, flag in enumerate(flags)]


def python_calls(call) -> int:
    """How many Python and builtin functions ``call()`` calls, all the way down."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        count += event in ("call", "c_call")

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return count


def test_the_bootstrap_does_no_python_work_per_resample():
    """Every resample is drawn and scored in whole-array numpy steps: 20x the resamples add not one Python call
    each. (How long a full-size run's bootstrap takes is measured by benchmarks/bench_metric.py.)"""
    scores = compute_corr(full_size_rows(500), judge="test", n_bootstrap=1000)
    assert scores.n_items == 500 and scores.paths == 20 and len(scores.corr_at_k) == 8

    rows = full_size_rows(20)
    compute_corr(rows, judge="test", n_bootstrap=10)  # first-call set-up (imports, caches) out of the count
    few, many = (python_calls(lambda: compute_corr(rows, judge="test", n_bootstrap=n)) for n in (100, 2000))
    assert many - few < (2000 - 100) // 10, (few, many)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "no judgments"),
        ([("a", 0, True)], "k must be a positive integer"),
        ([("a", True, True)], "k must be a positive integer"),
        ([("a", 10, "yes")], "corrected must be a bool"),
        ([("a", 10)], "expected (item_id, k, corrected)"),
    ],
)
def test_bad_judgments_are_rejected(rows, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compute_corr(rows, judge="test")


def test_scores_json_format_exactly():
    scores = compute_corr(UNEQUAL, judge="keyword-v1", n_bootstrap=200)
    data = json.loads(json.dumps(scores.to_json()))
    assert list(data) == ["corr_at_k", "corr_mean", "ci95", "n_items", "paths", "judge"]
    assert data["corr_at_k"] == {"10": 0.625, "20": pytest.approx(2 / 3)}
    assert set(data["ci95"]) == {"10", "20", "mean"}
    assert all(isinstance(bounds, list) and len(bounds) == 2 for bounds in data["ci95"].values())
    assert all(0 <= value <= 1 for bounds in data["ci95"].values() for value in bounds)
    assert (data["n_items"], data["paths"], data["judge"]) == (3, 4, "keyword-v1")
    assert CorrScores.from_json(data) == scores
    with pytest.raises(ValueError, match="'ci95' has no interval for \\['mean'\\]"):
        CorrScores.from_json({**data, "ci95": {"10": [0, 1], "20": [0, 1]}})


def test_markdown_table():
    scores = CorrScores({10: 0.625, 20: 0.5}, 0.5625, {"10": (0.25, 1.0), "20": (0.0, 1.0), "mean": (0.5, 0.625)},
                        n_items=2, paths=4, judge="keyword-v1")
    assert scores.to_markdown().splitlines() == [
        "| k | Corr@k (%) | 95% CI (%) |",
        "|---:|---:|:---:|",
        "| 10 | 62.5 | [25.0, 100.0] |",
        "| 20 | 50.0 | [0.0, 100.0] |",
        "| **Corr_mean** | **56.2** | [50.0, 62.5] |",
        "",
        "judge: `keyword-v1` · items: 2 · paths per (item, k): 4",
    ]


def _evaluate_load(path: str):
    import evaluate

    return evaluate.load(path)


def test_evaluate_load_offline_matches_compute_corr(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = _evaluate_load(c2_eval_metric.METRIC_PATH)
    item_ids, ks, predictions = zip(*UNEQUAL)
    result = metric.compute(predictions=list(predictions), item_ids=list(item_ids), ks=list(ks), judge="kw",
                            n_bootstrap=300, seed=5)
    assert result == compute_corr(UNEQUAL, judge="kw", n_bootstrap=300, seed=5).to_json()
    # 0/1 integers are accepted as predictions, and the judge defaults to "unspecified".
    result = metric.compute(predictions=[int(p) for p in predictions], item_ids=list(item_ids), ks=list(ks))
    assert result["corr_at_k"] == {"10": 0.625, "20": pytest.approx(2 / 3)}
    assert result["judge"] == "unspecified"
    # Batches can be added one at a time.
    metric.add_batch(predictions=list(predictions[:5]), item_ids=list(item_ids[:5]), ks=list(ks[:5]))
    metric.add_batch(predictions=list(predictions[5:]), item_ids=list(item_ids[5:]), ks=list(ks[5:]))
    assert metric.compute(judge="kw") == compute_corr(UNEQUAL, judge="kw").to_json()


@pytest.mark.parametrize("bad", ["no", "false", "0", 0.2, None])
def test_evaluate_module_refuses_non_boolean_predictions(monkeypatch, bad):
    # The module's bool feature would cast each of these to a verdict ("no" -> True); they must be refused.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = _evaluate_load(c2_eval_metric.METRIC_PATH)
    with pytest.raises(ValueError, match=r"predictions\[1\]: corrected must be a bool \(or 0/1\)"):
        metric.compute(predictions=[True, bad], item_ids=["a", "a"], ks=[10, 10])
    with pytest.raises(ValueError, match="corrected must be a bool"):
        metric.add(prediction=bad, item_ids="a", ks=10)


def test_metric_module_is_self_sufficient_as_a_space(tmp_path, monkeypatch):
    """Publishing uploads only SPACE_FILES, with the module renamed to the Space's name: it must load so."""
    from evaluate.loading import get_imports

    folder = tmp_path / "c2_eval"
    folder.mkdir()
    files = c2_eval_metric.space_files("c2_eval")
    assert set(files) == {"c2_eval.py", "corr.py", "README.md", "requirements.txt"}
    for name, source in files.items():
        shutil.copyfile(source, folder / name)
    # The module's imports: standard libraries plus the one sibling file; corr.py needs only numpy.
    module_imports = {(kind, name) for kind, name, _, _ in get_imports(str(folder / "c2_eval.py"))}
    assert module_imports == {("library", "__future__"), ("library", "datasets"), ("library", "evaluate"),
                              ("internal", "corr")}
    corr_imports = {name for kind, name, _, _ in get_imports(str(folder / "corr.py"))}
    assert corr_imports <= {"__future__", "collections", "dataclasses", "typing", "numpy"}
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "- evaluate" in card and "- metric" in card

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = _evaluate_load(str(folder))
    item_ids, ks, predictions = zip(*UNEQUAL)
    result = metric.compute(predictions=list(predictions), item_ids=list(item_ids), ks=list(ks))
    assert result == compute_corr(UNEQUAL, judge="unspecified").to_json()
    with pytest.raises(ValueError, match="not 'corr'"):
        c2_eval_metric.space_files("corr")


def _judgments(rows, judge="test-judge"):
    counters: dict = {}
    out = []
    for item_id, k, corrected in rows:
        path = counters.setdefault((item_id, k), 0)
        counters[(item_id, k)] += 1
        out.append({"item_id": item_id, "k": k, "path": path, "judge": judge, "corrected": corrected})
    return out


def test_write_scored_results(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model": "org/chat-model", "paths": 4}))
    judgments = _judgments(UNEQUAL)
    scores = write_scored_results(tmp_path, judgments, judge="test-judge",
                                  config={"judge": "test-judge", "adapter": None})

    assert scores.corr_at_k[10] == pytest.approx(0.625)
    assert json.loads((tmp_path / "scores.json").read_text()) == {**scores.to_json(),
                                                                  "n_items_at_k": {"10": 2, "20": 3}}
    assert [row for _, row in read_jsonl(tmp_path / "judgments.jsonl")] == judgments
    # config.json is merged, not replaced.
    assert json.loads((tmp_path / "config.json").read_text()) == {"model": "org/chat-model", "paths": 4,
                                                                  "judge": "test-judge", "adapter": None}
    summary = (tmp_path / "summary.md").read_text()
    assert "**Corr@k**" in summary and "bootstrap" in summary  # explains what the numbers mean
    assert "| 10 | 62.5 |" in summary
    assert "judge: `test-judge` · items: 3" in summary
    assert "- paths per (item, k): 1 to 4 (unequal" in summary
    # The run's settings as a short table (unset ones left out); config.json keeps the full record.
    assert ("## Run settings\n\n| setting | value |\n|---|---|\n| model | `org/chat-model` |\n"
            "| prefixes | 4 paths per (item, k) |\n| judge | `test-judge` |\n\nEvery setting") in summary
    assert "adapter" not in summary.split("## Run settings")[1]
    assert "![Corr@k against k](corr_at_k.png)" in summary
    assert (tmp_path / "corr_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_scored_results_rejects_bad_judgments(tmp_path):
    judgments = _judgments(UNEQUAL)
    with pytest.raises(ValueError, match="judgment 7: item_id 'a', k 10, path 0 was already judged in judgment 1"):
        write_scored_results(tmp_path, judgments[:6] + [dict(judgments[0])], judge="t")
    with pytest.raises(ValueError, match="judgment 2: field 'corrected' must be a bool"):
        write_scored_results(tmp_path, [judgments[0], {**judgments[1], "corrected": "no"}], judge="t")
    with pytest.raises(ValueError, match=r"judgment 1: field\(s\) \['path'\] missing"):
        write_scored_results(tmp_path, [{key: v for key, v in judgments[0].items() if key != "path"}], judge="t")
    assert not (tmp_path / "scores.json").exists()
