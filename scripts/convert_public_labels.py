"""Convert public human-labelled refusal/jailbreak sets into the judge-validation schema.

Usage: python scripts/convert_public_labels.py SETNAME INPUT_FILE [INPUT_FILE ...] OUTPUT_JSONL [--part dev|heldout]

Each output row is
{"id", "request", "prefix": "", "continuation", "label", "kind", "lang": "en", "source"}
where ``label`` is True when the response refuses or steers away (counts as
course-corrected). The raw files come from third-party repositories; keep them
and the converted output out of this repository.

``--part`` keeps one of two fixed halves of a set, chosen by a seeded hash of each
row's id (:func:`part_of`), so a judge can be built on the ``dev`` half while the
``heldout`` half stays unread; the split depends on nothing but the id.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from c2kit.jsonio import write_jsonl

Row = dict[str, object]
PARTS = ("dev", "heldout")
SPLIT_SEED = "c2-judge-split-1"  # changing it would move rows between the halves: never change it


def part_of(row_id: str) -> str:
    """``dev`` or ``heldout``: which half of its set a row belongs to (SHA-256 of seed and id, even or odd)."""
    digest = hashlib.sha256(f"{SPLIT_SEED}:{row_id}".encode()).digest()
    return PARTS[digest[0] % 2]


def _read_text(path: Path) -> str:
    """Read a text file as UTF-8, falling back to Mac Roman (Excel-on-Mac re-saves)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("mac_roman")


def _records(path: Path, fields: tuple[str, ...], *, comments: bool = False
             ) -> Iterator[tuple[int, dict[str, str]]]:
    """(CSV row number, record) for each data row; a missing column or empty cell names file, row and field.

    The header is row 1. With ``comments``, lines starting with "#" before the header (``# dataset_version=1.2``)
    are skipped and not counted.
    """
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    text = _read_text(path)
    if comments:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines)):])
    for number, record in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        for name in fields:
            if record.get(name) is None:
                raise ValueError(f"{path}, row {number}: field {name!r} is missing")
        yield number, record


def _flag(value: str, path: Path, number: int, name: str) -> bool:
    """A 0/1 label cell as a bool; anything else names file, row and field."""
    if value.strip() not in ("0", "1"):
        raise ValueError(f"{path}, row {number}: field {name!r} must be 0 or 1, got {value!r}")
    return value.strip() == "1"


def _row(set_name: str, rid: str, request: str, response: str, label: bool, kind: str) -> Row:
    return {
        "id": rid,
        "request": request,
        "prefix": "",
        "continuation": response,
        "label": label,
        "kind": kind,
        "lang": "en",
        "source": set_name,
    }


def convert_jbb_judge_comparison(path: Path, stats: Counter[str]) -> Iterator[Row]:
    """JailbreakBench ``judge_comparison`` (JBB-Behaviors), 300 rows.

    Columns: Index, goal, prompt, target_response, human1..3, human_majority and
    four classifier verdicts. ``human_majority`` = 1 means the three human
    annotators (majority) judged the response *jailbroken*, i.e. unsafe content
    that fulfils the harmful goal. The label is harmfulness, not refusal.

    Mapping: label = (human_majority == 0). For these adversarial harmful
    requests a non-jailbroken response is a refusal, a deflection or a
    harmless/off-target answer, all of which count as steering away; a response
    that refuses only after giving harmful content stays label False.

    ``request`` is the attack prompt actually sent (not the goal). Rows whose
    prompt equals the goal are the 100 direct benign prompts (Index 200-299);
    they are XSTest-derived and are excluded (counted as ``excluded_heldout``).
    """
    fields = ("Index", "goal", "prompt", "target_response", "human1", "human2", "human3", "human_majority")
    for number, rec in _records(path, fields):
        prompt, goal = rec["prompt"].strip(), rec["goal"].strip()
        if prompt == goal:
            stats["excluded_heldout"] += 1
            continue
        response = rec["target_response"].strip()
        if not response:
            stats["dropped_empty"] += 1
            continue
        votes = sum(_flag(rec[f"human{i}"], path, number, f"human{i}") for i in (1, 2, 3))
        jailbroken = _flag(rec["human_majority"], path, number, "human_majority")
        agree = votes if jailbroken else 3 - votes
        kind = f"{'jailbroken' if jailbroken else 'not_jailbroken'}-{agree}of3"
        yield _row(
            "jbb_judge_comparison",
            f"jbb-jc-{int(rec['Index']):03d}",
            prompt,
            response,
            not jailbroken,
            kind,
        )


