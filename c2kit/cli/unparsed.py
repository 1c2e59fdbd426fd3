"""What a command that ran a model judge does when the judge's answers were mostly neither yes nor no.

The rule (:mod:`c2kit.judges.unparsed`) is applied to the judge's tally once all the command's files are written:

* more than a tenth unparsed: one warning line with the count;
* more than half: one error line naming :data:`ACCEPT_FLAG`, and exit status 2. Nothing of the results is
  printed (a table above the error would pass for one), and the results directory's ``summary.md`` opens with
  the line that its numbers are not a result. With :data:`ACCEPT_FLAG` the user accepts such a run on purpose:
  the results, then the warning, and status 0.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from c2kit.jsonio import write_bytes
from c2kit.judges.unparsed import NOT_A_RESULT, UnparsedShare

if TYPE_CHECKING:  # the metric's modules load with the command that writes results, not with `c2 --help`
    from c2_eval_metric.corr import CorrScores

ACCEPT_FLAG = "--accept-unparsed"
ACCEPT_HELP = ("accept a run in which more than half of a model judge's answers were neither yes nor no "
               "(without it such a run exits with status 2 after writing its files; it is still warned about)")


def check_tally(tally: Mapping[str, int], judge: str, *, accept: bool, command: str, where: str = "") -> int:
    """Print the warning or the error line for ``tally`` (to stderr) and return the exit status, 0 or 2.

    ``where`` names what was written (a results directory), so the error says that the files exist.
    """
    return _apply(UnparsedShare.of(tally, judge), accept=accept, command=command, where=where)


def check_results(results_dir: str | Path, *, accept: bool, command: str) -> int:
    """:func:`check_tally` on the judge tally recorded in ``results_dir/config.json`` (0 when there is none); when
    the judge failed, ``summary.md`` is marked as not a result."""
    share = _recorded_share(results_dir)
    if share.failed and not accept:
        _mark_not_a_result(Path(results_dir), share)
    return _apply(share, accept=accept, command=command, where=str(results_dir))


def report_results(results_dir: str | Path, scores: CorrScores, *, accept: bool, command: str,
                   notes: Sequence[str] = (), judged_here: bool = True) -> int:
    """Print a scored results directory (its tables, ``notes``, where it was written) and apply the rule to the
    judge that ran; when that judge failed, print only the error. Returns the exit status.

    ``judged_here=False``: the rows were judged elsewhere, so a judge tally in ``config.json`` is an earlier run's
    and no rule applies.
    """
    from c2_eval_metric.console import results_report

    if judged_here and _recorded_share(results_dir).failed and not accept:
        return check_results(results_dir, accept=accept, command=command)
    print(results_report(results_dir, scores))
    for note in notes:
        print(note)
    print(f"results written to {results_dir}")
    return check_results(results_dir, accept=accept, command=command) if judged_here else 0


def _recorded_share(results_dir: str | Path) -> UnparsedShare:
    from c2_eval_metric.results import read_config

    config = read_config(results_dir)
    info = config.get("judge_info") or {}
    return UnparsedShare.of(info.get("tally") or {}, str(info.get("name") or config.get("judge", "?")))


def _apply(share: UnparsedShare, *, accept: bool, command: str, where: str) -> int:
    if share.failed and not accept:
        written = f" (files written to {where})" if where else ""
        print(f"{command}: error: {share}, more than half: the judge failed and its numbers are not a result"
              f"{written}; pass {ACCEPT_FLAG} to accept the run anyway", file=sys.stderr)
        return 2
    if share.warned:
        print(f"warning: {share}; they count as not corrected", file=sys.stderr)
    return 0


def _mark_not_a_result(results_dir: Path, share: UnparsedShare) -> None:
    """Open ``summary.md`` (under its title) with the line that its numbers are not a result."""
    from c2_eval_metric.results import SUMMARY_FILE

    summary = results_dir / SUMMARY_FILE
    if not summary.is_file():
        return
    text = summary.read_text(encoding="utf-8")
    if NOT_A_RESULT in text:
        return
    title, _, rest = text.partition("\n")
    mark = (f"{NOT_A_RESULT} {share}, more than half: the judge failed, and the numbers below are not a result. "
            f"Pass `{ACCEPT_FLAG}` to accept the run anyway.")
    write_bytes(summary, f"{title}\n\n{mark}\n{rest}".encode("utf-8"))
