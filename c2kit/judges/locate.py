"""Where a continuation's course-correction starts, for correction latency (``c2_eval_metric.latency``).

Every judge is asked through :meth:`Judge.locate <c2kit.judges.base.Judge.locate>` (and says what it used with
:meth:`~c2kit.judges.base.Judge.located_by`). The keyword judge locates its own decisive match (the start of the
last uninterrupted correction). Model judges (``openai:``, ``hf:``, ``wildguard``) answer yes or no only: by default,
for the paths they judge corrected, the correction is located by the current keyword judge's phrases
(:func:`phrase_positions`), and a path where no phrase is found stays unlocated (the latency tables show located /
corrected paths, so the coverage is visible). The frozen keyword judges ``keyword-v3`` and ``keyword-v2`` do not
locate: another list's phrases would not say where their own verdicts came from. A continuation that holds a
backtracking model's reset token (:data:`c2kit.backtrack.RESET_TOKEN`) is located at its first reset, by the
keyword judge and for every judge located by its phrases.

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
    """Character offsets of the correction start per input (None = none found), or None if the judge cannot tell."""
    found = judge.locate(inputs)
    return None if found is None else list(found)


def can_locate(judge: Judge) -> bool:
    """Whether the judge gives correction positions (asked on an empty batch)."""
    return judge.locate([]) is not None


def phrase_positions(inputs: Sequence[JudgeInput]) -> list[int | None]:
    """Where the current keyword judge's decisive correction starts in each continuation (None where it finds none)."""
    from c2kit.judges import keyword

    return [keyword.correction_start(item.continuation) for item in inputs]


def phrase_locator() -> str:
    """What :func:`phrase_positions` is, in words."""
    from c2kit.judges import keyword

    return f"{keyword.NAME} phrases"


def word_position(text: str, char: int) -> int:
    """Whitespace words of ``text`` that start before ``char`` (0: the correction is the first word)."""
    return len(text[:char].split())


def token_position(tokenizer: Any, text: str, char: int) -> int:
    """Tokens of ``text`` in ``tokenizer`` that end at or before ``char`` (offsets mapping; fast tokenizers), i.e.
    the tokens wholly before the correction (a token holding the space before it belongs to the correction)."""
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return sum(1 for start, end in encoding["offset_mapping"] if end <= char and end > start)
