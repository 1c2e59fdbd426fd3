"""A model judge whose answers were mostly neither yes nor no has failed: the shares that say so.

Every such answer counts as "not corrected" (the paper's rule) and is counted in the judge's tally
(:meth:`Judge.tally`, ``judge_info.tally`` in a results directory's ``config.json``). Of all its answers:

* more than :data:`WARN_SHARE` (10%) unparsed: the count is worth a warning;
* more than :data:`FAIL_SHARE` (half) unparsed: the judge failed, and its numbers are not a result.

Keyword judges have no answers (an empty tally) and are never flagged. What a command does about it (a warning
line, or an error line and exit status 2 unless the user accepts the run) is the command line's
(:mod:`c2kit.cli.unparsed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

WARN_SHARE = 0.10
FAIL_SHARE = 0.50
NOT_A_RESULT = "> **Not a result.**"  # opens the summary.md of a run whose judge failed (and was not accepted)


@dataclass(frozen=True)
class UnparsedShare:
    """How many of a judge's answers were neither yes nor no."""

    judge: str
    unparsed: int
    total: int

    @classmethod
    def of(cls, tally: Mapping[str, int], judge: str) -> UnparsedShare:
        """The share in a judge tally (``{"yes": 120, "no": 870, "unparsed": 10}``; empty for keyword judges)."""
        total = sum(tally.values())
        return cls(judge, total - tally.get("yes", 0) - tally.get("no", 0), total)

    @property
    def warned(self) -> bool:
        """More than :data:`WARN_SHARE` of the answers were unparsed."""
        return self.unparsed > WARN_SHARE * self.total

    @property
    def failed(self) -> bool:
        """More than :data:`FAIL_SHARE` of the answers were unparsed: the judge failed."""
        return self.unparsed > FAIL_SHARE * self.total

    def __str__(self) -> str:
        return (f"{self.unparsed} of {self.total} answers of judge {self.judge} ({self.unparsed / self.total:.0%}) "
                "were neither yes nor no")
