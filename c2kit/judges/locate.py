"""Where a continuation's course-correction starts, for correction latency (``c2_eval_metric.latency``).

A judge that knows the position implements :meth:`Judge.locate`. The keyword judge (``keyword-v4``) knows it
without a change to its class: its decisive match (:func:`c2kit.judges.keyword.correction_start`, the start of
the last uninterrupted correction) is used here. Model judges (``openai:``, ``hf:``, ``wildguard``) answer yes or
no only: for the paths they judge corrected, the correction is located by the keyword judge's phrases in the same way,
and a path where no phrase is found stays unlocated (the latency tables show located / corrected paths, so the
coverage is visible). ``keyword-v2`` is frozen as it was and does not locate.

Positions become counts into the continuation: words = whitespace-separated words that start before the
correction; tokens = tokens of the continuation (re-tokenized with the evaluated model's tokenizer, offsets
mapping) that end at or before it. Tokens are only counted where that tokenizer is at hand (``c2 eval run``);
re-judged runs (``c2 eval score --results``) record words only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from c2kit.judges.base import Judge, JudgeInput


def locate_corrections(judge: Judge, inputs: Sequence[JudgeInput]) -> list[int | None] | None:
    """Character offsets of the correction start per input (None = not corrected), or None if unknown."""
    found = judge.locate(inputs)
    if found is not None:
        return list(found)
    from c2kit.judges import keyword

    if locator_for(judge.name) is None:
        return None
    return [keyword.correction_start(item.continuation) for item in inputs]


def locator_for(judge_name: str) -> str | None:
    """What locates corrections for this judge: the judge itself, the current keyword judge's phrases, or nothing (None)."""
    from c2kit.judges import keyword
    from c2kit.judges.caveats import is_keyword_judge

    if judge_name == keyword.NAME:
        return judge_name
    if is_keyword_judge(judge_name):  # another keyword version: its own list decided, not the current one's
        return None
    return f"{keyword.NAME} phrases"


def can_locate(judge: Judge) -> bool:
    """Whether :func:`locate_corrections` gives positions for this judge (tried on an empty batch)."""
    return locate_corrections(judge, []) is not None


def word_position(text: str, char: int) -> int:
    """Whitespace words of ``text`` that start before ``char`` (0: the correction is the first word)."""
    return len(text[:char].split())


def token_position(tokenizer: Any, text: str, char: int) -> int:
    """Tokens of ``text`` in ``tokenizer`` that end at or before ``char`` (offsets mapping; fast tokenizers), i.e.
    the tokens wholly before the correction (a token holding the space before it belongs to the correction)."""
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return sum(1 for start, end in encoding["offset_mapping"] if end <= char and end > start)
