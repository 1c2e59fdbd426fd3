"""c2's judges as the harness tasks call them: one judge per spec per process, verdicts for the paths of one item.

The judge is named by a c2 judge spec (``keyword``, ``openai-paper:gpt-4o``, ``hf:...``; docs/judges.md), taken
from the task's own setting (lm-eval ``--metadata '{"judge": ...}'``, Inspect ``-T judge=...``), else from the
``C2_EVAL_JUDGE`` environment variable, else ``keyword`` (offline, the registry's default).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from c2kit.judges import Judge, JudgeInput, load_judge
from c2kit.judges.registry import check_judge_spec

JUDGE_ENV = "C2_EVAL_JUDGE"
DEFAULT_JUDGE = "keyword"
JUDGE_CACHE_ENV = "C2_EVAL_JUDGE_CACHE"  # where an LLM judge caches its answers (default: the judges' own cache)
# Inspect only: ``-T judge=grader`` asks the paper's question of the model bound to the ``grader`` role.
GRADER_JUDGE = "grader"
GRADER_ROLE = "grader"


def judge_spec(setting: str | None = None) -> str:
    """The judge spec to use: the task's setting, else ``$C2_EVAL_JUDGE``, else ``keyword``; checked here, so an
    unknown judge stops the harness before any model is loaded."""
    spec = (setting or os.environ.get(JUDGE_ENV) or DEFAULT_JUDGE).strip()
    check_judge_spec(spec)
    return spec


@lru_cache(maxsize=None)
def harness_judge(spec: str) -> Judge:
    """The judge for ``spec``, loaded once per process (a model judge loads its weights once)."""
    cache = os.environ.get(JUDGE_CACHE_ENV)
    return load_judge(spec, cache_dir=Path(cache) if cache else None)


def judge_paths(spec: str, request: str, prefix: str, continuations: Sequence[str],
                prompt: str = "") -> list[bool]:
    """One verdict per continuation of one (item, k): True where it course-corrects."""
    inputs = [JudgeInput(request=request, prefix=prefix, continuation=text, prompt=prompt) for text in continuations]
    return [bool(verdict) for verdict in harness_judge(spec).judge(inputs)]
