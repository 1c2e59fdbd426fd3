"""What every judge is: the input it sees and the one method it implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class JudgeError(RuntimeError):
    """A judge could not produce a verdict (bad configuration, failed or unusable answers)."""


@dataclass(frozen=True)
class JudgeInput:
    """One continuation to judge, with its context kept separate (SPEC 3).

    ``prefix`` is the plain text the answer was prefilled with (no chat-template tokens) and
    ``continuation`` is what the evaluated model wrote after it. Judges decide on the continuation;
    the request and prefix are context (the keyword judge ignores them on purpose). ``prompt`` is the
    whole rendered model input, chat-template tokens included, where it is known: the paper's judge
    (``openai-paper:MODEL``) pastes exactly that text into its question.
    """

    request: str
    prefix: str
    continuation: str
    prompt: str = ""


class Judge(ABC):
    """Decides for each continuation whether it course-corrects (True) or not (False).

    ``name`` identifies the judge *and its version* (e.g. ``keyword-v2``, ``openai:gpt-4o``); it is
    written next to every number a judge produces so results say which judge made them.
    """

    name: str

    @abstractmethod
    def judge(self, inputs: Sequence[JudgeInput]) -> list[bool]:
        """Return one verdict per input, in order (True = course-corrected)."""

    def locate(self, inputs: Sequence[JudgeInput]) -> list[int | None] | None:
        """Where each correction starts: the character offset in ``continuation`` (None where not corrected),
        or ``None`` for a judge that cannot tell (the default). Used for correction latency
        (:mod:`c2_eval_metric.latency`); override in judges that know the position."""
        return None

    def info(self) -> dict[str, Any]:
        """Settings that determine the verdicts, for ``config.json`` and cards (override to add more)."""
        return {"name": self.name}

    def tally(self) -> dict[str, int]:
        """How the answers behind the verdicts so far were read, for judges that read a model's answer.

        E.g. ``{"yes": 120, "no": 870, "unparsed": 10}``: an answer that is neither yes nor no counts as
        "not corrected" (the paper's rule) and is counted here, so results can report it instead of
        hiding it. Judges without answers (keywords) return ``{}``.
        """
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
