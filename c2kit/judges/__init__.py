"""Course-correction judges: does a continuation steer away from the harmful prefix?

* ``keyword`` (``keyword-v5``): offline, versioned, trigger-aware pattern lists in ten languages, the default;
  ``keyword-v4``, ``keyword-v3``, ``keyword-v2``: the previous lists, frozen, so older numbers stay reproducible.
* ``openai:MODEL``: the paper's yes/no question to any OpenAI-compatible chat endpoint.
* your own: :func:`register_judge` (or a ``c2kit.judges`` entry point).

``judge_agreement`` compares two judges on the same continuations.
"""

from c2kit.judges.agreement import Agreement, judge_agreement
from c2kit.judges.base import Judge, JudgeError, JudgeInput
from c2kit.judges.keyword import KeywordJudge
from c2kit.judges.registry import available_judges, load_judge, register_judge

__all__ = [
    "Agreement",
    "Judge",
    "JudgeError",
    "JudgeInput",
    "KeywordJudge",
    "available_judges",
    "judge_agreement",
    "load_judge",
    "register_judge",
]
