"""Corr@k calibrated with a random sample of human labels: the public API of ``c2 eval calibrate``.

A judge's Corr@k carries the judge's errors, which its item-bootstrap interval does not. With a random sample of
the run's continuations labelled by people (``c2 eval sample``, :mod:`labelling_sample`), prediction-powered
inference (:mod:`ppi_corr`) corrects the judge's figure by its errors on the sample and gives an interval that is
valid whatever the judge. Use:

* :func:`calibrate_run` ``(run_dir, labels) -> Calibration``: per k and for Corr_mean, the calibrated estimate
  and 95% interval beside the judge's own figure and the labels-alone one, the number of labels, and the judge's
  sensitivity and specificity on them (Wilson intervals). :func:`write_calibration` writes ``calibrated.json``.
* :func:`load_calibration` ``(run_dir) -> Calibration | None``: a run's ``calibrated.json`` (``None`` without
  one; an error when the run's judgments changed since).
* :func:`calibrated_difference` ``(first_run, later_run)``: the paired difference of two calibrated runs on the
  same items, in :func:`paired.paired_difference`'s format.
* :func:`labels_hint` ``(run_dir)``: one line for a run without labels: the commands, and the interval width to
  expect with 100 and 400 labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from c2kit.errors import UserError
from c2kit.jsonio import read_json, read_jsonl, write_json

from .corr import MEAN_KEY, CorrScores, as_verdict, format_interval, format_percent
from .labelling_sample import Key, SamplePlan, read_generations, read_sample_labels
from .paired import item_fractions, why_not_paired
from .ppi_corr import PPIResult, interval, labels_only_corr, ppi_corr, variance_and_df
from .run_files import JUDGMENTS_FILE, read_scores

CALIBRATED_FILE = "calibrated.json"
METHOD = ("prediction-powered inference (PPI++) on a random sample of human labels stratified by k; 95% intervals "
          "from the variance over items (an item's paths and k values are correlated) and over the labels drawn")


@dataclass(frozen=True)
class Rate:
    """A judge's sensitivity or specificity on the labels: value, Wilson 95% interval and the labels it rests on
    (``None`` values when no label of that class was drawn)."""

    value: float | None
    ci95: tuple[float, float] | None
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "ci95": list(self.ci95) if self.ci95 else None, "n": self.n}

    @classmethod
    def of(cls, hits: int, n: int) -> Rate:
        if n == 0:
            return cls(None, None, 0)
        from scipy.stats import binomtest

        ci = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
        return cls(hits / n, (float(ci.low), float(ci.high)), n)

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Rate:
        bounds = entry["ci95"]
        return cls(None if entry["value"] is None else float(entry["value"]),
                   (float(bounds[0]), float(bounds[1])) if bounds else None, int(entry["n"]))

    def show(self) -> str:
        if self.value is None:
            return "– (n=0)"
        return f"{self.value:.2f} [{self.ci95[0]:.2f}, {self.ci95[1]:.2f}] (n={self.n})"


@dataclass(frozen=True)
class Calibration:
    """Calibrated Corr@k of one run. ``corr_at_k``, ``corr_mean`` and ``ci95`` have :class:`CorrScores`' shape
    (``ci95`` keys: ``str(k)`` and ``"mean"``); ``raw`` is the judge's own scores (today's figures), and the
    per-key dicts (same keys) give the labels-alone estimate, the number of labels and the judge's sensitivity
    and specificity on them. ``lam`` is the weight put on the judge (0: labels alone, 1: plain PPI)."""

    judge: str
    corr_at_k: dict[int, float]
    corr_mean: float
    ci95: dict[str, tuple[float, float]]
    raw: CorrScores
    labels_only: dict[str, tuple[float, tuple[float, float]]]
    lam: float
    n_labels: dict[str, int]
    sensitivity: dict[str, Rate]
    specificity: dict[str, Rate]
    n_items: int
    n_continuations: int
    plan: SamplePlan
    labels: dict[Key, bool]
    labels_file: str
    run: str
    judgments_sha256: str

    def keys(self) -> list[str]:
        return [str(k) for k in sorted(self.corr_at_k)] + [MEAN_KEY]

    def estimate(self, key: str) -> float:
        return self.corr_mean if key == MEAN_KEY else self.corr_at_k[int(key)]

    def to_json(self) -> dict[str, Any]:
        return {
            "corr_at_k": {str(k): value for k, value in sorted(self.corr_at_k.items())},
            "corr_mean": self.corr_mean,
            "ci95": {key: list(bounds) for key, bounds in self.ci95.items()},
            "n_labels": self.n_labels,
            "judge": self.judge,
            "raw": self.raw.to_json(),
            "labels_only": {key: {"estimate": value, "ci95": list(bounds)}
                            for key, (value, bounds) in self.labels_only.items()},
            "lambda": self.lam,
            "sensitivity": {key: rate.to_json() for key, rate in self.sensitivity.items()},
            "specificity": {key: rate.to_json() for key, rate in self.specificity.items()},
            "n_items": self.n_items,
            "n_continuations": self.n_continuations,
            "method": METHOD,
            "sample": self.plan.to_json(),
            "labels_file": self.labels_file,
            "run": self.run,
            "judgments_sha256": self.judgments_sha256,
            "labels": [[item, k, path, label] for (item, k, path), label in sorted(self.labels.items())],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> Calibration:
        try:
            return cls(
                judge=str(data["judge"]),
                corr_at_k={int(k): float(v) for k, v in data["corr_at_k"].items()},
                corr_mean=float(data["corr_mean"]),
                ci95={key: (float(low), float(high)) for key, (low, high) in data["ci95"].items()},
                raw=CorrScores.from_json(data["raw"]),
                labels_only={key: (float(entry["estimate"]), tuple(entry["ci95"]))
                             for key, entry in data["labels_only"].items()},
                lam=float(data["lambda"]),
                n_labels={key: int(value) for key, value in data["n_labels"].items()},
                sensitivity={key: Rate.from_json(entry) for key, entry in data["sensitivity"].items()},
                specificity={key: Rate.from_json(entry) for key, entry in data["specificity"].items()},
                n_items=int(data["n_items"]),
                n_continuations=int(data["n_continuations"]),
                plan=SamplePlan.from_json(data["sample"], where),
                labels={(str(item), int(k), int(path)): as_verdict(label, f"{where}: labels")
                        for item, k, path, label in data["labels"]},
                labels_file=str(data["labels_file"]),
                run=str(data["run"]),
                judgments_sha256=str(data["judgments_sha256"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise UserError(f"{where}: not a calibrated.json of this toolkit "
                            f"({type(error).__name__}: {error})") from None

    def to_markdown(self) -> str:
        """The judge's Corr@k beside the calibrated one and the labels-alone one, per k and Corr_mean (percent),
        with the labels, the weight put on the judge, and its sensitivity and specificity on the labels."""
        lines = ["| k | judge only (%) | calibrated (%) | labels only (%) | labels | judge sensitivity | "
                 "judge specificity |", "|---:|---:|---:|---:|---:|:---:|:---:|"]
        for key in self.keys():
            raw = self.raw.corr_mean if key == MEAN_KEY else self.raw.corr_at_k[int(key)]
            only, only_ci = self.labels_only[key]
            name = "**Corr_mean**" if key == MEAN_KEY else key
            calibrated = f"{format_percent(self.estimate(key))} {format_interval(self.ci95[key])}"
            if key == MEAN_KEY:
                calibrated = f"**{calibrated}**"
            lines.append(f"| {name} | {format_percent(raw)} {format_interval(self.raw.ci95[key])} | {calibrated} | "
                         f"{format_percent(only)} {format_interval(only_ci)} | {self.n_labels[key]} | "
                         f"{self.sensitivity[key].show()} | {self.specificity[key].show()} |")
        unanimous = [key for key in self.keys()[:-1]
                     if not (self.sensitivity[key].n and self.specificity[key].n)]
        if unanimous:
            lines += ["", f"Every label at k = {', '.join(unanimous)} is the same: no label drawn there differs, so "
                      "its interval cannot count continuations a person would label otherwise; label more to see them."]
        lines += ["", f"judge: `{self.judge}` · items: {self.n_items} · labels: {self.n_labels[MEAN_KEY]} of "
                  f"{self.n_continuations:,} continuations (random sample, seed {self.plan.seed}) · weight on the "
                  f"judge λ = {self.lam:.2f} · {METHOD}"]
        return "\n".join(lines)


@dataclass(frozen=True)
class _RunArrays:
    """One run's continuations as arrays for :func:`ppi_corr`: item codes, k, verdicts, and the labelled ones."""

    keys: list[Key]  # (item_id, k, path) of each continuation, ordered by k, item_id, path
    item_ids: list[str]
    items: np.ndarray
    ks: np.ndarray
    verdicts: np.ndarray
    labelled: np.ndarray
    labels: np.ndarray
    judge: str
    sha256: str


