"""Is a results directory's ``scores.json`` what its ``judgments.jsonl`` gives?

Every figure a reader sees (``c2 eval compare``, ``c2 view``, ``c2 publish``) comes from ``scores.json``, a file
that a hand edit, a copy from another run or a kill between two writes can leave out of step with the per-path
verdicts. :func:`check_results_dir`, the one check all three run, recomputes the point figures from the verdicts
and refuses, in one line naming the file and the first differing number, a scores.json that differs. It refuses
rather than recomputes: scores.json also carries what the verdicts alone cannot give back (depth counts, groups,
the official file's pooled figure), the run's own summary.md and plot show the same numbers, and a silent
recompute would leave them wrong. Re-judging the run's continuations (the advice in the message) writes all of
them anew.

The ``calibrated`` block (Corr@k calibrated with human labels, :mod:`calibrated_scores`) is checked against
calibrated.json and the labels it was made with: made from the verdicts judgments.jsonl holds now, with the same
labels, and the same figures, to float precision.

Checked, for the Corr@k figures and for the ``overcorrection`` block (against ``overcorrection/judgments.jsonl``):
the judge of every verdict; each figure per k, the mean, the item count and the paths per (item, k), exactly (to
float precision); the items per k; and that each 95% interval is an interval of fractions holding its point
estimate (a bootstrap percentile interval of a mean of fractions always does). The bounds themselves are not
recomputed: they come from random resamples, whose stream numpy does not promise to keep across its versions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c2kit.errors import UserError
from c2kit.jsonio import read_json, read_jsonl

from .calibrated_scores import BLOCK, calibrated_scores, labels_checksum
from .calibration import CALIBRATED_FILE, Calibration, calibrate_run, file_sha256, load_calibration
from .corr import MEAN_KEY, CorrScores, compute_corr
from .depth import items_at_k
from .overcorrection import OVERCORRECTION_DIR
from .run_files import GENERATIONS_FILE, JUDGMENTS_FILE, SCORES_FILE

TOLERANCE = 1e-9  # recomputed point figures equal the stored ones to float precision
# How the over-correction block names the Corr@k fields (c2_eval_metric.overcorrection.overcorrection_block).
OVERCORRECTION_FIELDS = {"corr_at_k": "rate_at_k", "corr_mean": "rate_mean"}


class ScoresMismatch(UserError):
    """scores.json is not what judgments.jsonl gives; the message names the file and the first differing number."""


def check_results_dir(folder: str | Path) -> list[str]:
    """Check ``folder/scores.json`` (its Corr@k figures and its ``overcorrection`` block) against the verdicts
    beside it; :class:`ScoresMismatch` (a ValueError) on the first difference, ValueError for a malformed file.

    Returns the verdict files that were missing (``judgments.jsonl``, ``overcorrection/judgments.jsonl``), so
    that those figures could only be checked for their intervals: a caller says so. A folder without
    scores.json has nothing to check.
    """
    folder = Path(folder)
    if not (folder / SCORES_FILE).is_file():
        return []
    stored = read_json(folder / SCORES_FILE)
    if not isinstance(stored, dict):
        raise UserError(f"{folder / SCORES_FILE}: not a JSON object")
    missing = []
    blocks = [("", stored, JUDGMENTS_FILE)]
    if stored.get("overcorrection") is not None:
        blocks.append(("overcorrection.", stored["overcorrection"], f"{OVERCORRECTION_DIR}/{JUDGMENTS_FILE}"))
    for prefix, block, judgments_name in blocks:
        scores = _block_scores(folder / SCORES_FILE, prefix, block)
        judgments_file = folder / judgments_name
        if judgments_file.is_file():
            _check_block(folder, scores, [row for _, row in read_jsonl(judgments_file)],
                         n_items_at_k=block.get("n_items_at_k"), judgments_name=judgments_name, prefix=prefix)
        else:
            missing.append(judgments_name)
            _check_intervals(folder, scores, prefix=prefix)
    return missing + _check_calibrated(folder, stored)


def _check_block(folder: Path, scores: CorrScores, judgments: Sequence[Mapping[str, Any]], *,
                 n_items_at_k: Mapping[str, Any] | None, judgments_name: str, prefix: str) -> None:
    """Raise :class:`ScoresMismatch` unless ``scores`` (from ``folder/scores.json``; its fields under ``prefix``,
    e.g. ``"overcorrection."``) is what ``judgments`` (the rows of ``folder/judgments_name``: ``item_id``, ``k``,
    ``judge``, ``corrected``) give. ``n_items_at_k`` is the stored count of items per k, where there is one."""
    scores_file, judgments_file = folder / SCORES_FILE, folder / judgments_name
    advice = _rescore_advice(folder, scores.judge)
    if not judgments:
        raise ScoresMismatch(f"{judgments_file}: no rows, so {scores_file} cannot be checked; {advice}")
    for number, row in enumerate(judgments, start=1):
        if row.get("judge") != scores.judge:
            raise ScoresMismatch(f"{judgments_file}, row {number}: field 'judge' is {row.get('judge')!r} but "
                                 f"{SCORES_FILE} was computed with {scores.judge!r}")
    try:
        # Point figures do not depend on the bootstrap, so one resample is enough here.
        recomputed = compute_corr(((row["item_id"], row["k"], row["corrected"]) for row in judgments),
                                  judge=scores.judge, n_bootstrap=1)
    except KeyError as error:
        raise ScoresMismatch(f"{judgments_file}: a row has no field {error}") from None
    except ValueError as error:
        raise ScoresMismatch(f"{judgments_file}: {error}") from None

    def differs(field: str, stored_value: Any, value: Any) -> ScoresMismatch:
        return ScoresMismatch(f"{scores_file}: field {_name(prefix, field)} is {stored_value} but {judgments_name} "
                              f"gives {value}; {advice}")

    if set(recomputed.corr_at_k) != set(scores.corr_at_k):
        raise differs("corr_at_k", f"for k {sorted(scores.corr_at_k)}", f"k {sorted(recomputed.corr_at_k)}")
    figures = [(f"corr_at_k[{k}]", scores.corr_at_k[k], recomputed.corr_at_k[k]) for k in sorted(scores.corr_at_k)]
    figures.append(("corr_mean", scores.corr_mean, recomputed.corr_mean))
    for field, stored_value, value in figures:
        if not math.isclose(stored_value, value, rel_tol=0, abs_tol=TOLERANCE):
            raise differs(field, stored_value, value)
    for field, stored_value, value in (("n_items", scores.n_items, recomputed.n_items),
                                       ("paths", scores.paths, recomputed.paths)):
        if stored_value != value:
            raise differs(field, stored_value, value)
    if n_items_at_k is not None:
        counted = items_at_k(judgments)
        if not isinstance(n_items_at_k, Mapping):
            raise differs("n_items_at_k", n_items_at_k, counted)
        for k in [*counted, *(k for k in n_items_at_k if k not in counted)]:
            if n_items_at_k.get(k) != counted.get(k):
                raise differs(f"n_items_at_k[{k}]", n_items_at_k.get(k), counted.get(k))
    _check_intervals(folder, scores, prefix=prefix)


def _check_intervals(folder: Path, scores: CorrScores, *, prefix: str) -> None:
    """Each 95% interval of ``scores`` is ``[low, high]`` with ``0 <= low <= point <= high <= 1``;
    :class:`ScoresMismatch` names the first that is not."""
    points = [(str(k), f"corr_at_k[{k}]", value) for k, value in sorted(scores.corr_at_k.items())]
    points.append((MEAN_KEY, "corr_mean", scores.corr_mean))
    for key, field, point in points:
        low, high = scores.ci95[key]
        if math.isnan(low) or math.isnan(high):  # no resample held every k (a pathological design): no interval
            continue
        if not (-TOLERANCE <= low <= point + TOLERANCE and point - TOLERANCE <= high <= 1 + TOLERANCE):
            raise ScoresMismatch(
                f"{folder / SCORES_FILE}: field {_name(prefix, f'ci95[{key}]')} is [{low}, {high}], which is "
                f"not an interval of fractions holding {_name(prefix, field)} {point}; "
                f"{_rescore_advice(folder, scores.judge)}")


def _rescore_advice(folder: Path, judge: str) -> str:
    """How to write a results directory's figures anew: re-judge its continuations, or (a folder of judged rows
    without continuations) score its verdicts again."""
    if (folder / GENERATIONS_FILE).is_file():
        command = f"c2 eval score --results {folder} --judge {judge} --out NEW_FOLDER"
    else:
        command = f"c2 eval score --judged {folder / JUDGMENTS_FILE} --out NEW_FOLDER"
    return f"its figures were edited or are stale: write them anew with '{command}'"


def _block_scores(scores_file: Path, prefix: str, block: Any) -> CorrScores:
    """The Corr@k figures of scores.json (``prefix`` ""), or of its over-correction block, as CorrScores."""
    if not isinstance(block, Mapping):
        raise UserError(f"{scores_file}: field {prefix.rstrip('.')} is not an object")
    if prefix:
        renamed = {name: block[stored] for name, stored in OVERCORRECTION_FIELDS.items() if stored in block}
        block = {**block, **renamed}
    try:
        return CorrScores.from_json(block)
    except ValueError as error:
        where = f"field {prefix.rstrip('.')} is malformed" if prefix else "not a scores.json of this toolkit"
        raise UserError(f"{scores_file}: {where} ({error})") from None


def _name(prefix: str, field: str) -> str:
    """How the file names a field: Corr@k's own, or the over-correction block's (``overcorrection.rate_at_k``)."""
    if not prefix:
        return field
    base, bracket, rest = field.partition("[")
    return f"{prefix}{OVERCORRECTION_FIELDS.get(base, base)}{bracket}{rest}"


def _check_calibrated(folder: Path, stored: Mapping[str, Any]) -> list[str]:
    """Check scores.json's ``calibrated`` block (:mod:`calibrated_scores`: made from the verdicts, labels and
    figures it names); :class:`ScoresMismatch` on the first thing
    that differs. Returns ``[calibrated.json]`` when neither it nor the labels file is there to check the block
    against (a caller says it is unchecked), else ``[]``."""
    if stored.get(BLOCK) is None:
        return []
    scores_file = folder / SCORES_FILE
    block = stored[BLOCK]
    try:
        checked = _Checked.of(block, CorrScores.from_json(stored))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserError(f"{scores_file}: field {BLOCK} is malformed ({type(error).__name__}: {error})") from None
    advice = f"run 'c2 eval calibrate {folder} --labels {checked.labels_file}' again to write it anew"
    judgments = folder / JUDGMENTS_FILE
    if judgments.is_file() and file_sha256(judgments) != checked.judgments_sha256:
        raise ScoresMismatch(f"{scores_file}: field {BLOCK} was made from other verdicts than {JUDGMENTS_FILE} holds "
                             f"now; {advice}")
    sources = []
    calibration = load_calibration(folder)  # ValueError (one line naming it) when damaged or stale
    if calibration is not None:
        sources.append((folder / CALIBRATED_FILE, calibration))
    labels = Path(checked.labels_file)
    if labels.is_file() and judgments.is_file():
        try:
            sources.append((labels, calibrate_run(folder, labels)))
        except (OSError, ValueError) as error:
            raise ScoresMismatch(f"{scores_file}: field {BLOCK} cannot be made again from its labels file ({error}); "
                                 f"{advice}") from None
    for source, found in sources:
        checked.compare(found, f"{scores_file}: field {BLOCK}", source, advice)
    return [] if sources else [CALIBRATED_FILE]


@dataclass(frozen=True)
class _Checked:
    """The figures of a ``calibrated`` block that are checked."""

    scores: CorrScores
    n_labels: dict[str, int]
    labels_sha256: str
    judgments_sha256: str
    labels_file: str

    @classmethod
    def of(cls, block: Mapping[str, Any], raw: CorrScores) -> _Checked:
        return cls(calibrated_scores(block, raw), {str(key): int(value) for key, value in block["n_labels"].items()},
                   str(block["labels_sha256"]), str(block["judgments_sha256"]), str(block["labels_file"]))

    def compare(self, found: Calibration, field: str, source: Path, advice: str) -> None:
        if labels_checksum(found.labels) != self.labels_sha256:
            raise ScoresMismatch(f"{field} was made with other labels than {source} holds (labels_sha256 differs); "
                                 f"{advice}")
        figures = [(f"corr_at_k[{k}]", self.scores.corr_at_k.get(k), value) for k, value in found.corr_at_k.items()]
        figures.append(("corr_mean", self.scores.corr_mean, found.corr_mean))
        for key, (low, high) in found.ci95.items():
            stored = self.scores.ci95.get(key, (math.nan, math.nan))
            figures += [(f"ci95[{key}][0]", stored[0], low), (f"ci95[{key}][1]", stored[1], high)]
        figures += [(f"n_labels[{key}]", self.n_labels.get(key), value) for key, value in found.n_labels.items()]
        if set(self.scores.corr_at_k) != set(found.corr_at_k):
            raise ScoresMismatch(f"{field}: corr_at_k is for k {sorted(self.scores.corr_at_k)} but {source} gives k "
                                 f"{sorted(found.corr_at_k)}; {advice}")
        for name, stored, value in figures:
            if stored is None or not math.isclose(stored, value, rel_tol=0, abs_tol=TOLERANCE):
                raise ScoresMismatch(f"{field}: {name} is {stored} but {source} gives {value}; {advice}")
