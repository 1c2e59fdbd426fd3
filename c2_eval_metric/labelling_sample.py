"""A random sample of a run's continuations for people to label, and the check that a label file is one.

The design: the run's continuations are split into strata by k; each stratum gets a share of the N labels in
proportion to its size (``N * N_k / total``, rounded down, the labels left over going to the largest remainders,
ties to the smaller k: largest-remainder rounding), at least :data:`MIN_PER_K` each; within each stratum a simple
random sample without replacement is drawn. A continuation of stratum k is in the sample with probability
``n_k / N_k`` (its inclusion probability). The draw depends only on the run's (item_id, k, path) keys, the seed
and N, never on the file order, so it can be drawn again to check a label file.

The sample file holds one label row per sampled continuation, in random order (so labelling in file order never
goes item by item or k by k): the fields ``c2 judge validate`` reads (``id``, ``request``, ``prefix``, ``prompt``,
``continuation``, ``label``: null), the continuation's ``item_id``, ``k`` and ``path``, and ``sample``, the
sampling plan (design, seed, N, the strata sizes and sample sizes per k, and the row's inclusion probability).
It carries no judge verdict, so a person labelling it cannot anchor on one.

Labels chosen otherwise (by hand in ``c2 view``'s label mode, or the rows two judges disagree on) are not a
random sample of the run: :func:`read_sample_labels` refuses them, while ``c2 judge validate`` still takes them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from c2kit.errors import UserError
from c2kit.jsonio import read_jsonl

from .ppi_corr import MIN_LABELS_PER_K as MIN_PER_K  # fewer labels at a k give no interval there
from .run_files import GENERATIONS_FILE

SAMPLE_FIELD = "sample"
DESIGN = "stratified by k, simple random without replacement in each stratum, proportional allocation"
Key = tuple[str, int, int]  # (item_id, k, path)


@dataclass(frozen=True)
class SamplePlan:
    """How a labelling sample was drawn: seed, size, and per k the stratum size ``N_k`` and sample size ``n_k``."""

    seed: int
    n: int
    strata: dict[int, int]
    sizes: dict[int, int]

    def inclusion_probability(self, k: int) -> float:
        return self.sizes[k] / self.strata[k]

    def to_json(self, k: int | None = None) -> dict[str, Any]:
        """The ``sample`` field of a row (of stratum ``k``: with its inclusion probability)."""
        plan = {"design": DESIGN, "seed": self.seed, "n": self.n,
                "strata": {str(key): value for key, value in sorted(self.strata.items())},
                "sizes": {str(key): value for key, value in sorted(self.sizes.items())}}
        if k is not None:
            plan["inclusion_probability"] = self.inclusion_probability(k)
        return plan

    @classmethod
    def from_json(cls, data: Any, where: str) -> SamplePlan:
        try:
            plan = cls(seed=int(data["seed"]), n=int(data["n"]),
                       strata={int(k): int(v) for k, v in data["strata"].items()},
                       sizes={int(k): int(v) for k, v in data["sizes"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise UserError(f"{where}: field {SAMPLE_FIELD!r} is not a sampling plan of c2 eval sample "
                            f"(seed, n, strata, sizes; {type(error).__name__}: {error})") from None
        if plan.strata.keys() != plan.sizes.keys() or sum(plan.sizes.values()) != plan.n:
            raise UserError(f"{where}: field {SAMPLE_FIELD!r} is inconsistent (its sizes do not add up to n over "
                            "its strata)")
        return plan


def allocate(strata: Mapping[int, int], n: int) -> dict[int, int]:
    """Proportional allocation of ``n`` over the strata, largest-remainder rounding (module docstring)."""
    total = sum(strata.values())
    if not MIN_PER_K * len(strata) <= n <= total:
        raise UserError(f"--n must be between {MIN_PER_K * len(strata)} ({MIN_PER_K} per k for {len(strata)} k "
                        f"values) and {total} (the run's continuations), got {n}")
    exact = {k: n * size / total for k, size in strata.items()}
    sizes = {k: int(value) for k, value in exact.items()}
    by_remainder = sorted(strata, key=lambda k: (-(exact[k] - sizes[k]), k))
    for k in by_remainder[:n - sum(sizes.values())]:
        sizes[k] += 1
    # Lift a stratum below the minimum with labels from the largest ones (a tiny k stratum beside large ones).
    for k in sorted(strata):
        while sizes[k] < MIN_PER_K:
            donor = max((other for other in strata if sizes[other] > MIN_PER_K), key=lambda o: (sizes[o], -o))
            sizes[donor] -= 1
            sizes[k] += 1
    return dict(sorted(sizes.items()))


def draw(keys: Sequence[Key], n: int, seed: int) -> tuple[list[Key], SamplePlan]:
    """The sampled keys, in random (labelling) order, and the plan. ``keys``: every continuation of the run."""
    ordered = sorted(set(keys), key=lambda key: (key[1], key[0], key[2]))
    if len(ordered) < len(keys):
        repeated = next(key for key, count in Counter(keys).items() if count > 1)
        raise UserError(f"continuation item_id {repeated[0]!r}, k {repeated[1]}, path {repeated[2]} appears twice")
    positions, plan = draw_positions(np.array([key[1] for key in ordered]), n, seed)
    return [ordered[index] for index in positions], plan


def draw_positions(ks: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, SamplePlan]:
    """Positions of the sampled continuations in ``ks`` (the k of every continuation, in the order (k, item_id,
    path)), in random labelling order, and the plan."""
    values, counts = np.unique(ks, return_counts=True)
    strata = {int(k): int(count) for k, count in zip(values, counts)}
    sizes = allocate(strata, n)
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([np.flatnonzero(ks == k)[np.sort(rng.choice(strata[k], sizes[k], replace=False))]
                             for k in sorted(strata)])
    return chosen[rng.permutation(len(chosen))], SamplePlan(seed=seed, n=n, strata=strata, sizes=sizes)


def label_id(key: Key) -> str:
    """``ITEM/kK/pP``, the id ``c2 eval score --disagreements`` and ``c2 view`` give a continuation."""
    return f"{key[0]}/k{key[1]}/p{key[2]}"


def read_generations(run_dir: str | Path) -> dict[Key, dict[str, Any]]:
    """The run's continuations by key; a row missing a field the label rows need names file and row."""
    path = Path(run_dir) / GENERATIONS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (a results directory of c2 eval run or c2 eval score "
                                "--results holds the continuations to sample)")
    rows: dict[Key, dict[str, Any]] = {}
    for number, row in read_jsonl(path):
        for name in ("item_id", "k", "path", "request", "prefix", "continuation"):
            if name not in row:
                raise UserError(f"{path}, row {number}: field {name!r} is missing")
        key = (str(row["item_id"]), int(row["k"]), int(row["path"]))
        if key in rows:
            raise UserError(f"{path}, row {number}: item_id {key[0]!r}, k {key[1]}, path {key[2]} repeats an "
                            "earlier row")
        rows[key] = row
    if not rows:
        raise UserError(f"{path}: no rows")
    return rows


