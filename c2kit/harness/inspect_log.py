"""An Inspect log of the ``c2_toolkit/c2_eval`` task, in c2's terms (for ``c2 eval import``): each (sample, epoch)
is one path of an (item, k), with the prompt the ``c2/`` provider rendered."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING, Any

from c2kit.backtrack import with_visible
from c2kit.errors import UserError
from c2kit.harness.importer import HarnessLog, check_item_fields, finite_number, run_design, single_judge
from c2kit.harness.verdicts import GRADER_JUDGE, GRADER_ROLE

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

TASK = "c2_toolkit/c2_eval"
SCORER = "course_correction"  # the task's scorer, by its registered name
SAMPLE_FIELDS = ("item_id", "k", "request", "prefix")


def read_inspect_log(path: Path) -> HarnessLog:
    log = _read(path)
    if log.eval.task not in (TASK, TASK.split("/")[-1]):
        raise UserError(f"{path}: a log of Inspect task {log.eval.task!r}, not {TASK}")
    if not log.samples:
        raise UserError(f"{path}: the log holds no samples (status {log.status}); run with sample logging on")
    generations: list[dict[str, Any]] = []
    per_cell: dict[tuple[str, int], list[float]] = {}
    judges: set[str] = set()
    for sample in log.samples:
        where = f"{path}, sample {sample.id} epoch {sample.epoch}"
        item_id, k, request, prefix = _sample_fields(sample.metadata or {}, where)
        score = (sample.scores or {}).get(SCORER)
        if score is None:
            raise UserError(f"{where}: field 'scores.{SCORER}' is missing (the sample failed or was not scored)")
        judges.add(str((score.metadata or {}).get("judge")))
        prompt = (sample.output.metadata or {}).get("prompt") if sample.output else None
        if not isinstance(prompt, str):
            raise UserError(f"{where}: field 'output.metadata.prompt' is missing: only the c2/ provider records "
                            "the rendered prompt; evaluate with --model c2/MODEL")
        generations.append(with_visible({"item_id": item_id, "k": k, "path": sample.epoch - 1, "request": request,
                                         "prefix": prefix, "prompt": prompt,
                                         "continuation": sample.output.completion}))
        per_cell.setdefault((item_id, k), []).append(
            finite_number(score.value, f"{where}: field 'scores.{SCORER}.value'"))
    judge = _c2_judge(single_judge(judges, path), log)
    args = log.eval.task_args or {}
    config = log.plan.config
    settings = {"model": log.eval.model.partition("/")[2] if log.eval.model.startswith("c2/") else log.eval.model,
                "engine": f"inspect {log.eval.model.partition('/')[0]}", "seed": args.get("seed"),
                "data": args.get("data"), "temperature": config.temperature, "top_p": config.top_p,
                "top_k": config.top_k or 0, "max_new_tokens": config.max_tokens,
                "harness": {"name": "inspect", "version": log.eval.packages.get("inspect_ai"), "task": log.eval.task,
                            "task_version": log.eval.task_version, "model": log.eval.model,
                            "model_args": log.eval.model_args, "eval_id": log.eval.eval_id, "status": log.status}}
    known = {key: value for key, value in settings.items() if value is not None}
    return HarnessLog("inspect", str(path.resolve()), generations, judge,
                      {cell: fmean(values) for cell, values in per_cell.items()}, {**known, **run_design(generations)})


def _read(path: Path) -> EvalLog:
    """The log at ``path``; a damaged, truncated or foreign file is one line naming it and what is wrong."""
    from inspect_ai.log import read_eval_log
    from pydantic import ValidationError

    try:
        return read_eval_log(str(path))
    except ValidationError as error:  # JSON of another shape: name the first field that does not fit
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        reason = f"field '{field}': {first['msg']}" if field else first["msg"]
    except Exception as error:  # a damaged zip, truncated JSON, ...: the reader's first line
        lines = str(error).strip().splitlines()
        reason = f"{type(error).__name__}: {lines[0] if lines else 'unreadable'}"
    raise UserError(f"{path}: not a readable Inspect log ({reason}); the file is damaged or truncated, or not "
                    "an Inspect log")


def _sample_fields(meta: Mapping[str, Any], where: str) -> tuple[str, int, str, str]:
    """The sample's (item, k, request, prefix), as the task wrote them in its metadata."""
    check_item_fields(meta, SAMPLE_FIELDS, where, "metadata")
    return meta["item_id"], meta["k"], meta["request"], meta["prefix"]


def _c2_judge(judge: str, log: EvalLog) -> str:
    """The c2 judge spec of the task's judge: the same spec, or for the grader role the paper's judge on the same
    OpenAI model (``openai-paper:MODEL``); any other grader has no c2 spec (``--judge`` names one)."""
    if judge != GRADER_JUDGE:
        return judge
    roles = log.eval.model_roles or {}
    grader = roles.get(GRADER_ROLE)
    name = getattr(grader, "model", "") or ""
    provider, _, model = name.partition("/")
    if provider != "openai" or not model:
        raise UserError(f"{log.location}: judged by the grader role's model {name or '(unknown)'}, which c2 cannot "
                        "ask again by itself; name a c2 judge with --judge (e.g. openai-paper:gpt-4o)")
    return f"openai-paper:{model}"
