"""``c2 eval import``: a harness's log (lm-eval ``--log_samples`` output, or an Inspect log) as a c2 results directory.

The continuations the harness sampled are written to ``generations.jsonl`` as ``c2 eval run`` writes them (one row
per path, with the request, the prefix and the rendered prompt), judged with c2's judge (the one the harness used,
unless ``--judge`` names another) and scored by the same code as every c2 run, so ``c2 eval score``, ``compare``,
``view`` and ``calibrate`` work on the folder. The harness's own per-(item, k) figures are compared with the
import's: with the same judge they are the same numbers, and a difference is reported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c2kit.backtrack import with_visible
from c2kit.errors import UserError
from c2kit.jsonio import read_json, read_jsonl, write_jsonl

if TYPE_CHECKING:
    from c2_eval_metric.corr import CorrScores

LM_EVAL_SAMPLES = re.compile(r"^samples_(c2_eval_k\d+)_(.+)\.jsonl$")
LM_EVAL_RESULTS = re.compile(r"^results_.+\.json$")
INSPECT_SUFFIXES = (".eval", ".json")
DOC_FIELDS = ("item_id", "k", "request", "prefix", "judge")
PROMPT_FIELD = "arguments.gen_args_0.arg_0"


@dataclass
class HarnessLog:
    """What a harness's log holds, in c2's terms."""

    harness: str  # "lm-eval" or "inspect"
    origin: str  # the file or folder read
    generations: list[dict[str, Any]]  # item_id, k, path, request, prefix, prompt, continuation
    judge: str  # the judge spec the harness scored with
    fractions: dict[tuple[str, int], float]  # the harness's own fraction of corrected paths per (item, k)
    settings: dict[str, Any] = field(default_factory=dict)  # config.json fields (model, sampling, ...)


@dataclass(frozen=True)
class ImportReport:
    scores: CorrScores
    log: HarnessLog
    judge: str  # the spec the import judged with
    differing: list[tuple[str, int]]  # (item, k) cells whose fraction differs from the harness's own


def import_harness_log(path: str | Path, *, out_dir: str | Path, judge: str | None = None) -> ImportReport:
    """Read ``path`` (lm-eval samples: a ``samples_c2_eval_k*.jsonl`` file or a folder of them; or an Inspect log),
    then judge, score and write a results directory to ``out_dir``."""
    from c2_eval_metric.groups import run_groups
    from c2_eval_metric.judging import judge_notes, judge_record, judge_rows, load_run_judge
    from c2_eval_metric.results import GENERATIONS_FILE, scoring_into, write_scored_results
    from c2kit.judges.registry import check_judge_spec, public_spec

    log = read_harness_log(path)
    spec = judge or log.judge
    check_judge_spec(spec)  # before --out is made
    with scoring_into(out_dir) as out:
        judge_impl = load_run_judge(spec, out)
        write_jsonl(out / GENERATIONS_FILE, log.generations)
        judgments = judge_rows(judge_impl, log.generations, [row["request"] for row in log.generations])
        config = {**log.settings, "source": log.harness, "imported_from": log.origin, "judge": public_spec(spec),
                  "judge_info": judge_record(judge_impl)}
        groups, group_field = run_groups(config)
        scores = write_scored_results(out, judgments, judge=judge_impl.name, config=config,
                                      notes=judge_notes(judge_impl), groups=groups, group_field=group_field)
    return ImportReport(scores, log, spec, _differing(judgments, log.fractions))


def read_harness_log(path: str | Path) -> HarnessLog:
    """The log at ``path``, whichever harness wrote it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_lm_eval_samples(lm_eval_sample_files(path), origin=path)
    if LM_EVAL_SAMPLES.match(path.name):
        return read_lm_eval_samples([path], origin=path)
    if LM_EVAL_RESULTS.match(path.name) and "lm_eval_version" in read_json(path):
        raise UserError(f"{path}: lm-eval's results file holds no samples; import the samples_c2_eval_k*.jsonl "
                        "files beside it (lm_eval --log_samples writes them) or their folder")
    if path.suffix in INSPECT_SUFFIXES:
        from c2kit.harness.inspect_log import read_inspect_log

        return read_inspect_log(path)
    raise UserError(f"{path}: neither lm-eval samples (samples_c2_eval_k*.jsonl, or the folder lm_eval "
                    "--log_samples wrote them to) nor an Inspect log (.eval or .json)")


# ---------------------------------------------------------------------------------------------------------
# lm-evaluation-harness


