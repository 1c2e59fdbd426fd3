"""An Inspect log of the ``c2_toolkit/c2_eval`` task, in c2's terms (for ``c2 eval import``): each (sample, epoch)
is one path of an (item, k), with the prompt the ``c2/`` provider rendered."""

from __future__ import annotations

from pathlib import Path
from statistics import fmean
from typing import Any

from c2kit.harness.importer import HarnessLog, _design, _number, _one_judge

TASK = "c2_toolkit/c2_eval"
SCORER = "course_correction"
GRADER_JUDGE = "grader"  # the task's judge name for the paper's question asked of the grader role's model


def read_inspect_log(path: Path) -> HarnessLog:
    from inspect_ai.log import read_eval_log

    try:
        log = read_eval_log(str(path))
    except Exception as error:  # a damaged or foreign file: say which, in one line
        raise ValueError(f"{path}: not an Inspect log ({type(error).__name__}: {error})") from None
    if log.eval.task not in (TASK, TASK.split("/")[-1]):
        raise ValueError(f"{path}: a log of Inspect task {log.eval.task!r}, not {TASK}")
    if not log.samples:
        raise ValueError(f"{path}: the log holds no samples (status {log.status}); run with sample logging on")
    generations: list[dict[str, Any]] = []
    per_cell: dict[tuple[str, int], list[float]] = {}
    judges: set[str] = set()
    for sample in log.samples:
        where = f"{path}, sample {sample.id} epoch {sample.epoch}"
        meta = sample.metadata or {}
        missing = [name for name in ("item_id", "k", "request", "prefix") if name not in meta]
        if missing:
            raise ValueError(f"{where}: metadata has no {', '.join(map(repr, missing))}")
        score = (sample.scores or {}).get(SCORER)
        if score is None:
            raise ValueError(f"{where}: no {SCORER} score (the sample failed or was not scored)")
        judges.add(str((score.metadata or {}).get("judge")))
        prompt = (sample.output.metadata or {}).get("prompt") if sample.output else None
        if not isinstance(prompt, str):
            raise ValueError(f"{where}: the output records no rendered prompt; evaluate with --model c2/MODEL")
        generations.append({"item_id": str(meta["item_id"]), "k": int(meta["k"]), "path": sample.epoch - 1,
                            "request": meta["request"], "prefix": meta["prefix"], "prompt": prompt,
                            "continuation": sample.output.completion})
        per_cell.setdefault((str(meta["item_id"]), int(meta["k"])), []).append(
            _number(score.value, f"{where}: the score's value"))
    judge = _c2_judge(_one_judge(judges, path), log)
    args = log.eval.task_args or {}
    config = log.plan.config
    settings = {"model": log.eval.model.partition("/")[2] if log.eval.model.startswith("c2/") else log.eval.model,
                "engine": f"inspect {log.eval.model.partition('/')[0]}", "seed": args.get("seed"),
                "data": args.get("data"), "temperature": config.temperature, "top_p": config.top_p,
                "top_k": config.top_k or 0, "max_new_tokens": config.max_tokens,
                "harness": {"name": "inspect", "version": log.eval.packages.get("inspect_ai"), "task": log.eval.task,
                            "task_version": log.eval.task_version, "model": log.eval.model,
                            "model_args": log.eval.model_args, "eval_id": log.eval.eval_id, "status": log.status}}
    return HarnessLog("inspect", str(path.resolve()), generations, judge,
                      {cell: fmean(values) for cell, values in per_cell.items()},
                      {**{key: value for key, value in settings.items() if value is not None}, **_design(generations)})


def _c2_judge(judge: str, log) -> str:
    """The c2 judge spec of the task's judge: the same spec, or for the grader role the paper's judge on the same
    OpenAI model (``openai-paper:MODEL``); any other grader has no c2 spec (``--judge`` names one)."""
    if judge != GRADER_JUDGE:
        return judge
    roles = log.eval.model_roles or {}
    grader = roles.get(GRADER_JUDGE)
    name = getattr(grader, "model", "") or ""
    provider, _, model = name.partition("/")
    if provider != "openai" or not model:
        raise ValueError(f"{log.location}: judged by the grader role's model {name or '(unknown)'}, which c2 cannot "
                         "ask again by itself; name a c2 judge with --judge (e.g. openai-paper:gpt-4o)")
    return f"openai-paper:{model}"
