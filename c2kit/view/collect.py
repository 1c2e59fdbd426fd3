"""Gather what the report shows from results directories and label files into one compact, JSON-ready dict.

Inputs are results directories of ``c2 eval run`` / ``c2 eval score`` and label files (JSONL rows with request,
prefix, continuation and label, e.g. the ``--disagreements`` output of ``c2 eval score``). A labelling sample of
``c2 eval sample`` (label rows that carry the sampling plan, field ``sample``) opens blind: its rows alone, each
its own entry, in an order shuffled by the sample's seed, and the results directories given with it only lend
their judges' verdicts on the sampled continuations, which the page shows on a row once it is labelled (``blind``
in the data; no run summary, no score). Directories whose
``generations.jsonl`` is byte-identical (a run and its re-judged copies) become one *column* with one verdict per
judge; columns on the same items sit side by side with their paired difference. A run calibrated with human labels
(``c2 eval calibrate``) shows its calibrated Corr@k beside the judge's, and paired runs that both are their
calibrated paired difference; a run without labels, the line that says how to get them.

The dict is columnar so that 80,000 paths parse fast in a browser: every text (request, prefix, rendered prompt,
continuation) is stored once in ``strings`` and referred to by index, and each column keeps parallel arrays
(item, k, path, text indices) plus one verdict string per judge (``"1"`` corrected, ``"0"`` not, ``"-"`` not
judged). Local paths never enter it: runs are named by :func:`c2_eval_metric.results.run_label`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from c2_eval_metric.calibrated_scores import BLOCK as CALIBRATED
from c2_eval_metric.labelling_sample import SamplePlan, label_id, read_generations, read_plan
from c2_eval_metric.overcorrection import OVERCORRECTION_DIR
from c2_eval_metric.results import (
    GENERATIONS_FILE,
    JUDGMENTS_FILE,
    SCORES_FILE,
    is_local_path,
    model_label,
    read_config,
    run_label,
)
from c2kit.backtrack import RESET_TOKEN
from c2kit.errors import UserError
from c2kit.jsonio import read_json, read_jsonl
from c2kit.judges.trust import trust_note

HARMFUL, BENIGN = "harmful", "overcorrection"  # the two item sets a run can hold
# What the page shows of scores.json's block of Corr@k calibrated with human labels (c2 eval calibrate).
CALIBRATED_SHOWN = ("corr_at_k", "corr_mean", "ci95", "n_labels", "sensitivity", "specificity", "lambda")
_LABEL_ID = re.compile(r"^(?P<item>.+)/k(?P<k>\d+)/p(?P<path>\d+)$")  # ids of c2 eval score --disagreements rows


@dataclass
class _Strings:
    """Each distinct text once; rows refer to it by index."""

    table: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, text: str | None) -> int:
        if text is None or text == "":
            return -1
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.table)
            self.table.append(text)
        return found


@dataclass
class _Items:
    """The items of one set, in first-seen order, with their request and categories."""

    ids: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    requests: list[int] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)

    def add(self, item_id: str, request: int) -> int:
        found = self.index.get(item_id)
        if found is None:
            found = self.index[item_id] = len(self.ids)
            self.ids.append(item_id)
            self.requests.append(request)
            self.categories.append([])
        return found


def build_view_data(inputs: Sequence[str | Path], *, title: str | None = None) -> dict[str, Any]:
    """The report's data for ``inputs`` (results directories and label files), checked and columnar."""
    if not inputs:
        raise UserError("give at least one results directory or label file")
    strings = _Strings()
    items = {HARMFUL: _Items(), BENIGN: _Items()}
    runs: list[dict[str, Any]] = []
    columns: list[dict[str, Any]] = []
    by_generations: dict[tuple[str, str], dict[str, Any]] = {}  # (set, generations hash) -> column
    label_files: dict[Path, list[tuple[int, dict[str, Any]]]] = {}
    for source in inputs:
        path = Path(source)
        if path.is_file():
            label_files[path] = list(read_jsonl(path))
        elif not path.is_dir():
            raise FileNotFoundError(f"{path}: no such results directory or label file")
    plans = {path: read_plan(path, rows) for path, rows in label_files.items()}
    samples = [path for path, plan in plans.items() if plan is not None]
    if samples:
        return _blind_view_data(samples[0], plans[samples[0]], label_files,
                                [Path(source) for source in inputs if Path(source).is_dir()], title)
    for source in inputs:
        path = Path(source)
        if path.is_dir():
            run_index = len(runs)
            runs.append(_run_summary(path))
            for item_set, folder in ((HARMFUL, path), (BENIGN, path / OVERCORRECTION_DIR)):
                if item_set == BENIGN and not (folder / GENERATIONS_FILE).is_file():
                    continue
                _add_run_set(folder, item_set, run_index, runs, strings, items[item_set], columns, by_generations)
        else:
            columns.append(_label_column(path, label_files[path], None, strings, items[HARMFUL], len(columns)))
    _add_categories(inputs, runs, items[HARMFUL])
    _check_judge_names(columns)
    _label_keys(columns)
    return {
        "version": 1,
        "title": title or " vs ".join(dict.fromkeys(column["label"] for column in columns)),
        "label_mode": bool(label_files),
        "blind": None,
        "reset_token": RESET_TOKEN,  # a backtracking model's reset: the page shows what it discarded and what is seen
        "strings": strings.table,
        "runs": runs,
        "paired": _paired(inputs, runs, columns),
        "sets": {name: {"ids": found.ids, "requests": found.requests, "categories": found.categories}
                 for name, found in items.items() if found.ids},
        "columns": columns,
    }