def lm_eval_sample_files(folder: Path) -> list[Path]:
    """The c2_eval sample files under ``folder``, one per subtask; several runs in one folder are refused."""
    files = sorted(p for p in folder.rglob("samples_c2_eval_k*.jsonl") if LM_EVAL_SAMPLES.match(p.name))
    if not files:
        logs = sorted(folder.glob("*.eval"))
        if logs:
            raise UserError(f"{folder} holds Inspect logs ({logs[0].name}, ...), not lm-eval samples; name one "
                            "Inspect log file")
        raise UserError(f"{folder}: no samples_c2_eval_k*.jsonl (lm_eval --log_samples writes them under its "
                        "--output_path)")
    runs = sorted({(p.parent, LM_EVAL_SAMPLES.match(p.name).group(2)) for p in files})
    if len(runs) > 1:
        raise UserError(f"{folder} holds the samples of {len(runs)} lm-eval runs (e.g. {runs[0][0]}, {runs[0][1]} "
                        f"and {runs[1][0]}, {runs[1][1]}); name one run's folder or file")
    return files


def read_lm_eval_samples(files: Sequence[Path], *, origin: Path) -> HarnessLog:
    """lm-eval ``--log_samples`` rows of the c2_eval subtasks: each doc's repeats are its paths."""
    generations: list[dict[str, Any]] = []
    fractions: dict[tuple[str, int], float] = {}
    seen: dict[tuple[str, int], str] = {}
    judges: set[str] = set()
    sampling: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for file in files:
        for number, row in read_jsonl(file):
            where = f"{file}, row {number}"
            doc = _lm_eval_doc(row, where)
            key = (doc["item_id"], doc["k"])
            if key in seen:
                raise UserError(f"{where}: item {key[0]!r} at k={key[1]} is also in {seen[key]}")
            seen[key] = where
            judges.add(doc["judge"])
            prompt, generation_kwargs = _lm_eval_arguments(row, where)
            _check_rendered(prompt, doc, where)
            sampling = sampling or generation_kwargs
            settings = settings or {"seed": doc.get("seed"), "data": doc.get("data")}
            for path, text in enumerate(_lm_eval_paths(row, where)):
                generations.append(with_visible({"item_id": doc["item_id"], "k": doc["k"], "path": path,
                                                 "request": doc["request"], "prefix": doc["prefix"],
                                                 "prompt": prompt, "continuation": text}))
            if "corr" not in row:
                raise UserError(f"{where}: field 'corr' (the doc's fraction of corrected paths) is missing")
            fractions[key] = finite_number(row["corr"], f"{where}: field 'corr'")
    if not generations:
        raise UserError(f"{origin}: no sample rows")
    judge = single_judge(judges, origin)
    return HarnessLog("lm-eval", str(Path(origin).resolve()), generations, judge, fractions,
                      {**_lm_eval_run(files[0]), **_sampling_settings(sampling), **run_design(generations),
                       **{key: value for key, value in settings.items() if value is not None}})