def convert_gptfuzz(path: Path, stats: Counter[str]) -> Iterator[Row]:
    """GPTFuzzer manually labelled responses (``datasets/responses_labeled/*.csv``).

    Columns: question (index into ``datasets/questions/question_list.csv``,
    read from ``INPUT_FILE/../../questions/question_list.csv``), Response, label.
    ``label`` = 1 means the GPTFuzzer authors judged the response *jailbroken*
    (it complies, fully or partly, with the harmful question); 0 means it
    refuses (fully, or plays the jailbreak role but withholds the content).

    Mapping: label = (label == 0). ``request`` is the bare harmful question: the
    jailbreak template that wrapped it is not recorded per row, and the target
    model (Vicuna-7B, gpt-3.5-turbo or Llama-2-7B-chat) is not recorded either.
    """
    questions_path = path.parent.parent / "questions" / "question_list.csv"
    questions = {q["index"].strip(): q["text"] for _, q in _records(questions_path, ("index", "text"))}
    for number, rec in _records(path, ("question", "Response", "label")):
        response = rec["Response"].strip()
        if not response:
            stats["dropped_empty"] += 1
            continue
        if rec["question"].strip() not in questions:
            raise ValueError(f"{path}, row {number}: field 'question' is {rec['question']!r}, which is not an "
                             f"index of {questions_path}")
        jailbroken = _flag(rec["label"], path, number, "label")
        yield _row(
            "gptfuzz",
            f"gptfuzz-{path.stem}-{number - 2:05d}",
            questions[rec["question"].strip()],
            response,
            not jailbroken,
            "jailbroken" if jailbroken else "not_jailbroken",
        )


def convert_pyrit_refusal(path: Path, stats: Counter[str]) -> Iterator[Row]:
    """PyRIT's refusal-scorer evaluation set (``pyrit/datasets/scorer_evals/refusal_scorer/refusal.csv`` and
    ``refusal_extra.csv``, MIT), responses of chat models to harmful and harmless objectives.

    Columns: objective, assistant_response, human_score, data_type, after "#" comment lines (the dataset
    version). ``human_score`` = 1 means a person judged the response a *refusal* (of the objective, fully or by
    steering away), 0 that it answers. Mapping: label = (human_score == 1). Only ``data_type`` "text" rows are
    kept (others are counted as ``dropped_not_text``). The id names the file: ``pyrit-refusal-0000``,
    ``pyrit-refusal_extra-0000``.
    """
    for number, rec in _records(path, ("objective", "assistant_response", "human_score", "data_type"),
                                comments=True):
        if rec["data_type"].strip() != "text":
            stats["dropped_not_text"] += 1
            continue
        response = rec["assistant_response"].strip()
        if not response:
            stats["dropped_empty"] += 1
            continue
        refused = _flag(rec["human_score"], path, number, "human_score")
        yield _row("pyrit_refusal", f"pyrit-{path.stem}-{number - 2:04d}", rec["objective"].strip(), response,
                   refused, "refusal" if refused else "answer")


CONVERTERS: dict[str, Callable[[Path, Counter[str]], Iterator[Row]]] = {
    "jbb_judge_comparison": convert_jbb_judge_comparison,
    "gptfuzz": convert_gptfuzz,
    "pyrit_refusal": convert_pyrit_refusal,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set_name", choices=sorted(CONVERTERS))
    parser.add_argument("input_files", type=Path, nargs="+", metavar="INPUT_FILE",
                        help="one or more files of the set, converted in order into one output")
    parser.add_argument("output_jsonl", type=Path)
    parser.add_argument("--part", choices=PARTS,
                        help="keep one fixed half of the rows, by a seeded hash of each row's id (default: all rows)")
    args = parser.parse_args(argv)

    stats: Counter[str] = Counter()
    try:
        rows = [row for path in args.input_files for row in CONVERTERS[args.set_name](path, stats)]
    except ValueError as error:
        print(f"convert_public_labels: error: {error}", file=sys.stderr)
        return 2
    if args.part:
        kept = [row for row in rows if part_of(str(row["id"])) == args.part]
        stats[f"left_out_not_{args.part}"] = len(rows) - len(kept)
        rows = kept
    args.output_jsonl.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.output_jsonl, rows)

    refusals = sum(1 for r in rows if r["label"])
    summary = {
        "set": args.set_name,
        **({"part": args.part} if args.part else {}),
        "kept": len(rows),
        "label_true": refusals,
        "label_false": len(rows) - refusals,
        **stats,
    }
    print(json.dumps(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
