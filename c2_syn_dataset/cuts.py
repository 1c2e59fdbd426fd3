"""The four punctuation cuts of a harmful response (Xu et al. 2024, arXiv 2407.16637, Section 4).

Count the punctuation marks of the response from the set ``, . ! : ; ? - " ( ) { } [ ]``: t. Draw the
step s from {t//4 - 1, t//4}; cut i (i = 1..4) is the text up to and including the (i*s)-th mark.

Edge cases, handled explicitly rather than producing empty or repeated cuts:

* t < 4: four distinct cuts cannot exist; the row is skipped (reason ``fewer than 4 punctuation marks``).
* t in 4..7 and the draw gives s = 0: cut 1 would be empty. Documented fallback: s = 1, the only step
  that keeps four distinct cuts (82 of the 500 shipped rows have t in 4..7).
* the first cut holds no letter or digit (e.g. a response opening with ``"--``): the row is skipped
  (reason ``first cut has no words``), since a SYN response built on it would teach nothing.

With s >= 1 and 4s <= t the four cuts end at four different marks, so they strictly grow by construction.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from c2kit.errors import UserError

PUNCTUATION = frozenset(',.!:;?-"(){}[]')
N_CUTS = 4

SKIP_FEW_MARKS = f"fewer than {N_CUTS} punctuation marks"
SKIP_NO_WORDS = "first cut has no words"
CUT_SKIP_REASONS = (SKIP_FEW_MARKS, SKIP_NO_WORDS)


class CutError(UserError):
    """A response cannot be cut into four growing prefixes; ``reason`` is the short name that is counted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Cuts:
    """The four cuts of one response and how they were chosen."""

    texts: tuple[str, ...]  # cut_1 .. cut_4, each a prefix of the response ending at a mark
    n_marks: int  # t
    step: int  # s actually used
    fallback: bool  # True when the drawn s was 0 and s = 1 was used instead


def request_rng(source_id: str, seed: int) -> random.Random:
    """RNG for one request's synthesis draws (step, trigger), stable across runs, shards and limits."""
    digest = hashlib.sha256(f"c2-syn:{seed}:{source_id}".encode()).digest()
    return random.Random(digest)


def mark_ends(text: str) -> list[int]:
    """End offsets (exclusive) of every punctuation mark in ``text``: ``text[:end]`` ends with the mark."""
    return [index + 1 for index, char in enumerate(text) if char in PUNCTUATION]


def make_cuts(text: str, rng: random.Random) -> Cuts:
    """Cut ``text`` at the (i*s)-th punctuation mark for i = 1..4, drawing s from ``rng``; raise CutError."""
    ends = mark_ends(text)
    t = len(ends)
    if t < N_CUTS:
        raise CutError(SKIP_FEW_MARKS)
    drawn = rng.choice((t // N_CUTS - 1, t // N_CUTS))
    step = max(drawn, 1)
    texts = tuple(text[: ends[i * step - 1]] for i in range(1, N_CUTS + 1))
    if not any(char.isalnum() for char in texts[0]):
        raise CutError(SKIP_NO_WORDS)
    return Cuts(texts=texts, n_marks=t, step=step, fallback=drawn < 1)