def judge_label(name: str) -> str:
    """A judge's name without a local path: ``hf:/home/me/judges/qwen?question=c2`` -> ``hf:qwen?question=c2``
    (Hub ids and other names unchanged), so a report can be shared."""
    kind, colon, rest = name.partition(":")
    model, mark, query = rest.partition("?")
    if not colon or not model or not is_local_path(model):
        return name
    return f"{kind}:{model_label(model)}{mark}{query}"


def _run_summary(folder: Path) -> dict[str, Any]:
    """What the report's header shows of a run: its label, judge and Corr@k table (the page draws the plot)."""
    if not (folder / GENERATIONS_FILE).is_file():
        raise FileNotFoundError(f"{folder}: no {GENERATIONS_FILE}; is this a results directory of 'c2 eval run'?")
    config = read_config(folder)
    scores = read_json(folder / SCORES_FILE) if (folder / SCORES_FILE).is_file() else {}
    judge = judge_label(scores.get("judge") or config.get("judge") or "?")
    block = scores.get(CALIBRATED) if isinstance(scores.get(CALIBRATED), Mapping) else None
    tally = (config.get("judge_info") or {}).get("tally") or {}
    return {
        "label": run_label(config, folder),
        "dir": folder.resolve().name,
        "judge": judge,
        "trust": trust_note(judge),
        "scores": {key: scores[key] for key in ("corr_at_k", "corr_mean", "ci95", "n_items", "paths", "n_items_at_k")
                   if key in scores},
        "overcorrection": {key: value for key, value in (scores.get("overcorrection") or {}).items()
                           if key in ("rate_at_k", "rate_mean", "ci95", "n_items", "paths")} or None,
        "calibrated": {key: block[key] for key in CALIBRATED_SHOWN if key in block} if block else None,
        "labels_hint": None if block else _labels_hint(folder, str(scores.get("judge") or "")),
        "tally": tally,
        "rejudged": bool(config.get("rejudged_from")),
        "smoke": bool(config.get("smoke_model")),
    }


