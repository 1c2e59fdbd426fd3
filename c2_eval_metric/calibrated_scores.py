"""Calibrated Corr@k beside the judge's own, in every file and table that shows a run's numbers.

``c2 eval calibrate`` writes ``calibrated.json`` (:mod:`calibration`); this module puts it where readers look:

* scores.json gets a ``calibrated`` block (:func:`scores_block`): the calibrated ``corr_at_k``, ``corr_mean`` and
  ``ci95`` (the top-level ones stay the judge's own), the labels per k, the judge's sensitivity and specificity
  on them, and what the block was made from: the SHA-256 of ``judgments.jsonl`` and of the labels, and the labels
  file. :func:`consistency.check_results_dir` (run by compare, view and publish) refuses a block made from other
  verdicts, other labels or with other figures: it compares it with ``calibrated.json`` and, where the labels file
  still lies where it was, calibrates again from it.
* summary.md and the console get the side-by-side table under the Corr@k table (:func:`calibrated_markdown`), and
  corr_at_k.png the calibrated curve with its band (:func:`c2_eval_metric.results.draw_run_plot`), when the run
  is scored or (:mod:`calibrated_refresh`) once ``c2 eval calibrate`` has written its calibrated.json.
* A run with continuations but no labels gets one line instead: the commands and the interval width to expect
  (:func:`c2_eval_metric.labels_hint.labels_hint`); a calibration made from other verdicts gets why it no longer
  holds.

This module reads the run and writes nothing: :mod:`results` (the scoring), :mod:`consistency` (the checks) and
:mod:`calibrated_refresh` (the files rewritten after ``c2 eval calibrate``) build on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .calibration import CALIBRATED_FILE, METHOD, Calibration, load_calibration
from .corr import MEAN_KEY, CorrScores
from .labels_hint import labels_hint
from .labelling_sample import Key
from .run_files import GENERATIONS_FILE, JUDGMENTS_FILE

BLOCK = "calibrated"  # the field of scores.json
# summary.md's calibrated section lies between these lines (HTML comments: Markdown shows nothing of them), so
# c2 eval calibrate can replace it and leave the rest of the summary as the scoring wrote it.
SECTION_START = "<!-- calibrated with human labels: c2 eval calibrate -->"
SECTION_END = "<!-- end of calibrated -->"
NAMES = ("*judge only*: the judge's own Corr@k, the table above, whose interval covers which items were drawn but "
         "not the judge's errors; *calibrated*: corrected by the judge's errors on a random sample of human labels, "
         "with a 95% interval that counts them")


@dataclass(frozen=True)
class RunCalibration:
    """What a run shows beside its Corr@k: its current calibration, or (:attr:`line`) the one line said instead."""

    run: Path
    calibration: Calibration | None
    stale: str | None  # why the run's calibrated.json no longer holds

    def line(self, shown_as: str | None = None) -> str | None:
        """Without a calibration: why the run's one no longer holds, else how to get one (read when asked, so from
        the run's scores.json as it is then); ``None`` for a run without continuations to label. ``shown_as``
        names the run in it instead of its path (a file that may be read elsewhere: the summary, a card)."""
        if self.calibration is not None:
            return None
        if self.stale:
            text = f"Not calibrated: {self.stale}"
        elif all((self.run / name).is_file() for name in (GENERATIONS_FILE, JUDGMENTS_FILE)):
            text = labels_hint(self.run)
        else:  # scored from judged rows (no continuation to label), or without its verdicts (nothing to calibrate)
            return None
        for form in dict.fromkeys((str(self.run.resolve()), str(self.run))) if shown_as else ():
            text = re.sub(rf"(?<![\w./-]){re.escape(form)}(?![\w.-])", lambda _: shown_as, text)  # whole paths only
        return text


def run_calibration(run_dir: str | Path) -> RunCalibration:
    """The run's current calibration (``calibrated.json`` made from the verdicts it holds now), or why there is
    none (:class:`RunCalibration`)."""
    run = Path(run_dir)
    try:
        calibration = load_calibration(run)
    except ValueError as error:
        return RunCalibration(run, None, str(error))
    return RunCalibration(run, calibration, None)


def labels_checksum(labels: Mapping[Key, bool]) -> str:
    """SHA-256 of the labels a calibration used: ``[item_id, k, path, label]`` rows, sorted, as compact JSON (the
    ``labels`` field of calibrated.json), so the same labels give the same checksum whatever the file's order."""
    rows = [[item, k, path, label] for (item, k, path), label in sorted(labels.items())]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode("utf-8")).hexdigest()


def scores_block(calibration: Calibration, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``calibrated`` block of scores.json (module docstring). ``labels_file`` is made absolute, from where the
    calibration runs (``c2 eval calibrate``); a scoring that writes the block again later, maybe from elsewhere,
    keeps the ``previous`` block's when it was made with the same labels."""
    data = calibration.to_json()
    checksum = labels_checksum(calibration.labels)
    same = isinstance(previous, Mapping) and previous.get("labels_sha256") == checksum and isinstance(
        previous.get("labels_file"), str)
    labels_file = previous["labels_file"] if same else str(Path(calibration.labels_file).resolve())
    return {
        **{name: data[name] for name in ("corr_at_k", "corr_mean", "ci95", "n_labels", "sensitivity", "specificity",
                                         "labels_only", "lambda", "judge", "n_items", "n_continuations")},
        "note": "Corr@k calibrated with a random sample of human labels; the top-level corr_at_k, corr_mean and "
                "ci95 are the judge's own (judge only)",
        "method": METHOD,
        "file": CALIBRATED_FILE,
        "labels_file": labels_file,
        "labels_sha256": checksum,
        "judgments_sha256": calibration.judgments_sha256,
        "sample_seed": calibration.plan.seed,
    }


def calibrated_scores(block: Mapping[str, Any], raw: CorrScores) -> CorrScores:
    """The block's calibrated figures as :class:`CorrScores` (items, paths and judge: ``raw``'s), to be tabled and
    plotted as the judge's are; ``ValueError`` when malformed."""
    return CorrScores.from_json({**raw.to_json(), **{name: block[name] for name in ("corr_at_k", "corr_mean", "ci95")
                                                     if name in block}})


def n_labels(block: Mapping[str, Any]) -> int:
    """How many human labels the block's Corr_mean rests on."""
    return int(block["n_labels"][MEAN_KEY])


def calibrated_markdown(state: RunCalibration, shown_as: str | None = None) -> str:
    """What summary.md and the console show under the Corr@k table: the calibrated table (judge only beside
    calibrated, each named), or the one line (:meth:`RunCalibration.line`; empty: nothing to say)."""
    calibration = state.calibration
    if calibration is None:
        return state.line(shown_as) or ""
    return (f"**Calibrated with {calibration.n_labels[MEAN_KEY]} human labels** (`{CALIBRATED_FILE}`). {NAMES}.\n\n"
            f"{calibration.to_markdown()}")


def summary_section(state: RunCalibration) -> str:
    """:func:`calibrated_markdown` between the markers that let :func:`calibrated_refresh.refresh_run` replace it
    ("" when there is nothing to say). The run is named by its folder's name: the summary lies in it, and goes where
    it goes."""
    shown = calibrated_markdown(state, state.run.resolve().name)
    return f"{SECTION_START}\n{shown}\n{SECTION_END}" if shown else ""
