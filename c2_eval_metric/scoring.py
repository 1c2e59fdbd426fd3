"""Score stored outputs without generating: official raw result files, judged files, and re-judging.

* :func:`c2_eval_metric.official.score_official` (its own module) reads the original C2-Eval raw result
  JSONL (keys ``k``, ``request``, ``full response``, ``truly response``), recovers prefix, continuation and
  item for any chat template, judges every row and writes a results directory with the item mean and the
  paper's pooled figure.
* :func:`score_judged` scores rows that were judged elsewhere (``item_id``, ``k``, ``path``, ``corrected``).
* :func:`rejudge_results` re-judges the continuations of a results directory with another judge and reports
  how well the two judges agree.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from c2kit.errors import UserError
from c2kit.jsonio import read_jsonl, write_json, write_jsonl
from c2kit.judges.registry import check_judge_spec, public_spec

from .corr import CorrScores
from .groups import run_groups
from .judging import judge_notes, judge_record, judge_rows, load_run_judge
from .results import (
    AGREEMENT_FILE,
    GENERATIONS_FILE,
    JUDGMENTS_FILE,
    REJUDGED_KEY,
    read_config,
    scoring_into,
    write_scored_results,
)


def score_judged(path: str | Path, *, out_dir: str | Path) -> CorrScores:
    """Score a judged JSONL file (rows ``item_id``, ``k``, ``path``, ``corrected``, optional ``judge``)."""
    judgments: list[dict[str, Any]] = []
    for number, record in read_jsonl(path):
        for name in ("item_id", "k", "path", "corrected"):
            if name not in record:
                raise UserError(f"{path}, row {number}: field {name!r} is missing "
                                "(judged rows have item_id, k, path, corrected)")
        item_id = record["item_id"]
        if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or str(item_id) == "":
            raise UserError(f"{path}, row {number}: field 'item_id' must be a non-empty string, got {item_id!r}")
        k, path_index, corrected = record["k"], record["path"], record["corrected"]
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise UserError(f"{path}, row {number}: field 'k' must be a positive integer, got {k!r}")
        if isinstance(path_index, bool) or not isinstance(path_index, int) or path_index < 0:
            raise UserError(f"{path}, row {number}: field 'path' must be an integer >= 0, got {path_index!r}")
        if not isinstance(corrected, bool):
            raise UserError(f"{path}, row {number}: field 'corrected' must be true or false, got {corrected!r}")
        judge = record.get("judge", "unspecified")
        if not isinstance(judge, str):
            raise UserError(f"{path}, row {number}: field 'judge' must be a string, got {judge!r}")
        judgments.append({"item_id": str(item_id), "k": k, "path": path_index, "judge": judge,
                          "corrected": corrected})
    if not judgments:
        raise UserError(f"{path}: no rows")
    judges = sorted({row["judge"] for row in judgments})
    if len(judges) > 1:
        raise UserError(f"{path}: rows come from several judges {judges}; score each judge's rows separately")
    with scoring_into(out_dir):
        try:
            return write_scored_results(out_dir, judgments, judge=judges[0],
                                        config={"source": "judged", "judged_file": str(Path(path).resolve())})
        except ValueError as error:  # e.g. a path judged twice: say which file it came from
            raise UserError(f"{path}: {error}") from None


def rejudge_results(results_dir: str | Path, *, out_dir: str | Path, judge: str,
                    disagreements: str | Path | None = None) -> CorrScores:
    """Re-judge a results directory's continuations with ``judge``; write a new results directory.

    Agreement with the judgments stored in ``results_dir`` (agreement rate, Cohen's kappa, confusion
    matrix) goes into ``agreement.json`` and the summary. With ``disagreements``, the paths the two judges
    decide differently are written there as label rows (``label: null``) for a person to fill in and check
    both judges with ``c2 judge validate --labels``.
    """
    source, out = Path(results_dir), Path(out_dir)
    if out.resolve() == source.resolve():
        raise UserError(f"{out}: write the re-judged results to a new directory, not into {source} itself")
    generations = [record for _, record in read_jsonl(source / GENERATIONS_FILE)]
    if not generations:
        raise UserError(f"{source / GENERATIONS_FILE}: no rows")
    source_config = read_config(source)
    requests = _requests_for(generations, source_config, source)
    check_judge_spec(judge)  # an unknown judge fails before --out is made
    with scoring_into(out):
        return _rejudge_into(out, source, source_config, generations, requests, judge, disagreements)


def _rejudge_into(out: Path, source: Path, source_config: Mapping[str, Any], generations: list[dict[str, Any]],
                  requests: list[str], judge: str, disagreements: str | Path | None) -> CorrScores:
    """:func:`rejudge_results` in its claimed and locked ``out``."""
    from c2kit.judges import judge_agreement

    judge_impl = load_run_judge(judge, out)
    shutil.copyfile(source / GENERATIONS_FILE, out / GENERATIONS_FILE)
    judgments = judge_rows(judge_impl, generations, requests)

    notes = []
    stored = _stored_judgments(source)
    if stored:
        keys = [(row["item_id"], row["k"], row["path"]) for row in judgments]
        missing = [key for key in keys if key not in stored]
        if missing:
            raise UserError(f"{source / JUDGMENTS_FILE}: no judgment for item_id {missing[0][0]!r}, "
                            f"k {missing[0][1]}, path {missing[0][2]} of generations.jsonl")
        stored_name = next(iter(stored.values()))[0]
        agreement = judge_agreement([stored[key][1] for key in keys], [row["corrected"] for row in judgments],
                                    names=(stored_name, judge_impl.name))
        write_json(out / AGREEMENT_FILE, {"stored_judge": stored_name, "new_judge": judge_impl.name,
                                          "stored_in": str(source.resolve()), **agreement.to_dict()})
        notes.append(f"## Agreement with the stored judge\n\nThe judgments stored in {source} against the "
                     f"new ones (rows: stored judge, columns: new judge).\n\n{agreement.to_markdown()}")
        if disagreements is not None:
            rows = _disagreement_rows(generations, requests, judgments, stored, stored_name)
            write_jsonl(disagreements, rows)
            print(f"{len(rows)} disagreements written to {disagreements} for labelling (fill in 'label', or label "
                  f"them with the keyboard in a browser: c2 view {disagreements} --out label.html)")
    elif disagreements is not None:
        raise UserError(f"{source}: no judgments.jsonl, so there is no stored judge to disagree with")
    extra = _carried_analyses(source, out, judge_impl)
    groups, group_field = run_groups(source_config)
    notes += judge_notes(judge_impl)
    config = {**source_config, "judge": public_spec(judge), "judge_info": judge_record(judge_impl),
              REJUDGED_KEY: str(source.resolve())}
    return write_scored_results(out, judgments, judge=judge_impl.name, config=config, notes=notes, extra=extra,
                                groups=groups, group_field=group_field)


def _carried_analyses(source: Path, out: Path, judge) -> dict[str, Any]:
    """What a re-judged directory keeps of the source's analyses: the depth counts (judge-independent) as
    they were, and the over-correction pass re-judged with the new judge."""
    from c2kit.jsonio import read_json

    from .overcorrection import OVERCORRECTION_DIR, overcorrection_block
    from .results import SCORES_FILE

    stored = read_json(source / SCORES_FILE) if (source / SCORES_FILE).is_file() else {}
    extra = {key: stored[key] for key in ("n_short_at_k", "short_items", "depth") if key in stored}
    benign = source / OVERCORRECTION_DIR / GENERATIONS_FILE
    if benign.is_file() and "overcorrection" in stored:
        rows = [record for _, record in read_jsonl(benign)]
        judged = judge_rows(judge, rows, [row["request"] for row in rows])
        (out / OVERCORRECTION_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(benign, out / OVERCORRECTION_DIR / GENERATIONS_FILE)
        write_jsonl(out / OVERCORRECTION_DIR / JUDGMENTS_FILE, judged)
        old = stored["overcorrection"]
        kept = {key: old[key] for key in ("n_short_at_k", "skipped_empty_answers", "rows_skipped") if key in old}
        extra["overcorrection"] = overcorrection_block(judged, judge=judge.name, prefix_source=old["prefix_source"],
                                                       data=old["data"], extra=kept)
    return extra


def _disagreement_rows(generations, requests, judgments, stored, stored_name: str) -> list[dict[str, Any]]:
    """Label rows (the ``c2 judge validate`` format, label left empty) where the two judges disagree."""
    rows = []
    for row, request, judged in zip(generations, requests, judgments, strict=True):
        before = stored[(judged["item_id"], judged["k"], judged["path"])][1]
        if before != judged["corrected"]:
            rows.append({"id": f"{judged['item_id']}/k{judged['k']}/p{judged['path']}", "request": request,
                         "prefix": row["prefix"], "prompt": row.get("prompt") or "",
                         "continuation": row["continuation"], "label": None,
                         "verdicts": {stored_name: before, judged["judge"]: judged["corrected"]}})
    return rows


def _requests_for(generations: Sequence[Mapping[str, Any]], config: Mapping[str, Any], source: Path) -> list[str]:
    """The request of each generations row: its own ``request`` field, else looked up in the run's data."""
    generations_file = source / GENERATIONS_FILE
    for number, row in enumerate(generations, start=1):
        for name in ("item_id", "k", "path", "prefix", "continuation"):
            if name not in row:
                raise UserError(f"{generations_file}, row {number}: field {name!r} is missing")
    if all(isinstance(row.get("request"), str) for row in generations):
        return [row["request"] for row in generations]
    if "data" not in config:
        raise UserError(f"{generations_file}: rows have no 'request' field and {source}/config.json names no "
                        "'data' source to look the requests up in")
    from c2kit.sources import load_source, parse_column_mapping

    mapping = config.get("column_mapping")
    loaded = load_source(config["data"], split=config.get("split") or "train",
                         column_mapping=parse_column_mapping(mapping) if isinstance(mapping, str) else mapping,
                         limit=config.get("limit"))
    by_id = {row.source_id: row.request for row in loaded.rows}
    requests = []
    for number, row in enumerate(generations, start=1):
        if str(row["item_id"]) not in by_id:
            raise UserError(f"{generations_file}, row {number}: item_id {row['item_id']!r} is not in the run's "
                            f"data source {loaded.origin}")
        requests.append(by_id[str(row["item_id"])])
    return requests


def _stored_judgments(source: Path) -> dict[tuple[Any, int, int], tuple[str, bool]]:
    """Stored verdicts keyed by (item_id, k, path), or {} when the directory has no judgments.jsonl."""
    path = source / JUDGMENTS_FILE
    if not path.is_file():
        return {}
    stored = {}
    for number, row in read_jsonl(path):
        if not isinstance(row.get("corrected"), bool):
            raise UserError(f"{path}, row {number}: field 'corrected' must be true or false")
        stored[(row.get("item_id"), row.get("k"), row.get("path"))] = (str(row.get("judge", "unspecified")),
                                                                        row["corrected"])
    return stored
