"""What ``c2 eval run`` and ``c2 eval score`` print of a scored results directory (:func:`results_report`).

The files themselves and summary.md are written by :mod:`c2_eval_metric.results`; this module only reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from c2kit.jsonio import read_json
from c2kit.judges.agreement import Agreement

from .calibrated_scores import calibrated_markdown, run_calibration
from .corr import CorrScores
from .groups import by_group_console
from .overcorrection import overcorrection_console
from .results import AGREEMENT_FILE, SCORES_FILE, SUMMARY_FILE, read_config, scores_table


def results_report(results_dir: str | Path, scores: CorrScores) -> str:
    """What the console shows of a scored results directory: :func:`scores_table`, under it the Corr@k calibrated
    with human labels beside the judge's (or the line that says how to get them), then one compact table for
    each further result it holds: over-correction (``--overcorrection``), the groups (``--group-by`` or harm
    categories) and, after re-judging, the agreement with the stored judge."""
    out = Path(results_dir)
    stored = read_json(out / SCORES_FILE)
    parts = [scores_table(scores)]
    unscored = _unscored_ks(stored, scores)
    if unscored:
        parts[0] += f"\n{unscored}"
    calibrated = calibrated_markdown(run_calibration(out))
    if calibrated:
        parts.append(calibrated)
    if "overcorrection" in stored:
        parts.append(overcorrection_console(stored["overcorrection"]))
    if "by_group" in stored:
        parts.append(by_group_console(stored["by_group"]))
    agreement = _current_agreement(out, scores)
    if agreement:
        parts.append(f"{Agreement.from_dict(agreement).to_compact_markdown()}\n(stored judge from "
                     f"{agreement['stored_in']}; details in {out / SUMMARY_FILE}, {out / AGREEMENT_FILE})")
    return "\n\n".join(parts)


def _unscored_ks(stored: dict[str, Any], scores: CorrScores) -> str:
    """The line for the asked-for k values that have no row in the table: in tokens mode an item shorter than k is
    skipped at that k, so a k longer than every response has nothing to score."""
    short = stored.get("n_short_at_k") or {}
    missing = sorted((int(k) for k in short if int(k) not in scores.corr_at_k))
    if not missing:
        return ""
    unit = (stored.get("depth") or {}).get("unit", "tokens")
    return (f"no Corr@k at k = {', '.join(map(str, missing))}: every item's harmful response is shorter than k "
            f"{unit} ({scores.n_items} items), and a short item is {stored.get('short_items') or 'skipped at that k'}")


def _current_agreement(out: Path, scores: CorrScores) -> dict[str, Any] | None:
    # An agreement.json left by an earlier re-judging into this folder must not pass as this one's.
    path = out / AGREEMENT_FILE
    if not path.is_file():
        return None
    record = read_json(path)
    current = (record.get("new_judge") == scores.judge
               and record.get("stored_in") == read_config(out).get("rejudged_from"))
    return record if current else None