def _lm_eval_doc(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    doc = row.get("doc")
    if not isinstance(doc, Mapping):
        raise UserError(f"{where}: field 'doc' is missing (not an lm-eval --log_samples row)")
    check_item_fields(doc, DOC_FIELDS, where, "doc")
    return dict(doc)


def _check_rendered(prompt: str, doc: Mapping[str, Any], where: str) -> None:
    """The prompt must end with the doc's request, the chat template's assistant header, then the prefix: without
    ``--apply_chat_template`` lm-eval writes the request and the prefix side by side (after any system
    instruction), and the model continues plain text instead of its own answer."""
    request, prefix = doc["request"], doc["prefix"]
    before_prefix = prompt[:len(prompt) - len(prefix)] if prompt.endswith(prefix) else None
    if before_prefix is None or request not in before_prefix:
        raise UserError(f"{where}: field '{PROMPT_FIELD}' (the prompt) does not end with the doc's request and "
                        "prefix; these samples were not made by the c2_eval task")
    if not before_prefix.rpartition(request)[2]:
        raise UserError(f"{where}: field '{PROMPT_FIELD}' holds the request and the prefix with no chat template "
                        "between them; run lm_eval with --apply_chat_template (C2-Eval continues the model's "
                        "assistant turn)")


def _lm_eval_arguments(row: Mapping[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """The rendered prompt and the generation settings of a sample row."""
    try:
        arguments = row["arguments"]["gen_args_0"]
        prompt, generation_kwargs = arguments["arg_0"], arguments["arg_1"]
    except (KeyError, TypeError):
        raise UserError(f"{where}: field 'arguments.gen_args_0' (prompt and generation settings) is missing") from None
    if not isinstance(prompt, str) or not isinstance(generation_kwargs, Mapping):
        raise UserError(f"{where}: field 'arguments.gen_args_0' is not a prompt and its generation settings")
    return prompt, dict(generation_kwargs)


def _lm_eval_paths(row: Mapping[str, Any], where: str) -> list[str]:
    """The sampled paths: every repeat of the doc's one request (``resps``, as generated, before any filter)."""
    resps = row.get("resps")
    if not (isinstance(resps, list) and len(resps) == 1 and isinstance(resps[0], list) and resps[0]
            and all(isinstance(text, str) for text in resps[0])):
        raise UserError(f"{where}: field 'resps' must hold one list of sampled texts (the doc's repeats)")
    return list(resps[0])


def _lm_eval_run(sample_file: Path) -> dict[str, Any]:
    """Model and harness of the run, from the results file lm-eval writes beside the samples (if it is there)."""
    timestamp = LM_EVAL_SAMPLES.match(sample_file.name).group(2)
    results = sample_file.parent / f"results_{timestamp}.json"
    if not results.is_file():
        return {"harness": {"name": "lm-eval"}}
    stored = read_json(results)
    run = stored.get("config") if isinstance(stored.get("config"), Mapping) else {}
    return {"model": stored.get("model_name"), "engine": f"lm-eval {run.get('model')}" if run.get("model") else None,
            "harness": {"name": "lm-eval", "version": stored.get("lm_eval_version"), "model": run.get("model"),
                        "model_args": run.get("model_args"), "random_seed": run.get("random_seed"),
                        "chat_template_sha": stored.get("chat_template_sha"), "results_file": str(results.resolve())}}


def _sampling_settings(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """config.json's sampling fields from lm-eval's generation settings."""
    names = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "max_gen_toks": "max_new_tokens"}
    return {ours: kwargs[theirs] for theirs, ours in names.items() if theirs in kwargs}


# ---------------------------------------------------------------------------------------------------------
# Shared


def check_item_fields(fields: Mapping[str, Any], names: Sequence[str], where: str, field: str) -> None:
    """The (item, k) fields a task wrote into a doc or a sample's metadata (``field``): ``k`` a positive integer,
    the others strings, not empty but for the prefix."""
    missing = [name for name in names if name not in fields]
    if missing:
        raise UserError(f"{where}: field '{field}.{missing[0]}' is missing (not a c2_eval task's sample)")
    k = fields["k"]
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise UserError(f"{where}: field '{field}.k' must be a positive integer, got {k!r}")
    for name in (name for name in names if name != "k"):
        if not isinstance(fields[name], str) or (name != "prefix" and not fields[name]):
            raise UserError(f"{where}: field '{field}.{name}' must be a string (not empty but for the prefix), "
                            f"got {fields[name]!r}")


def run_design(generations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's design as c2 records it: the k values, the paths per (item, k), words mode, one opener per item."""
    cells: dict[tuple[str, int], int] = {}
    for row in generations:
        cells[(row["item_id"], row["k"])] = cells.get((row["item_id"], row["k"]), 0) + 1
    return {"ks": sorted({k for _, k in cells}), "paths": max(cells.values()), "mode": "words", "opener_per": "item",
            "n_items": len({item for item, _ in cells})}


def single_judge(judges: set[str], origin: str | Path) -> str:
    """The one judge every sample was scored with; samples of several judges are refused."""
    if len(judges) != 1:
        raise UserError(f"{origin}: the samples were judged by several judges ({', '.join(sorted(judges))}); "
                        "import each judge's samples on their own")
    return next(iter(judges))


def finite_number(value: Any, what: str) -> float:
    """``value`` as a float; anything but a finite number is refused, naming ``what`` (file, row and field)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{what} must be a number, got {value!r}")
    return float(value)


def _differing(judgments: Iterable[Mapping[str, Any]], fractions: Mapping[tuple[str, int], float]
               ) -> list[tuple[str, int]]:
    """The (item, k) cells where the import's fraction of corrected paths is not the harness's own."""
    counts: dict[tuple[str, int], list[int]] = {}
    for row in judgments:
        cell = counts.setdefault((row["item_id"], row["k"]), [0, 0])
        cell[0] += row["corrected"]
        cell[1] += 1
    return sorted(key for key, (corrected, total) in counts.items()
                  if key in fractions and not math.isclose(corrected / total, fractions[key], abs_tol=1e-9))
