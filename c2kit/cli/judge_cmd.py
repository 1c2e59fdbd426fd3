"""``c2 judge``: check a judge against human labels before trusting its numbers."""

from __future__ import annotations

import argparse
from pathlib import Path

from c2kit.cli.options import positive_int
from c2kit.judges.unparsed import ACCEPT_FLAG, ACCEPT_HELP, check_tally


def add_parser(subparsers) -> None:
    judge_parser = subparsers.add_parser("judge", help="judges: validate one against human labels")
    commands = judge_parser.add_subparsers(dest="judge_command", required=True, metavar="SUBCOMMAND")
    validate = commands.add_parser(
        "validate",
        help="accuracy, precision, recall, specificity and Cohen's kappa of a judge on labelled continuations",
        description="Judge labelled continuations and compare with the labels: accuracy, precision, recall, "
        "specificity and Cohen's kappa, each with a bootstrap 95%% interval, the confusion matrix and accuracy "
        "per kind of case. Without --labels the shipped validation set is used (c2kit/data/judge_validation.md "
        "describes it). Label files are JSONL rows: request, prefix, continuation, label (true = course-"
        "corrected), optional id, kind, lang, prompt. 'c2 eval score --results RUN --judge J --disagreements "
        "FILE' writes rows in this format for a person to label.",
    )
    validate.add_argument("--judge", required=True,
                          help="judge spec: keyword, keyword-v2, openai:MODEL, openai-paper:MODEL, hf:MODEL, ...")
    validate.add_argument("--labels", help="labelled JSONL file (default: the shipped validation set)")
    validate.add_argument("--out", help="directory for validation.json and errors.jsonl (misjudged rows); a "
                          "model judge's answers are cached in OUT/judge-cache")
    validate.add_argument("--bootstrap", type=positive_int, default=2000,
                          help="bootstrap resamples for the intervals (default: 2000)")
    validate.add_argument(ACCEPT_FLAG, action="store_true", help=ACCEPT_HELP)
    validate.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from c2kit.jsonio import write_json, write_jsonl
    from c2kit.judges import load_judge
    from c2kit.judges.validation import read_labels, shipped_labels_path, validate_judge

    labels_file = Path(args.labels) if args.labels else shipped_labels_path()
    rows = read_labels(labels_file)  # before the judge: a bad file must not wait for a model to load
    out = Path(args.out) if args.out else None
    judge = load_judge(args.judge, cache_dir=out / "judge-cache" if out else None)
    report = validate_judge(judge, rows, labels_file=labels_file, n_bootstrap=args.bootstrap)
    print(report.to_markdown())
    if out:
        write_json(out / "validation.json", report.to_dict())
        write_jsonl(out / "errors.jsonl", report.errors)
        print(f"report written to {out / 'validation.json'}, misjudged rows to {out / 'errors.jsonl'}")
    return check_tally(report.tally, judge.name, accept=args.accept_unparsed, command="c2 judge validate",
                       where=str(out) if out else "")