def _labels_hint(folder: Path, judge: str) -> str | None:
    """The line that says how to calibrate a run with human labels, or why its calibration no longer holds,
    without local paths (the run named by its folder's name, its ``judge`` by :func:`judge_label`). A run whose
    files cannot give it (a damaged scores.json or judgments.jsonl, which ``c2 view`` refuses before it builds the
    report) gets none: the page still shows it."""
    from c2_eval_metric.calibrated_scores import run_calibration

    try:
        line = run_calibration(folder).line(folder.resolve().name)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return line.replace(judge, judge_label(judge)) if line and judge else line


def _add_run_set(folder: Path, item_set: str, run_index: int, runs: list[dict[str, Any]], strings: _Strings,
                 items: _Items, columns: list[dict[str, Any]],
                 by_generations: dict[tuple[str, str], dict[str, Any]]) -> None:
    """One run's paths of one item set: a new column, or a further judge of the column with the same
    generations (a re-judged copy)."""
    generations = folder / GENERATIONS_FILE
    digest = hashlib.sha256(generations.read_bytes()).hexdigest()
    column = by_generations.get((item_set, digest))
    if column is None:
        column = _new_column(generations, item_set, runs[run_index]["label"], len(columns), strings, items)
        columns.append(column)
        by_generations[(item_set, digest)] = column
    column["runs"].append(run_index)
    judgments = folder / JUDGMENTS_FILE
    if judgments.is_file():
        column["judges"].append(_judge_track(judgments, column))


def _new_column(generations: Path, item_set: str, label: str, number: int, strings: _Strings,
                items: _Items) -> dict[str, Any]:
    arrays: dict[str, list[int]] = {name: [] for name in ("item", "k", "path", "request", "prefix", "prompt",
                                                          "continuation")}
    keys: dict[tuple[str, int, int], int] = {}
    for row_number, row in read_jsonl(generations):
        for name in ("item_id", "k", "path", "continuation"):
            if name not in row:
                raise UserError(f"{generations}, row {row_number}: field {name!r} is missing")
        if not isinstance(row["continuation"], str):
            raise UserError(f"{generations}, row {row_number}: field 'continuation' must be a string")
        key = _path_key(row, generations, row_number)
        if key in keys:
            raise UserError(f"{generations}, row {row_number}: item_id {key[0]!r}, k {key[1]}, path {key[2]} "
                            f"repeats row {keys[key]}")
        keys[key] = row_number
        request = strings.add(row.get("request") if isinstance(row.get("request"), str) else None)
        arrays["item"].append(items.add(key[0], request))
        arrays["k"].append(key[1])
        arrays["path"].append(key[2])
        arrays["request"].append(request)
        arrays["prefix"].append(strings.add(row.get("prefix") or ""))
        arrays["prompt"].append(strings.add(row.get("prompt") or ""))
        arrays["continuation"].append(strings.add(row["continuation"]))
    if not keys:
        raise UserError(f"{generations}: no rows")
    return {"label": label, "set": item_set, "id": f"c{number}", "runs": [], "judges": [], **arrays,
            "_rows": {key: index for index, key in enumerate(keys)}}


def _path_key(row: Mapping[str, Any], file: Path, row_number: int) -> tuple[str, int, int]:
    """(item_id, k, path) of a generations or judgments row; k and path must be whole numbers."""
    numbers = []
    for name in ("k", "path"):
        try:
            numbers.append(int(row[name]))
        except (TypeError, ValueError):
            raise UserError(f"{file}, row {row_number}: field {name!r} must be a whole number, "
                            f"got {row[name]!r}") from None
    return str(row["item_id"]), numbers[0], numbers[1]


