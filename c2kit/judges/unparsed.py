"""A model judge whose answers were mostly neither yes nor no has failed; its numbers must not pass as a result.

Every such answer counts as "not corrected" (the paper's rule) and is counted in the judge's tally
(:meth:`Judge.tally`, ``judge_info.tally`` in a results directory's ``config.json``). The commands that run a
judge apply one rule to that tally once all their files are written:

* more than :data:`WARN_SHARE` (10%) unparsed: one warning line with the count;
* more than :data:`FAIL_SHARE` (half) unparsed: one error line naming :data:`ACCEPT_FLAG`, and exit status 2,
  unless the user passed that flag to accept the run on purpose (then the warning, and status 0).

Keyword judges have no answers (an empty tally) and are never flagged.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

WARN_SHARE = 0.10
FAIL_SHARE = 0.50
ACCEPT_FLAG = "--accept-unparsed"
ACCEPT_HELP = ("accept a run in which more than half of a model judge's answers were neither yes nor no "
               "(without it such a run exits with status 2 after writing its files; it is still warned about)")


def unparsed_count(tally: Mapping[str, int]) -> tuple[int, int]:
    """(answers that were neither yes nor no, all answers) of a judge tally."""
    total = sum(tally.values())
    return total - tally.get("yes", 0) - tally.get("no", 0), total


def check_tally(tally: Mapping[str, int], judge: str, *, accept: bool, command: str, where: str = "") -> int:
    """Print the warning or the error line for ``tally`` (to stderr) and return the exit status, 0 or 2.

    ``where`` names what was written (a results directory), so the error says that the files exist.
    """
    unparsed, total = unparsed_count(tally)
    if not total or unparsed <= WARN_SHARE * total:
        return 0
    counted = (f"{unparsed} of {total} answers of judge {judge} ({unparsed / total:.0%}) were neither yes "
               "nor no")
    if unparsed > FAIL_SHARE * total and not accept:
        written = f" (files written to {where})" if where else ""
        print(f"{command}: error: {counted}, more than half: the judge failed and its numbers are not a "
              f"result{written}; pass {ACCEPT_FLAG} to accept the run anyway", file=sys.stderr)
        return 2
    print(f"warning: {counted}; they count as not corrected", file=sys.stderr)
    return 0


def check_results(results_dir: str | Path, *, accept: bool, command: str) -> int:
    """:func:`check_tally` on the judge tally recorded in ``results_dir/config.json`` (0 when there is none)."""
    from c2_eval_metric.results import read_config

    config = read_config(results_dir)
    info = config.get("judge_info") or {}
    tally = info.get("tally") or {}
    return check_tally(tally, str(info.get("name") or config.get("judge", "?")), accept=accept, command=command,
                       where=str(results_dir))