def _run_arrays(run_dir: Path, labels: Mapping[Key, bool], item_ids: list[str] | None = None) -> _RunArrays:
    """The run's judgments (every continuation of generations.jsonl must have one) and the labels on them."""
    path = run_dir / JUDGMENTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (calibration needs the judge's verdict on every continuation)")
    verdicts: dict[Key, bool] = {}
    judges: set[str] = set()
    for number, row in read_jsonl(path):
        try:
            key = (str(row["item_id"]), int(row["k"]), int(row["path"]))
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{path}, row {number}: fields 'item_id', 'k' and 'path' are required") from None
        if key in verdicts:
            raise UserError(f"{path}, row {number}: item_id {key[0]!r}, k {key[1]}, path {key[2]} is judged twice")
        verdicts[key] = as_verdict(row.get("corrected"), f"{path}, row {number}")
        judges.add(str(row.get("judge", "unspecified")))
    if len(judges) > 1:
        raise UserError(f"{path}: rows come from several judges {sorted(judges)}; calibrate one judge's run")
    missing = [key for key in labels if key not in verdicts]
    if missing:
        raise UserError(f"{path}: no verdict for the labelled continuation item_id {missing[0][0]!r}, k "
                        f"{missing[0][1]}, path {missing[0][2]}")
    keys = sorted(verdicts, key=lambda key: (key[1], key[0], key[2]))
    item_ids = item_ids or sorted({key[0] for key in keys})
    code = {item: number for number, item in enumerate(item_ids)}
    position = {key: number for number, key in enumerate(keys)}
    labelled = sorted(labels, key=position.__getitem__)
    return _RunArrays(keys=keys, item_ids=item_ids, items=np.array([code[key[0]] for key in keys]),
                      ks=np.array([key[1] for key in keys]), verdicts=np.array([verdicts[key] for key in keys]),
                      labelled=np.array([position[key] for key in labelled], dtype=np.int64),
                      labels=np.array([labels[key] for key in labelled]),
                      judge=judges.pop() if judges else "unspecified",
                      sha256=file_sha256(path))


def file_sha256(path: Path) -> str:
    """What a calibration records of the verdicts it corrected: the SHA-256 of their file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def calibrate_run(run_dir: str | Path, labels: str | Path) -> Calibration:
    """Calibrate ``run_dir``'s Corr@k with ``labels``, a labelled sample of ``c2 eval sample`` (module docstring).

    Label files that are not such a random sample are refused, in one line that says why
    (:func:`labelling_sample.read_sample_labels`).
    """
    run = Path(run_dir)
    plan, labelled = read_sample_labels(labels, run)
    arrays = _run_arrays(run, labelled)
    differing = set(read_generations(run)) ^ set(arrays.keys)  # the sample was drawn from the generations
    if differing:
        item, k, path = min(differing)
        raise UserError(f"{run}: generations.jsonl and {JUDGMENTS_FILE} hold different continuations (e.g. item_id "
                        f"{item!r}, k {k}, path {path} is in one only); score the whole run first")
    calibrated = _estimate(arrays)
    alone = labels_only_corr(arrays.items, arrays.ks, arrays.labelled, arrays.labels, n_items=len(arrays.item_ids))
    raw = _judge_only(run, arrays.judge)
    keys = [str(int(k)) for k in calibrated.ks] + [MEAN_KEY]
    indices = list(range(len(calibrated.ks))) + [None]
    label_k = arrays.ks[arrays.labelled]
    label_verdicts = arrays.verdicts[arrays.labelled]
    sensitivity, specificity = {}, {}
    for key, j in zip(keys, indices):
        chosen = np.ones(len(label_k), bool) if j is None else label_k == calibrated.ks[j]
        y, f = arrays.labels[chosen], label_verdicts[chosen]
        sensitivity[key] = Rate.of(int(np.sum(y & f)), int(np.sum(y)))
        specificity[key] = Rate.of(int(np.sum(~y & ~f)), int(np.sum(~y)))
    return Calibration(
        judge=arrays.judge,
        corr_at_k={int(k): _clip(value) for k, value in zip(calibrated.ks, calibrated.estimate)},
        corr_mean=_clip(calibrated.estimate_mean),
        ci95={key: calibrated.ci95(j) for key, j in zip(keys, indices)},
        raw=raw,
        labels_only={key: (_clip(alone.estimate_mean if j is None else alone.estimate[j]), alone.ci95(j))
                     for key, j in zip(keys, indices)},
        lam=float(calibrated.lam[0]),
        n_labels={**{key: int(calibrated.n_labels[j]) for key, j in zip(keys, indices) if j is not None},
                  MEAN_KEY: len(arrays.labelled)},
        sensitivity=sensitivity,
        specificity=specificity,
        n_items=len(arrays.item_ids),
        n_continuations=len(arrays.verdicts),
        plan=plan,
        labels=dict(labelled),
        labels_file=str(Path(labels)),
        run=str(run.resolve()),
        judgments_sha256=arrays.sha256,
    )


def _judge_only(run: Path, judge: str) -> CorrScores:
    """The judge's own Corr@k, shown beside the calibrated one: the run's scores.json as it is, so every place shows
    the same figures (its bootstrap interval depends on the order the items were drawn in)."""
    scores = read_scores(run)
    if scores.judge != judge:
        raise UserError(f"{run}: scores.json was computed with judge {scores.judge!r} but {JUDGMENTS_FILE} holds "
                        f"{judge!r}'s verdicts; score the run again")
    return scores


def _estimate(arrays: _RunArrays) -> PPIResult:
    return ppi_corr(arrays.items, arrays.ks, arrays.verdicts, arrays.labelled, arrays.labels,
                    n_items=len(arrays.item_ids))


def _clip(value: float, low: float = 0.0, high: float = 1.0) -> float:
    """A Corr@k lies in [0, 1]; the estimate (a judge figure plus a correction) can stray just outside."""
    return float(min(high, max(low, value)))


def write_calibration(calibration: Calibration, out_dir: str | Path) -> Path:
    """Write ``calibrated.json`` into ``out_dir`` (the run, by default of ``c2 eval calibrate``)."""
    return write_json(Path(out_dir) / CALIBRATED_FILE, calibration.to_json())


def load_calibration(run_dir: str | Path) -> Calibration | None:
    """The calibration in ``run_dir/calibrated.json``, or ``None`` when there is none.

    Raises ``ValueError`` when the file is damaged, or when the run it calibrates has other judgments now (a
    re-run or re-score): its labels would then correct verdicts they were not compared with.
    """
    path = Path(run_dir) / CALIBRATED_FILE
    if not path.is_file():
        return None
    calibration = Calibration.from_json(read_json(path), str(path))
    if (Path(run_dir) / JUDGMENTS_FILE).is_file():  # in the run itself, wherever the run has been moved since
        calibration = replace(calibration, run=str(Path(run_dir).resolve()))
    judgments = Path(calibration.run) / JUDGMENTS_FILE
    if judgments.is_file() and file_sha256(judgments) != calibration.judgments_sha256:
        raise UserError(f"{path}: {judgments} changed since this calibration was made; run 'c2 eval calibrate "
                        f"{calibration.run} --labels {calibration.labels_file}' again")
    return calibration


def calibrated_difference(first_run: str | Path, later_run: str | Path) -> dict[str, Any] | None:
    """``later - first``, calibrated, when both runs have a ``calibrated.json`` (else ``None``).

    The format of :func:`paired.paired_difference`: ``{"corr_mean_diff", "ci95", "p_value", "n_items", "per_k",
    "ks", "test"}`` (fractions; ``per_k[str(k)] = {"corr_at_k_diff", "ci95", "p_value", "n_items"}``). Each
    run keeps its own labels and power tuning; the standard error comes from the items' paired shares (the
    difference of each item's share of the two estimates), so what the runs' items have in common cancels, as in
    the paired bootstrap. ``p_value``: two-sided t test of no difference (the interval's degrees of freedom).
    Corr_mean's difference is over the k values both runs have. Raises ``ValueError`` with
    :func:`paired.why_not_paired`'s reason when the runs are not on the same items.
    """
    from scipy.stats import t

    first, later = load_calibration(first_run), load_calibration(later_run)
    if first is None or later is None:
        return None
    runs = [_run_arrays(Path(cal.run), cal.labels) for cal in (first, later)]
    fractions = [item_fractions(zip((run.item_ids[i] for i in run.items), run.ks.tolist(), run.verdicts.tolist()))
                 for run in runs]
    reason = why_not_paired(*fractions)
    if reason:
        raise UserError(reason)
    item_ids = sorted(fractions[0])
    runs = [_run_arrays(Path(cal.run), cal.labels, item_ids) for cal in (first, later)]
    a, b = (_estimate(run) for run in runs)
    ks = sorted(set(a.ks.tolist()) & set(b.ks.tolist()))
    in_a, in_b = np.isin(a.ks, ks), np.isin(b.ks, ks)

    def summary(weights_a: np.ndarray, weights_b: np.ndarray, n_items: int) -> dict[str, Any]:
        diff = float(b.estimate @ weights_b - a.estimate @ weights_a)
        variance, df = variance_and_df(b, weights_b, a, weights_a)
        se = float(np.sqrt(variance))
        p = float(2 * t.sf(abs(diff) / se, df)) if se > 0 else float(diff == 0)  # se 0: every item the same
        return {"diff": diff, "ci95": list(interval(diff, se, df, low=-1.0, high=1.0)), "p_value": p,
                "n_items": n_items}

    per_k = {}
    for k in ks:
        both = set.intersection(*({run.item_ids[i] for i in run.items[run.ks == k]} for run in runs))
        figures = summary((a.ks == k).astype(float), (b.ks == k).astype(float), len(both))
        per_k[str(k)] = {"corr_at_k_diff": figures["diff"], "ci95": figures["ci95"], "p_value": figures["p_value"],
                         "n_items": figures["n_items"]}
    overall = summary(in_a / len(ks), in_b / len(ks), len(item_ids))
    return {"corr_mean_diff": overall["diff"], "ci95": overall["ci95"], "p_value": overall["p_value"],
            "n_items": overall["n_items"], "per_k": per_k, "ks": ks,
            "n_labels": [first.n_labels[MEAN_KEY], later.n_labels[MEAN_KEY]],
            "test": f"calibrated with human labels ({METHOD}); paired over items, two-sided t test for p_value"}