def sample_rows(run_dir: str | Path, n: int, seed: int) -> list[dict[str, Any]]:
    """The label rows of a random sample of ``n`` of the run's continuations (module docstring)."""
    generations = read_generations(run_dir)
    keys, plan = draw(list(generations), n, seed)
    rows = []
    for key in keys:
        row = generations[key]
        rows.append({"id": label_id(key), "request": row["request"], "prefix": row["prefix"],
                     "prompt": row.get("prompt") or "", "continuation": row["continuation"], "label": None,
                     "item_id": key[0], "k": key[1], "path": key[2], SAMPLE_FIELD: plan.to_json(key[1])})
    return rows


def read_sample_labels(path: str | Path, run_dir: str | Path) -> tuple[SamplePlan, dict[Key, bool]]:
    """The plan and the labels of a labelled sample of ``run_dir``'s continuations.

    Refused, in one line saying why: rows without a sampling plan (labels chosen by hand or by the judges'
    disagreement are not a random sample), rows of several plans, a sample that is not the one the plan draws
    from this run (rows added or removed, another run's sample, a continuation that differs), rows without a
    label.
    """
    path = Path(path)
    generations = read_generations(run_dir)
    rows = list(read_jsonl(path))
    if not rows:
        raise UserError(f"{path}: no rows")
    plan = read_plan(path, rows)
    if plan is None:
        number, row = rows[0]
        chosen = "chosen where two judges disagree" if "verdicts" in row and "source" not in row else "chosen by hand"
        raise UserError(f"{path}, row {number}: no sampling plan (field {SAMPLE_FIELD!r}), so these labels are not "
                        f"a random sample of the run's continuations (rows {chosen} are not) and cannot calibrate "
                        f"it; draw one with 'c2 eval sample {run_dir} --n N --out FILE' and label it (this file "
                        "still serves c2 judge validate)")
    labels: dict[Key, bool] = {}
    row_of: dict[Key, int] = {}
    unlabelled: list[tuple[int, str]] = []
    for number, row in rows:
        where = f"{path}, row {number}"
        try:
            key = (str(row["item_id"]), int(row["k"]), int(row["path"]))
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{where}: fields 'item_id', 'k' and 'path' must name the sampled continuation") from None
        if key in row_of:
            raise UserError(f"{where}: continuation {label_id(key)} repeats row {row_of[key]}")
        row_of[key] = number
        if key not in generations:
            raise UserError(f"{where}: continuation {label_id(key)} is not in {run_dir}: this sample was drawn "
                            "from another run")
        if row.get("continuation") != generations[key]["continuation"]:
            raise UserError(f"{where}: the continuation of {label_id(key)} differs from {run_dir}'s: this sample "
                            "was drawn from another run")
        label = row.get("label")
        if label is None:
            unlabelled.append((number, label_id(key)))
        elif not isinstance(label, bool):
            raise UserError(f"{where}: field 'label' must be true (course-corrected), false or null, got {label!r}")
        else:
            labels[key] = label
    _check_draw(path, run_dir, plan, generations, row_of)
    if unlabelled:
        number, key = unlabelled[0]
        raise UserError(f"{path}: {len(unlabelled)} of {len(row_of)} sampled continuations have no label yet "
                        f"(first: row {number}, {key}); label every row (true = course-corrected), or draw a "
                        "smaller sample: a part chosen afterwards is no longer the random sample")
    return plan, labels


