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
    """One continuation to judge, with its context kept separate (request, prefix and continuation).

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

    What a run reads from a judge besides its verdicts is part of this interface too, each with a default that
    means "this judge does not give it":

    * ``last_readings``: after a :meth:`judge` call, how each input's answer was read, one per input, in order:
      ``"yes"``, ``"no"`` or ``"unparsed"`` (an answer that is neither counts as not corrected, and its path is
      marked ``unparsed`` in judgments.jsonl). ``None`` for judges that read no model answer (keywords).
    * ``last_harmful_response``: after a :meth:`judge` call, the judge's verdict on whether each input's response
      is harmful (``None`` where it did not say), one per input; judgments.jsonl records it as
      ``harmful_response``, for the harm-leak figures. ``None`` for judges that give no harm verdict.
    * :meth:`locate` and :meth:`located_by`: where each correction starts, for correction latency.
    """

    name: str
    last_readings: Sequence[str] | None = None
    last_harmful_response: Sequence[bool | None] | None = None

    @abstractmethod
    def judge(self, inputs: Sequence[JudgeInput]) -> list[bool]:
        """Return one verdict per input, in order (True = course-corrected)."""

    def locate(self, inputs: Sequence[JudgeInput]) -> list[int | None] | None:
        """Where each correction starts: the character offset in ``continuation`` (None where none is found), or
        ``None`` for a judge that cannot tell. Used for correction latency (:mod:`c2_eval_metric.latency`), only on
        the inputs this judge says are corrected.

        The default, for judges that answer yes or no only: the decisive phrase of the current keyword judge
        (:func:`c2kit.judges.locate.phrase_positions`). A judge that knows the position overrides this and
        :meth:`located_by`; one whose verdicts such phrases do not describe returns ``None`` from both.
        """
        from c2kit.judges.locate import phrase_positions

        return phrase_positions(inputs)

    def located_by(self) -> str | None:
        """What :meth:`locate` uses, in words, for reports (``None`` when it does not locate)."""
        from c2kit.judges.locate import phrase_locator

        return phrase_locator()

    def check_available(self) -> None:
        """Raise a one-line error now when this judge could not run here (its model neither a local folder nor on
        the Hub or in the cache), without loading anything: a command calls it before its expensive work. The
        default has nothing to check."""

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