def _judge_track(judgments: Path, column: dict[str, Any], unshown: Collection[tuple[str, int, int]] = ()
                 ) -> dict[str, Any]:
    """One judge's verdicts on a column's paths: a "0"/"1"/"-" string, where corrections start, unparsed rows.
    ``unshown``: the run's paths the column does not hold (a sample holds some), whose verdicts are passed over."""
    rows = column["_rows"]
    verdicts = ["-"] * len(rows)
    located: dict[str, int] = {}
    unparsed: list[int] = []
    names: set[str] = set()
    for row_number, row in read_jsonl(judgments):
        for name in ("item_id", "k", "path", "corrected"):
            if name not in row:
                raise UserError(f"{judgments}, row {row_number}: field {name!r} is missing")
        key = _path_key(row, judgments, row_number)
        names.add(str(row.get("judge", "?")))
        index = rows.get(key)
        if index is None and key in unshown:
            continue
        if index is None:
            raise UserError(f"{judgments}, row {row_number}: no path item_id {row['item_id']!r}, k {row['k']}, "
                            f"path {row['path']} in {GENERATIONS_FILE}")
        verdicts[index] = "1" if row["corrected"] is True else "0"
        if isinstance(row.get("correction_char"), int):
            located[str(index)] = row["correction_char"]
        if row.get("unparsed") is True:
            unparsed.append(index)
    return {"name": " / ".join(sorted(judge_label(name) for name in names)) or "?", "verdicts": "".join(verdicts),
            "located": located,
            "unparsed": unparsed}


def _label_column(path: Path, rows: list[tuple[int, dict[str, Any]]], plan: SamplePlan | None, strings: _Strings,
                  items: _Items, number: int) -> dict[str, Any]:
    """A label file (c2 judge validate's rows, e.g. c2 eval score --disagreements) as a column to label.

    The rows of a labelling sample (``plan``: its sampling plan) are taken in their labelling order, each its own
    entry (its item is the row's id), with the continuation it names (fields ``item_id``, ``k``, ``path``; ``_rows``
    maps that key to the row), its line in the file and its other fields as JSON text (``rest``), so the labels
    are saved as the sample's own rows."""
    names = ("item", "k", "path", "request", "prefix", "prompt", "continuation", "ids", "labels")
    arrays: dict[str, list[Any]] = {name: [] for name in names + (("line", "rest") if plan else ())}
    verdicts: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    keys: dict[tuple[str, int, int], int] = {}
    for row_number, row in (_labelling_order(path, rows, plan) if plan else rows):
        for name in ("request", "prefix", "continuation"):
            if not isinstance(row.get(name), str):
                raise UserError(f"{path}, row {row_number}: field {name!r} must be a string "
                                "(label rows have request, prefix, continuation, label)")
        row_id = str(row.get("id", row_number))
        if row_id in seen:
            raise UserError(f"{path}, row {row_number}: id {row_id!r} repeats row {seen[row_id]}")
        seen[row_id] = row_number
        label = row.get("label")
        if label is not None and not isinstance(label, bool):
            raise UserError(f"{path}, row {row_number}: field 'label' must be true, false or null, got {label!r}")
        request = strings.add(row["request"])
        if plan:
            key = _path_key(row, path, row_number)
            if key in keys:
                raise UserError(f"{path}, row {row_number}: continuation {label_id(key)} repeats row {keys[key]}")
            keys[key] = row_number
            k, path_index = key[1], key[2]
            arrays["item"].append(items.add(row_id, request))
            arrays["line"].append(row_number)
            arrays["rest"].append(strings.add(json.dumps({name: value for name, value in row.items() if name not in
                                                          ("request", "prefix", "prompt", "continuation", "label")},
                                                         ensure_ascii=False)))
        else:
            match = _LABEL_ID.match(row_id)
            item_id, k, path_index = (match["item"], int(match["k"]), int(match["path"])) if match else (row_id, 0, 0)
            arrays["item"].append(items.add(item_id, request))
        for name, value in (("k", k), ("path", path_index), ("request", request),
                            ("prefix", strings.add(row["prefix"])), ("prompt", strings.add(row.get("prompt") or "")),
                            ("continuation", strings.add(row["continuation"])), ("ids", row_id), ("labels", label)):
            arrays[name].append(value)
        stated = row.get("verdicts") if isinstance(row.get("verdicts"), Mapping) else {}
        stated = {judge_label(str(judge)): value for judge, value in stated.items()}
        for judge in stated:
            verdicts.setdefault(judge, ["-"] * (len(arrays["item"]) - 1))
        for judge, track in verdicts.items():
            value = stated.get(judge)
            track.append("1" if value is True else "0" if value is False else "-")
    if not seen:
        raise UserError(f"{path}: no rows")
    judges = [{"name": name, "verdicts": "".join(track), "located": {}, "unparsed": []}
              for name, track in verdicts.items()]
    column = {"label": path.stem, "set": HARMFUL, "id": f"c{number}", "runs": [], "judges": judges, **arrays}
    if plan:
        column["_rows"] = {key: index for index, key in enumerate(keys)}
    return column


