"""``c2 view``: one self-contained HTML report to browse and label runs' continuations."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    view = subparsers.add_parser(
        "view", help="browse and label continuations in one self-contained HTML file",
        description="Write one HTML file (no network, opens from disk) with each run's Corr@k table, judge and plot, "
        "and every continuation: browse item -> k -> paths, filter (k, category, verdict, judges disagree, unparsed "
        "answers, text), compare runs on the same items side by side, and label paths with the keyboard (l, j/k, "
        "1/0) into a JSONL file for 'c2 judge validate --labels'. Results directories with the same "
        "generations (a run and its 'c2 eval score --results' copies) are shown as one run with each judge's "
        "verdict. Link to an item with report.html#item=ID&k=K. docs/view.md",
    )
    view.add_argument("inputs", nargs="+", metavar="RUN",
                      help="results directories of 'c2 eval run' / 'c2 eval score', or label files (JSONL, e.g. "
                      "the --disagreements output of 'c2 eval score', which open in label mode)")
    view.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write, e.g. report.html")
    view.add_argument("--title", help="the report's title (default: the runs' names)")
    view.set_defaults(handler=_view)


def _view(args: argparse.Namespace) -> int:
    from c2kit.view import build_report

    if not args.out.lower().endswith((".html", ".htm")) or Path(args.out).is_dir():
        raise ValueError(f"--out {args.out!r}: give an .html file name, e.g. report.html")
    report = build_report(args.inputs, args.out, title=args.title)
    print(f"report written to {report.path} ({report.n_paths:,} paths of {report.n_items:,} items, "
          f"{report.megabytes:.1f} MB); open it in a browser. It shows harmful text: share it with care.")
    return 0
