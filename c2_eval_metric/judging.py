"""Judging the rows of a run: verdicts per path (with where a correction starts, harm verdicts, unparsed
answers), and what a results directory records of the judge. Used by the runner, re-judging, the official-file
scorer and the over-correction pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from c2kit.quiet import progress_shown

JUDGE_CACHE_DIR = "judge-cache"
JUDGE_BATCH = 256  # inputs per judge call: large enough for an LLM judge's concurrency, small for progress


def judge_rows(judge, generations: Sequence[Mapping[str, Any]], requests: Sequence[str], *,
               tokenizer: Any = None) -> list[dict[str, Any]]:
    """Judge generations rows (with the request of each) in batches, with a progress bar; returns judgments.

    What is read from the judge is its interface (:class:`c2kit.judges.Judge`): where it locates corrections
    (``locate``), corrected rows also get ``correction_char``, ``correction_word`` and, with the evaluated model's
    ``tokenizer``, ``correction_token``; where it gives harm verdicts (``last_harmful_response``, e.g. wildguard),
    rows get ``harmful_response``; where a model judge's answer was neither yes nor no (``last_readings``), rows get
    ``unparsed: true``; a continuation that emits a backtracking model's reset token gets ``reset_char``, the
    offset of its first reset, whatever the verdict.
    """
    from c2kit.backtrack import reset_start
    from c2kit.judges import JudgeInput
    from c2kit.judges.locate import can_locate, locate_corrections, token_position, word_position

    inputs = [JudgeInput(request=request, prefix=row["prefix"], continuation=row["continuation"],
                         prompt=row.get("prompt") or "")
              for row, request in zip(generations, requests, strict=True)]
    verdicts: list[bool] = []
    positions: list[int | None] = []
    harms: list[bool | None] = []
    readings: list[str | None] = []
    locates = can_locate(judge)
    with tqdm(total=len(inputs), desc=f"judging ({judge.name})", unit="path",
              disable=not progress_shown()) as progress:
        for start in range(0, len(inputs), JUDGE_BATCH):
            batch = inputs[start:start + JUDGE_BATCH]
            verdicts += judge.judge(batch)
            harms += _per_input(judge, "last_harmful_response", judge.last_harmful_response, len(batch))
            readings += _per_input(judge, "last_readings", judge.last_readings, len(batch))
            positions += _per_input(judge, "locate", locate_corrections(judge, batch) if locates else None, len(batch))
            progress.update(len(batch))
    rows = []
    for row, verdict, position, harmful, reading in zip(generations, verdicts, positions, harms, readings,
                                                         strict=True):
        judged = {"item_id": row["item_id"], "k": row["k"], "path": row["path"], "judge": judge.name,
                  "corrected": bool(verdict)}
        if verdict and position is not None:
            text = row["continuation"]
            judged["correction_char"] = int(position)
            judged["correction_word"] = word_position(text, position)
            if tokenizer is not None:
                judged["correction_token"] = token_position(tokenizer, text, position)
        reset = reset_start(row["continuation"])
        if reset is not None:  # a backtracking model's reset, whatever the verdict (c2_eval_metric.resets)
            judged["reset_char"] = reset
        if harmful is not None:
            judged["harmful_response"] = bool(harmful)
        if reading == "unparsed":  # the answer was neither yes nor no (counted as not corrected)
            judged["unparsed"] = True
        rows.append(judged)
    return rows


def _per_input(judge, what: str, values: Sequence[Any] | None, n: int) -> list[Any]:
    """One value per input of the batch (None each when the judge gives none); a judge that gives another count
    breaks its interface, which is said in one line rather than recorded against the wrong paths."""
    if values is None:
        return [None] * n
    if len(values) != n:
        from c2kit.judges import JudgeError

        raise JudgeError(f"judge {judge.name}: {what} gave {len(values)} values for a batch of {n} inputs")
    return list(values)


def judge_record(judge) -> dict[str, Any]:
    """What ``config.json`` records of a judge after it ran: its settings, how its answers were read, and what
    located its corrections (``located_by``, named in the summary's latency section)."""
    record = dict(judge.info())
    tally = judge.tally()
    if tally:
        record["tally"] = tally
    located_by = judge.located_by()
    if located_by:
        record["located_by"] = located_by
    return record


def judge_notes(judge) -> list[str]:
    """A summary section when a model judge gave answers that were neither yes nor no (counted, not hidden)."""
    tally = judge.tally()
    odd = sum(count for reading, count in tally.items() if reading not in ("yes", "no"))
    if not odd:
        return []
    total = sum(tally.values())
    counts = ", ".join(f"{reading} {count}" for reading, count in sorted(tally.items()))
    return [f"## Judge answers\n\n{odd} of {total} answers of `{judge.name}` were neither 'yes' nor 'no' "
            f"({counts}). They count as not corrected, as in the paper; the raw answers are in the judge cache."]


def load_run_judge(spec: str, out: Path):
    from c2kit.judges import load_judge

    # Answers of a paid LLM judge are cached inside the results directory, so re-running the same
    # command after an interruption only judges what is left.
    return load_judge(spec, cache_dir=out / JUDGE_CACHE_DIR)
