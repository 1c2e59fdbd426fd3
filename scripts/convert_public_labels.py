"""Convert public human-labelled refusal/jailbreak sets into the judge-validation schema.

Usage: python scripts/convert_public_labels.py SETNAME INPUT_FILE OUTPUT_JSONL

Each output row is
{"id", "request", "prefix": "", "continuation", "label", "kind", "lang": "en", "source"}
where ``label`` is True when the response refuses or steers away (counts as
course-corrected). The raw files come from third-party repositories; keep them
and the converted output out of this repository.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

Row = dict[str, object]


def _read_text(path: Path) -> str:
    """Read a text file as UTF-8, falling back to Mac Roman (Excel-on-Mac re-saves)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("mac_roman")


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
    for rec in csv.DictReader(io.StringIO(_read_text(path))):
        prompt, goal = rec["prompt"].strip(), rec["goal"].strip()
        if prompt == goal:
            stats["excluded_heldout"] += 1
            continue
        response = rec["target_response"].strip()
        if not response:
            stats["dropped_empty"] += 1
            continue
        votes = sum(int(rec[f"human{i}"]) for i in (1, 2, 3))
        jailbroken = rec["human_majority"].strip() == "1"
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
    questions = {
        int(q["index"]): q["text"] for q in csv.DictReader(io.StringIO(_read_text(questions_path)))
    }
    for n, rec in enumerate(csv.DictReader(io.StringIO(_read_text(path)))):
        response = rec["Response"].strip()
        if not response:
            stats["dropped_empty"] += 1
            continue
        jailbroken = rec["label"].strip() == "1"
        yield _row(
            "gptfuzz",
            f"gptfuzz-{path.stem}-{n:05d}",
            questions[int(rec["question"])],
            response,
            not jailbroken,
            "jailbroken" if jailbroken else "not_jailbroken",
        )


CONVERTERS: dict[str, Callable[[Path, Counter[str]], Iterator[Row]]] = {
    "jbb_judge_comparison": convert_jbb_judge_comparison,
    "gptfuzz": convert_gptfuzz,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set_name", choices=sorted(CONVERTERS))
    parser.add_argument("input_file", type=Path)
    parser.add_argument("output_jsonl", type=Path)
    args = parser.parse_args(argv)

    stats: Counter[str] = Counter()
    rows = list(CONVERTERS[args.set_name](args.input_file, stats))
    args.output_jsonl.parent.mkdir(parents=True, exist_ok=True)
    with args.output_jsonl.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    refusals = sum(1 for r in rows if r["label"])
    summary = {
        "set": args.set_name,
        "kept": len(rows),
        "label_true": refusals,
        "label_false": len(rows) - refusals,
        **stats,
    }
    print(json.dumps(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
