"""Judge validation: how well a judge agrees with human labels, with bootstrap confidence intervals.

Input: JSONL rows with ``request``, ``prefix``, ``continuation`` and ``label`` (true = course-corrected),
optionally ``id``, ``kind`` (e.g. ``trigger_then_harm``), ``lang`` and ``prompt`` (the rendered model input,
for judges that read it; when absent a Llama-2 chat rendering of request and prefix stands in, the format of
the paper's own runs). The shipped set (``c2kit/data/judge_validation.jsonl``, see its datasheet) is the
default.

Output (:class:`ValidationReport`): accuracy, precision, recall, specificity and Cohen's kappa against the
labels, each with a percentile-bootstrap 95% interval over rows, the confusion matrix, per-kind accuracy, and
the judge's answer tally; the misjudged rows can be written out for reading.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from c2kit.errors import UserError
from c2kit.jsonio import read_jsonl
from c2kit.judges.base import Judge, JudgeInput

SHIPPED_LABELS = "judge-validation"
BATCH = 256  # inputs per judge call, as when scoring results
METRICS = ("accuracy", "precision", "recall", "specificity", "kappa")


def shipped_labels_path() -> Path:
    """The labelled validation set that ships with the package."""
    return Path(__file__).resolve().parent.parent / "data" / "judge_validation.jsonl"


@dataclass(frozen=True)
class LabelledRow:
    id: str
    input: JudgeInput
    label: bool
    kind: str
    lang: str


def _llama2_rendering(request: str, prefix: str) -> str:
    return f"<s>[INST] {request.strip()} [/INST] {prefix.strip()}"


def read_labels(path: str | Path) -> list[LabelledRow]:
    """Labelled rows; a missing field, an unfilled or non-boolean label, or a duplicate id names file and row."""
    rows: list[LabelledRow] = []
    seen: dict[str, int] = {}
    for number, record in read_jsonl(path):
        for name in ("request", "prefix", "continuation"):
            if not isinstance(record.get(name), str):
                raise UserError(f"{path}, row {number}: field {name!r} must be a string "
                                f"(label rows have request, prefix, continuation, label)")
        label = record.get("label")
        if label is None:
            raise UserError(f"{path}, row {number}: field 'label' is not filled in (true = course-corrected)")
        if not isinstance(label, bool):
            raise UserError(f"{path}, row {number}: field 'label' must be true or false, got {label!r}")
        row_id = str(record.get("id", number))
        if row_id in seen:
            raise UserError(f"{path}, row {number}: id {row_id!r} repeats row {seen[row_id]}")
        seen[row_id] = number
        prompt = record.get("prompt") or _llama2_rendering(record["request"], record["prefix"])
        rows.append(LabelledRow(
            id=row_id,
            input=JudgeInput(record["request"], record["prefix"], record["continuation"], prompt=prompt),
            label=label,
            kind=str(record.get("kind") or "unspecified"),
            lang=str(record.get("lang") or "unspecified"),
        ))
    if not rows:
        raise UserError(f"{path}: no labelled rows")
    return rows


def _metrics(labels: np.ndarray, verdicts: np.ndarray) -> dict[str, float | None]:
    """The five figures for one sample; ``None`` where a denominator is zero (e.g. no positive labels)."""
    tp = float(np.sum(labels & verdicts))
    tn = float(np.sum(~labels & ~verdicts))
    fp = float(np.sum(~labels & verdicts))
    fn = float(np.sum(labels & ~verdicts))
    n = tp + tn + fp + fn
    observed = (tp + tn) / n
    expected = ((tp + fn) * (tp + fp) + (tn + fp) * (tn + fn)) / (n * n)
    return {
        "accuracy": observed,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "specificity": tn / (tn + fp) if tn + fp else None,
        "kappa": (observed - expected) / (1 - expected) if expected < 1 else None,
    }


def bootstrap_metrics(labels: Sequence[bool], verdicts: Sequence[bool], *, n_bootstrap: int = 2000,
                      seed: int = 0) -> dict[str, dict[str, Any]]:
    """Each metric's value and percentile-bootstrap 95% interval (rows resampled with replacement).

    Resamples where a metric is undefined (its denominator is zero) are left out of that metric's interval.
    """
    y = np.asarray(labels, dtype=bool)
    v = np.asarray(verdicts, dtype=bool)
    point = _metrics(y, v)
    draws: dict[str, list[float]] = {name: [] for name in METRICS}
    rng = np.random.default_rng(seed)
    for _ in range(n_bootstrap):
        index = rng.integers(0, len(y), len(y))
        for name, value in _metrics(y[index], v[index]).items():
            if value is not None:
                draws[name].append(value)
    result = {}
    for name in METRICS:
        values = draws[name]
        interval = [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if values else None
        result[name] = {"value": point[name], "ci95": interval}
    return result


@dataclass
class ValidationReport:
    judge: str
    labels_file: str
    n: int
    metrics: dict[str, dict[str, Any]]
    confusion: dict[str, dict[str, int]]
    by_kind: dict[str, dict[str, Any]]
    tally: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, "labels_file": self.labels_file, "n": self.n, "metrics": self.metrics,
                "confusion": self.confusion, "by_kind": self.by_kind, "tally": self.tally,
                "n_errors": len(self.errors)}

    def to_markdown(self) -> str:
        def show(entry: dict[str, Any]) -> str:
            if entry["value"] is None:
                return "undefined"
            interval = entry["ci95"]
            return f"{entry['value']:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else f"{entry['value']:.3f}"

        lines = [f"Judge `{self.judge}` on {self.n} labelled continuations ({Path(self.labels_file).name}); "
                 "95% bootstrap intervals over rows.", "",
                 "| " + " | ".join(METRICS) + " |", "|" + "---|" * len(METRICS),
                 "| " + " | ".join(show(self.metrics[name]) for name in METRICS) + " |", "",
                 "| label \\ verdict | corrected | not corrected |", "|---|---|---|"]
        for label in ("corrected", "not_corrected"):
            row = self.confusion[label]
            lines.append(f"| {label.replace('_', ' ')} | {row['corrected']} | {row['not_corrected']} |")
        lines += ["", "| kind | n | labelled corrected | accuracy |", "|---|---|---|---|"]
        for kind, entry in sorted(self.by_kind.items()):
            lines.append(f"| {kind} | {entry['n']} | {entry['positives']} | {entry['accuracy']:.3f} |")
        if self.tally:
            lines += ["", "Judge answers: " + ", ".join(f"{k} {v}" for k, v in sorted(self.tally.items()))]
        return "\n".join(lines)


def label_set_name(path: str | Path) -> str:
    """What a labels file is called in tables: ``shipped`` for the shipped set, else the file's stem."""
    return "shipped" if Path(path).resolve() == shipped_labels_path() else Path(path).stem