def _labelling_order(path: Path, rows: list[tuple[int, dict[str, Any]]],
                     plan: SamplePlan) -> list[tuple[int, dict[str, Any]]]:
    """A sample's rows in an order shuffled by its seed, whatever the file's order (a file sorted by k or item
    would have people label item by item, or k by k): the same sample always opens in the same order."""
    for number, row in rows:
        for name in ("item_id", "k", "path"):
            if name not in row:
                raise UserError(f"{path}, row {number}: field {name!r} is missing (a row of a labelling sample names "
                                "its continuation by item_id, k and path)")

    def by_k(numbered: tuple[int, dict[str, Any]]) -> tuple[int, str, int]:
        item_id, k, path_index = _path_key(numbered[1], path, numbered[0])
        return k, item_id, path_index

    keyed = sorted(rows, key=by_k)
    return [keyed[index] for index in np.random.default_rng(plan.seed).permutation(len(keyed))]


def _blind_view_data(sample: Path, plan: SamplePlan, label_files: Mapping[Path, list[tuple[int, dict[str, Any]]]],
                     runs: Sequence[Path], title: str | None) -> dict[str, Any]:
    """The data of a labelling sample opened blind (module docstring): the sample's rows, and the verdicts of the
    judges of ``runs`` (the run it was drawn from and its re-judged copies) on them."""
    others = [path for path in label_files if path != sample]
    if others:
        raise UserError(f"{others[0]}: a labelling sample ({sample}) opens alone, with the results directories it "
                        "was drawn from (for their judges' verdicts); give other label files in another report")
    strings, items = _Strings(), _Items()
    column = _label_column(sample, label_files[sample], plan, strings, items, 0)
    for folder in runs:
        generations = _sampled_from(sample, column, strings, folder)
        judgments = folder / JUDGMENTS_FILE
        if judgments.is_file():
            column["judges"].append(_judge_track(judgments, column, generations.keys()))
    _check_judge_names([column])
    return {
        "version": 1,
        "title": title or column["label"],
        "label_mode": True,
        "blind": {"seed": plan.seed, "n": plan.n, "rows": len(column["item"]),
                  "strata": {str(k): size for k, size in sorted(plan.strata.items())},
                  "sizes": {str(k): size for k, size in sorted(plan.sizes.items())},
                  "judges": len(column["judges"])},
        "reset_token": RESET_TOKEN,  # a backtracking model's reset: the page shows what it discarded and what is seen
        "strings": strings.table,
        "runs": [],
        "paired": [],
        "sets": {HARMFUL: {"ids": items.ids, "requests": items.requests, "categories": items.categories}},
        "columns": [column],
    }


def _sampled_from(sample: Path, column: Mapping[str, Any], strings: _Strings,
                  folder: Path) -> dict[tuple[str, int, int], dict[str, Any]]:
    """The run's continuations, each sampled one among them (a run that lends verdicts is the one the sample was
    drawn from, or a re-judged copy of it)."""
    generations = read_generations(folder)
    for key, index in column["_rows"].items():
        found = generations.get(key)
        if found is None or found["continuation"] != strings.table[column["continuation"][index]]:
            why = "is not in" if found is None else "differs from the one in"
            raise UserError(f"{sample}, row {column['line'][index]}: continuation {label_id(key)} {why} "
                            f"{folder / GENERATIONS_FILE}: give the results directory this sample was drawn from "
                            "(or none)")
    return generations