def read_plan(path: Path, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> SamplePlan | None:
    """The sampling plan of a labelling sample of c2 eval sample (every row carries it, one plan), else None (no row
    has one); ``ValueError`` naming the file and row for a row without it or with another plan."""
    planned = next((number for number, row in rows if SAMPLE_FIELD in row), None)
    if planned is None:
        return None
    plan = None
    for number, row in rows:
        where = f"{path}, row {number}"
        if SAMPLE_FIELD not in row:
            raise UserError(f"{where}: no sampling plan (field {SAMPLE_FIELD!r}) while row {planned} has one: every "
                            "row of a labelling sample of c2 eval sample carries it")
        row_plan = SamplePlan.from_json(row[SAMPLE_FIELD], where)
        if plan is None:
            plan = row_plan
        elif row_plan != plan:
            raise UserError(f"{where}: its sampling plan (seed {row_plan.seed}, n {row_plan.n}) differs from row "
                            f"{planned}'s (seed {plan.seed}, n {plan.n}): rows of several samples are not one random "
                            "sample")
    return plan


def _check_draw(path: Path, run_dir: str | Path, plan: SamplePlan, generations: Mapping[Key, Any],
                row_of: Mapping[Key, int]) -> None:
    """The file's continuations must be exactly the ones the plan draws from this run."""
    run_strata = dict(Counter(key[1] for key in generations))
    if run_strata != plan.strata:
        raise UserError(f"{path}: its plan's strata {plan.strata} are not {run_dir}'s continuations per k "
                        f"{dict(sorted(run_strata.items()))}: this sample was drawn from another run")
    drawn, _ = draw(list(generations), plan.n, plan.seed)
    expected = set(drawn)
    extra = [key for key in row_of if key not in expected]
    if extra:
        raise UserError(f"{path}, row {row_of[extra[0]]}: {label_id(extra[0])} is not in the sample that seed "
                        f"{plan.seed} draws from {run_dir}: rows added or changed by hand make it no random sample")
    missing = [key for key in drawn if key not in row_of]
    if missing:
        raise UserError(f"{path}: {len(missing)} of the {plan.n} sampled continuations are missing (e.g. "
                        f"{label_id(missing[0])}): a sample with rows removed is no longer the random sample; label "
                        "every row of it")
