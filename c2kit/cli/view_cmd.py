"""``c2 view``: one self-contained HTML report to browse and label runs' continuations."""

from __future__ import annotations

import argparse
from pathlib import Path

from c2kit.paths import output_dir_problem


def add_parser(subparsers) -> None:
    view = subparsers.add_parser(
        "view", help="browse and label continuations in one self-contained HTML file",
        description="Write one HTML file (no network, opens from disk) with each run's Corr@k table, judge and plot, "
        "and every continuation: browse item -> k -> paths, filter (k, category, verdict, judges disagree, unparsed "
        "answers, text), compare runs on the same items side by side, and label paths with the keyboard (l, j/k, "
        "1/0) into a JSONL file for 'c2 judge validate --labels'. A labelling sample of 'c2 eval sample' opens "
        "blind: its continuations in a random order, no judge's verdict shown before a continuation is labelled "
        "(give the run it was drawn from too, to see its judges' verdicts after), saved whole for 'c2 eval "
        "calibrate'. Results directories with the same "
        "generations (a run and its 'c2 eval score --results' copies) are shown as one run with each judge's "
        "verdict. Link to an item with report.html#item=ID&k=K. docs/view.md",
    )
    view.add_argument("inputs", nargs="+", metavar="RUN",
                      help="results directories of 'c2 eval run' / 'c2 eval score', or label files (JSONL, e.g. "
                      "the --disagreements output of 'c2 eval score', which open in label mode), or one labelling "
                      "sample of 'c2 eval sample' (blind label mode) with the results directories it was drawn from")
    view.add_argument("--out", required=True, type=html_file, metavar="FILE",
                      help="the HTML file to write, e.g. report.html")
    view.add_argument("--title", help="the report's title (default: the runs' names)")
    view.set_defaults(handler=_view)


def html_file(text: str) -> str:
    """``--out``: an .html file in a folder that is (or can be made) a folder; refused while parsing, before any
    run is read."""
    path = Path(text).expanduser()
    if not text.lower().endswith((".html", ".htm")) or path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: give an .html file name, e.g. report.html")
    problem = output_dir_problem(path.parent)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _view(args: argparse.Namespace) -> int:
    from c2_eval_metric.consistency import check_results_dir
    from c2kit.view import build_report

    for source in args.inputs:  # the report shows each run's scores.json: refuse one out of step with its verdicts
        if Path(source).is_dir():
            for missing in check_results_dir(source):
                print(f"note: {source}: its scores.json is shown as stored, unchecked (no {missing} to check it "
                      "against)")
    report = build_report(args.inputs, args.out, title=args.title)
    if report.blind is None:
        size = f"{report.n_paths:,} paths of {report.n_items:,} items"
    else:
        judges = report.blind["judges"]
        size = (f"blind label mode: {report.n_paths:,} sampled continuations in a random order, "
                + (("1 judge's" if judges == 1 else f"{judges} judges'") + " verdicts shown on each only once it is "
                   "labelled" if judges else "no judge's verdict"))
    print(f"report written to {report.path} ({size}, {report.megabytes:.1f} MB); open it in a browser. It shows "
          "harmful text: share it with care.")
    if report.blind is not None:
        print("Label every continuation, save the labels, then: c2 eval calibrate RUN --labels LABELS.jsonl")
    return 0
