"""``c2 judge``: check judges against human labels before trusting their numbers."""

from __future__ import annotations

import argparse
from pathlib import Path

from c2kit.cli.options import add_out_argument, add_progress_option, positive_int
from c2kit.cli.unparsed import ACCEPT_FLAG, ACCEPT_HELP, check_tally
from c2kit.errors import UserError

SHIPPED = "shipped"


def add_parser(subparsers) -> None:
    judge_parser = subparsers.add_parser("judge", help="judges: validate them against human labels")
    commands = judge_parser.add_subparsers(dest="judge_command", required=True, metavar="SUBCOMMAND")
    validate = commands.add_parser(
        "validate",
        help="accuracy, precision, recall, specificity and Cohen's kappa of judges on labelled texts",
        description="Judge labelled texts and compare with the labels: accuracy, precision, recall, "
        "specificity and Cohen's kappa, each with a bootstrap 95% interval. With one judge and one label set "
        "it prints the whole report (confusion matrix, accuracy per kind); with several it prints one row per "
        "judge and set. Without --labels the shipped validation set is used (c2kit/data/judge_validation.md "
        "describes it; name it 'shipped' to list it beside other files). Label files are JSONL rows: request, "
        "prefix, continuation, label (true = course-corrected or refused), optional id, kind, lang, prompt. "
        "'c2 eval score --results RUN --judge J --disagreements FILE' writes rows in this format for a person to "
        "label; scripts/convert_public_labels.py converts public human-labelled sets (docs/judges.md).",
    )
    validate.add_argument("--judge", required=True, nargs="+", metavar="JUDGE",
                          help="one or more judge specs: keyword, keyword-v4, keyword-v3, keyword-v2, openai:MODEL, "
                          "openai-paper:MODEL, hf:MODEL, ...")
    validate.add_argument("--labels", nargs="+", metavar="FILE",
                          help=f"one or more labelled JSONL files, each reported as its own set ('{SHIPPED}': the "
                          "shipped validation set, the default)")
    add_out_argument(validate, "directory for validation.json and, per judge and set, the misjudged rows "
                     "(JUDGE--SET.errors.jsonl); a model judge's answers are cached in OUT/judge-cache", required=False)
    validate.add_argument("--bootstrap", type=positive_int, default=2000,
                          help="bootstrap resamples for the intervals (default: 2000)")
    validate.add_argument(ACCEPT_FLAG, action=argparse.BooleanOptionalAction, default=False, help=ACCEPT_HELP)
    add_progress_option(validate)
    validate.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from c2kit.jsonio import write_json, write_jsonl
    from c2kit.judges import load_judge
    from c2kit.judges.registry import check_judge_spec, public_spec
    from c2kit.judges.validation import label_set_name, read_labels, shipped_labels_path, summary_table, validate_judge

    files = [shipped_labels_path() if name == SHIPPED else Path(name) for name in args.labels or [SHIPPED]]
    names = [label_set_name(path) for path in files]
    if len(set(names)) < len(names):
        raise UserError(f"--labels: two files have the same name ({', '.join(names)}); rename one, each set is "
                        "reported under its file name")
    label_sets = [read_labels(path) for path in files]  # before any judge: a bad file must not wait for a model
    for spec in args.judge:
        check_judge_spec(spec)
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    reports, status = [], 0
    for spec in args.judge:
        judge = load_judge(spec, cache_dir=out / "judge-cache" if out else None)
        for path, rows in zip(files, label_sets, strict=True):
            reports.append(validate_judge(judge, rows, labels_file=path, n_bootstrap=args.bootstrap,
                                          progress=args.progress))
            if out:
                stem = f"{public_spec(judge.name).replace('/', '_').replace(':', '_')}--{label_set_name(path)}"
                write_jsonl(out / f"{stem}.errors.jsonl", reports[-1].errors)
        status = max(status, check_tally(judge.tally(), judge.name, accept=args.accept_unparsed,
                                         command="c2 judge validate", where=str(out) if out else ""))
    print(reports[0].to_markdown() if len(reports) == 1 else summary_table(reports))
    if out:
        write_json(out / "validation.json", {"reports": [report.to_dict() for report in reports]})
        print(f"report written to {out / 'validation.json'}, misjudged rows to {out}/*.errors.jsonl")
    return status
