"""A run's files rewritten to show its calibration once ``c2 eval calibrate`` has written ``calibrated.json``.

scores.json gets its ``calibrated`` block, summary.md its calibrated section and corr_at_k.png the calibrated
curve (what each holds: :mod:`calibrated_scores`). It sits above :mod:`results`, whose plot it draws again.
"""

from __future__ import annotations

from pathlib import Path

from c2kit.errors import UserError
from c2kit.jsonio import read_json, write_json

from .calibrated_scores import BLOCK, SECTION_END, SECTION_START, run_calibration, scores_block, summary_section
from .calibration import CALIBRATED_FILE, load_calibration
from .results import PLOT_FILE, SUMMARY_FILE, draw_run_plot
from .run_files import SCORES_FILE


def refresh_run(run_dir: str | Path) -> list[Path]:
    """After ``c2 eval calibrate`` wrote ``run_dir/calibrated.json``: scores.json's block, summary.md's calibrated
    section and corr_at_k.png, rewritten to show it. Returns the files written."""
    run = Path(run_dir)
    state = run_calibration(run)
    if state.calibration is None:
        raise UserError(f"{run}: no current {CALIBRATED_FILE} to show ({state.line()})")
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
