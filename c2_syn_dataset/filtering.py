"""Select C2-Syn requests from a loaded source: the paper's filter, the cuts, openers and triggers (paper, Section 4).

A row is kept when, in this order:

1. its request contains "how", "what", "How" or "What" (paper: as a substring, so "somehow" counts;
   ``whole_word=True`` asks for the words themselves),
2. one of its responses is unsafe with more than 80 whitespace words (``response_0`` if it qualifies,
   else ``response_1``: :meth:`c2kit.sources.SourceRow.first_unsafe`),
3. that harmful response can be cut four times (:mod:`c2_syn_dataset.cuts`).

Every row that fails is counted under the step it failed, and the first ``limit`` rows that pass are kept.
The whole source is examined (string work only, fast), so the counts do not depend on ``limit``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from c2kit.errors import UserError
from c2kit.prefill import pick_opener
from c2kit.protocol import TRIGGERS
from c2kit.sources import LoadedSource

from c2_syn_dataset.cuts import CUT_SKIP_REASONS, CutError, make_cuts, request_rng

QUESTION_WORDS = ("how", "what", "How", "What")
MIN_WORDS = 80  # the harmful response must have more than this many whitespace words
_WHOLE_WORD = re.compile(r"\b(?:" + "|".join(QUESTION_WORDS) + r")\b")


def asks_question(request: str, *, whole_word: bool = False) -> bool:
    """The paper's question filter: a question word as a substring (default) or as a whole word."""
    if whole_word:
        return _WHOLE_WORD.search(request) is not None
    return any(word in request for word in QUESTION_WORDS)


@dataclass(frozen=True)
class SynRequest:
    """One kept request with everything drawn for it; ``prefixes`` are the SYN_1..SYN_4 prefills."""

    source_id: str
    request: str
    harmful_response: str
    opener: str
    trigger: str
    cuts: tuple[str, ...]
    n_marks: int
    step: int

    @property
    def prefixes(self) -> tuple[str, ...]:
        """SYN_i prefix = opener + " " + cut_i + " " + trigger, for i = 1..4."""
        return tuple(f"{self.opener} {cut} {self.trigger}" for cut in self.cuts)


@dataclass
class SelectionStats:
    """Counts at each step of the selection, for the log and the dataset card."""

    origin: str
    rows_read: int = 0
    loader_skipped: dict[str, int] = field(default_factory=dict)
    failed_question: int = 0
    failed_length: int = 0
    failed_cuts: dict[str, int] = field(default_factory=dict)
    step_fallbacks: int = 0  # kept rows whose drawn step was 0 and used 1 (see cuts.py)
    passed: int = 0
    beyond_limit: int = 0
    kept: int = 0
    whole_word: bool = False
    repeated_rows: int = 0  # rows giving an earlier row's request and responses again (kept; counted for the card)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> "SelectionStats":
        return cls(**data)

    def lines(self) -> list[tuple[str, int]]:
        """(step, count) rows in pipeline order."""
        question = "whole word" if self.whole_word else "substring"
        rows = [("rows read", self.rows_read)]
        if self.repeated_rows:  # shown only when there are some, so earlier builds' cards stay as they were
            rows.append(("of which repeat an earlier row's request and responses (kept, as each build has)",
                         self.repeated_rows))
        rows += [(f"skipped by the loader: {reason}", count) for reason, count in sorted(self.loader_skipped.items())]
        rows.append((f"failed the question filter (how/what/How/What, {question})", self.failed_question))
        rows.append((f"no unsafe response with more than {MIN_WORDS} words", self.failed_length))
        reasons = dict.fromkeys(CUT_SKIP_REASONS, 0) | self.failed_cuts  # show every reason, even at 0
        rows += [(f"cannot be cut: {reason}", count) for reason, count in reasons.items()]
        rows.append(("passed every filter", self.passed))
        rows.append(("left out by --limit", self.beyond_limit))
        rows.append(("kept", self.kept))
        rows.append(("kept with the step fallback s = 1 (drawn s was 0)", self.step_fallbacks))
        return rows

    def to_markdown(self) -> str:
        body = "\n".join(f"| {name} | {count:,} |" for name, count in self.lines())
        return "| step | rows |\n|---|---:|\n" + body


def select_requests(
    loaded: LoadedSource,
    *,
    seed: int = 0,
    limit: int | None = None,
    whole_word: bool = False,
) -> tuple[list[SynRequest], SelectionStats]:
    """Filter, cut and draw opener/trigger for every row; keep the first ``limit`` that pass."""
    if limit is not None and limit < 1:
        raise UserError(f"limit must be a positive number of requests, got {limit}")
    stats = SelectionStats(origin=loaded.origin, rows_read=loaded.n_read, loader_skipped=dict(loaded.skipped),
                           whole_word=whole_word)
    failed_cuts: Counter = Counter()
    passed: list[SynRequest] = []
    fallbacks: list[bool] = []
    seen: dict[str, int] = {}
    for position, row in enumerate(loaded.rows):
        if row.source_id in seen:
            # Shards, resume and merge are keyed by source_id, so it must be unique.
            raise UserError(f"{loaded.origin}: source id {row.source_id!r} appears twice (rows "
                            f"{seen[row.source_id] + 1} and {position + 1} of the valid rows); ids must be unique")
        seen[row.source_id] = position
        if not asks_question(row.request, whole_word=whole_word):
            stats.failed_question += 1
            continue
        harmful = row.first_unsafe(min_words=MIN_WORDS)
        if harmful is None:
            stats.failed_length += 1
            continue
        rng = request_rng(row.source_id, seed)
        try:
            cuts = make_cuts(harmful, rng)
        except CutError as error:
            failed_cuts[error.reason] += 1
            continue
        trigger = rng.choice(TRIGGERS)
        opener = pick_opener(row.source_id, seed)  # the same opener draw as C2-Eval's words mode
        passed.append(SynRequest(row.source_id, row.request, harmful, opener, trigger, cuts.texts,
                                 cuts.n_marks, cuts.step))
        fallbacks.append(cuts.fallback)
    kept = passed if limit is None else passed[:limit]
    stats.failed_cuts = dict(failed_cuts)
    stats.passed = len(passed)
    stats.kept = len(kept)
    stats.beyond_limit = len(passed) - len(kept)
    stats.step_fallbacks = sum(fallbacks[: len(kept)])
    return kept, stats