def _add_categories(inputs: Iterable[str | Path], runs: list[dict[str, Any]], items: _Items) -> None:
    """Each harmful item's categories (the run's --group-by, else PKU harm categories), from the runs' data."""
    from c2_eval_metric.groups import run_groups  # the same groups scores.json's by_group uses

    for source in inputs:
        if not Path(source).is_dir():
            continue
        groups, _ = run_groups(read_config(source))
        for item_id, values in (groups or {}).items():
            index = items.index.get(str(item_id))
            if index is not None and not items.categories[index]:
                items.categories[index] = [str(value) for value in values]


def _check_judge_names(columns: list[dict[str, Any]]) -> None:
    for column in columns:
        column.pop("_rows", None)
        seen: set[str] = set()
        for track in column["judges"]:
            name, number = track["name"], 2
            while track["name"] in seen:  # the same judge twice (the same run given twice): tell them apart
                track["name"] = f"{name} ({number})"
                number += 1
            seen.add(track["name"])


def _label_keys(columns: list[dict[str, Any]]) -> None:
    """The prefix of each run column's label ids (``item/kK/pP``, as c2 eval score --disagreements writes): none
    with one column per item set, else the column's label, so labels of two runs on the same item stay apart."""
    runs = [column for column in columns if "ids" not in column]
    single = all(sum(other["set"] == column["set"] for other in runs) == 1 for column in runs)
    taken: set[tuple[str, str]] = set()
    for column in runs:
        key, number = ("" if single else f"{column['label']}:"), 2
        while (column["set"], key) in taken:
            key = f"{column['label']}#{number}:"
            number += 1
        taken.add((column["set"], key))
        column["key"] = key


def _paired(inputs: Sequence[str | Path], runs: list[dict[str, Any]], columns: list[dict[str, Any]]) -> list[dict]:
    """Paired differences of each later harmful column from the first (their first runs), as c2 eval compare."""
    from c2_eval_metric.compare import paired_vs_first

    directories = [Path(source) for source in inputs if Path(source).is_dir()]
    firsts = [column["runs"][0] for column in columns if column["set"] == HARMFUL and column["runs"]]
    if len(firsts) < 2:
        return []
    dirs = [directories[index] for index in firsts]
    paired = paired_vs_first(dirs)
    calibrated = _calibrated_paired(dirs, paired, [runs[index]["calibrated"] for index in firsts])
    out = []
    for index, (figures, reason), (calibrated_figures, calibrated_reason) in zip(firsts[1:], paired[1:],
                                                                                 calibrated[1:]):
        either = runs[index]["calibrated"] or runs[firsts[0]]["calibrated"]  # else no word of calibration
        out.append({"label": runs[index]["label"], "versus": runs[firsts[0]]["label"], "figures": figures,
                    "reason": reason, "calibrated": calibrated_figures,
                    "calibrated_reason": calibrated_reason if either and figures else None})
    return out


def _calibrated_paired(dirs: Sequence[Path], paired: Sequence[tuple[dict | None, str | None]],
                       blocks: Sequence[Mapping[str, Any] | None]) -> list[tuple[dict | None, str | None]]:
    """The paired differences calibrated with human labels, as c2 eval compare gives them; a calibration that cannot
    be read (c2 view refuses it before it builds the report) is said to be so, without its file's path."""
    from c2_eval_metric.compare import calibrated_vs_first

    try:
        return calibrated_vs_first(dirs, paired, blocks)
    except (KeyError, TypeError, ValueError, AttributeError):
        return [(None, None)] + [(None, "a calibrated.json of these runs cannot be read (c2 eval compare says why)")
                                 for _ in dirs[1:]]