def summary_table(reports: Sequence[ValidationReport]) -> str:
    """One Markdown row per (judge, label set): n, positives and the five figures with their intervals."""
    def show(entry: dict[str, Any]) -> str:
        if entry["value"] is None:
            return "undefined"
        interval = entry["ci95"]
        return f"{entry['value']:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else f"{entry['value']:.3f}"

    lines = ["| judge | label set | n | labelled corrected | " + " | ".join(METRICS) + " |",
             "|---|---|---:|---:|" + "---|" * len(METRICS)]
    for report in reports:
        positives = report.confusion["corrected"]["corrected"] + report.confusion["corrected"]["not_corrected"]
        lines.append(f"| `{report.judge}` | {label_set_name(report.labels_file)} | {report.n} | {positives} | "
                     + " | ".join(show(report.metrics[name]) for name in METRICS) + " |")
    return "\n".join(lines)


def validate_judge(judge: Judge, rows: Sequence[LabelledRow], *, labels_file: str | Path = "",
                   n_bootstrap: int = 2000, seed: int = 0, progress: bool = True) -> ValidationReport:
    """Judge every labelled row and compare the verdicts with the labels."""
    from tqdm.auto import tqdm

    from c2kit.quiet import progress_shown

    verdicts: list[bool] = []
    with tqdm(total=len(rows), desc=f"validating {judge.name}", unit="row",
              disable=not (progress and progress_shown())) as bar:
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            verdicts += [bool(v) for v in judge.judge([row.input for row in batch])]
            bar.update(len(batch))
    labels = [row.label for row in rows]
    confusion = {"corrected": Counter(), "not_corrected": Counter()}
    kinds: dict[str, Counter] = {}
    errors = []
    for row, verdict in zip(rows, verdicts, strict=True):
        confusion["corrected" if row.label else "not_corrected"]["corrected" if verdict else "not_corrected"] += 1
        kind = kinds.setdefault(row.kind, Counter())
        kind["n"] += 1
        kind["positives"] += row.label
        kind["right"] += verdict == row.label
        if verdict != row.label:
            errors.append({"id": row.id, "kind": row.kind, "lang": row.lang, "label": row.label, "verdict": verdict,
                           "request": row.input.request, "prefix": row.input.prefix,
                           "continuation": row.input.continuation})
    return ValidationReport(
        judge=judge.name,
        labels_file=str(labels_file),
        n=len(rows),
        metrics=bootstrap_metrics(labels, verdicts, n_bootstrap=n_bootstrap, seed=seed),
        confusion={label: {col: counts[col] for col in ("corrected", "not_corrected")}
                   for label, counts in confusion.items()},
        by_kind={kind: {"n": c["n"], "positives": c["positives"], "accuracy": c["right"] / c["n"]}
                 for kind, c in kinds.items()},
        tally=judge.tally(),
        errors=errors,
    )
