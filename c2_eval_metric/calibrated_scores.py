"""Calibrated Corr@k beside the judge's own, in every file and table that shows a run's numbers.

``c2 eval calibrate`` writes ``calibrated.json`` (:mod:`calibration`); this module puts it where readers look:

* scores.json gets a ``calibrated`` block (:func:`scores_block`): the calibrated ``corr_at_k``, ``corr_mean`` and
  ``ci95`` (the top-level ones stay the judge's own), the labels per k, the judge's sensitivity and specificity
  on them, and what the block was made from: the SHA-256 of ``judgments.jsonl`` and of the labels, and the labels
  file. :func:`check_block` (run by :func:`consistency.check_results_dir`, so by compare, view and publish) refuses a
  block made from other verdicts, other labels or with other figures: it compares it with ``calibrated.json`` and,
  where the labels file still lies where it was, calibrates again from it.
* summary.md and the console get the side-by-side table under the Corr@k table (:func:`calibrated_markdown`), and
  corr_at_k.png the calibrated curve with its band (:func:`c2_eval_metric.results.draw_run_plot`).
* A run with continuations but no labels gets one line instead: the commands and the interval width to expect
  (:func:`c2_eval_metric.labels_hint.labels_hint`); a calibration made from other verdicts gets why it no longer
  holds.

:func:`refresh_run` rewrites those three files of a run once ``c2 eval calibrate`` has written its calibrated.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from c2kit.jsonio import read_json, write_json

from .calibration import CALIBRATED_FILE, METHOD, Calibration, calibrate_run, load_calibration
from .consistency import TOLERANCE, ScoresMismatch
from .corr import MEAN_KEY, CorrScores
from .labels_hint import labels_hint
from .labelling_sample import Key
from .results import (
    GENERATIONS_FILE,
    JUDGMENTS_FILE,
    PLOT_FILE,
    SCORES_FILE,
    SUMMARY_FILE,
    draw_run_plot,
    read_scores,
)

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

    def shown(self) -> Calibration | None:
        """The calibration as shown beside the run's Corr@k table: its "judge only" figures are the run's
        scores.json, read when asked (calibrate_run's own bootstrap draws items in another order, so its
        intervals differ a little from the table's)."""
        if self.calibration is None or not (self.run / SCORES_FILE).is_file():
            return self.calibration
        return replace(self.calibration, raw=read_scores(self.run))

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
    shown = state.shown()
    if shown is None:
        return state.line(shown_as) or ""
    return (f"**Calibrated with {shown.n_labels[MEAN_KEY]} human labels** (`{CALIBRATED_FILE}`). {NAMES}.\n\n"
            f"{shown.to_markdown()}")


def summary_section(state: RunCalibration) -> str:
    """:func:`calibrated_markdown` between the markers that let :func:`refresh_run` replace it ("" when there is
    nothing to say). The run is named by its folder's name: the summary lies in it, and goes where it goes."""
    shown = calibrated_markdown(state, state.run.resolve().name)
    return f"{SECTION_START}\n{shown}\n{SECTION_END}" if shown else ""


def refresh_run(run_dir: str | Path) -> list[Path]:
    """After ``c2 eval calibrate`` wrote ``run_dir/calibrated.json``: scores.json's block, summary.md's calibrated
    section and corr_at_k.png, rewritten to show it. Returns the files written."""
    run = Path(run_dir)
    state = run_calibration(run)
    if state.calibration is None:
        raise ValueError(f"{run}: no current {CALIBRATED_FILE} to show ({state.line()})")
    stored = read_json(run / SCORES_FILE)
    stored[BLOCK] = scores_block(state.calibration)
    written = [write_json(run / SCORES_FILE, stored)]
    summary = run / SUMMARY_FILE
    if summary.is_file():
        summary.write_text(_with_section(summary.read_text(encoding="utf-8"), summary_section(state)),
                           encoding="utf-8")
        written.append(summary)
    written.append(draw_run_plot(run, run / PLOT_FILE))
    return written


def show_calibration(run_dir: str | Path, out_dir: str | Path | None = None) -> str:
    """After ``c2 eval calibrate`` wrote calibrated.json into ``out_dir`` (default: the run): the run's files
    refreshed (:func:`refresh_run`); a calibration written elsewhere leaves the run as it is and gets the plot with
    both curves beside it (unless that folder is a results directory, whose plot is its own). Returns what to
    print."""
    run = Path(run_dir)
    if out_dir is None or Path(out_dir).resolve() == run.resolve():
        written = ", ".join(path.name for path in refresh_run(run))
        return f"{written} of {run} now show the calibrated Corr@k beside the judge's own"
    out = Path(out_dir)
    kept = f"{run}'s own files are left as they are (--out); calibrate into the run to show it in its summary"
    if (out / SCORES_FILE).exists():
        return kept
    calibration = load_calibration(out)
    plot = draw_run_plot(run, out / PLOT_FILE, calibrated=scores_block(calibration))
    return f"{kept}. {plot} shows the calibrated Corr@k beside the judge's own"


def _with_section(text: str, section: str) -> str:
    """summary.md with its calibrated section replaced; a summary written before there was one gets it after
    the Corr@k table (before its first list), else at the end."""
    start, end = text.find(SECTION_START), text.find(SECTION_END)
    if start >= 0 and end > start:
        return text[:start] + section + text[end + len(SECTION_END):]
    anchor = text.find("\n- k values:")
    if anchor < 0:
        return text.rstrip("\n") + "\n\n" + section + "\n"
    return text[:anchor] + "\n" + section + "\n" + text[anchor:]


def check_block(folder: Path, stored: Mapping[str, Any]) -> list[str]:
    """Check scores.json's ``calibrated`` block (module docstring); :class:`ScoresMismatch` on the first thing
    that differs. Returns ``[calibrated.json]`` when neither it nor the labels file is there to check the block
    against (a caller says it is unchecked), else ``[]``."""
    if stored.get(BLOCK) is None:
        return []
    scores_file = folder / SCORES_FILE
    block = stored[BLOCK]
    try:
        checked = _Checked.of(block, CorrScores.from_json(stored))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{scores_file}: field {BLOCK} is malformed ({type(error).__name__}: {error})") from None
    advice = f"run 'c2 eval calibrate {folder} --labels {checked.labels_file}' again to write it anew"
    judgments = folder / JUDGMENTS_FILE
    if judgments.is_file() and _sha256(judgments) != checked.judgments_sha256:
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
