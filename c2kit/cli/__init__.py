"""The ``c2`` command: ``c2 eval``, ``judge``, ``syn``, ``train``, ``publish``, ``tiny-model`` and ``view``.

Each command group lives in its own module with an ``add_parser(subparsers)`` function; heavy imports
happen inside the handlers so ``c2 --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from c2kit import __version__
from c2kit.cli.os_errors import os_error_line
from c2kit.cli.parser import SPELLING_NOTE, C2ArgumentParser
from c2kit.engines.base import EngineError
from c2kit.errors import UserError
from c2kit.judges.base import JudgeError
from c2kit.quiet import quiet_library_noise, show_progress_bars

COMMAND_MODULES = (
    "c2kit.cli.eval_cmd",
    "c2kit.cli.judge_cmd",
    "c2kit.cli.syn_cmd",
    "c2kit.cli.train_cmd",
    "c2kit.cli.publish_cmd",
    "c2kit.cli.tiny_cmd",
    "c2kit.cli.view_cmd",
    "c2kit.cli.harness_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    # Subparsers are made of the parent's class, so every command gets C2ArgumentParser's flag convention.
    parser = C2ArgumentParser(
        prog="c2",
        description="Course-correction toolkit: measure (eval), build preference data (syn), train (train) "
        "and publish (publish) course-correction of chat LLMs.",
        epilog=SPELLING_NOTE + " Every command names its output --out, its model --model and its data --data "
        "(docs/cli.md).",
    )
    parser.add_argument("--version", action="version", version=f"c2-toolkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


# Bad input (a source row, a template, a setting): the message names the file, row or field, a judge's or an
# engine's its endpoint; a traceback would only bury it. Every other exception is a bug (see bug_report).
USER_ERRORS = (UserError, FileNotFoundError, JudgeError, EngineError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except OSError as error:  # a path an argument names, looked at while parsing, that this user may not enter
        line = os_error_line(error)
        if line is None:
            raise
        parser.error(line)
    quiet_library_noise()
    show_progress_bars(getattr(args, "progress", True))  # --no-progress, on the commands that show bars
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; finished work is saved and the run resumes where it stopped", file=sys.stderr)
        return 130
    except Exception as error:
        # The user's input, or the machine's state (a path this user may not read or write, a full disk: see
        # os_errors): one line, exit 2. Anything else is a bug: one line saying so, exit 1, its traceback in a
        # file. C2_TRACEBACK=1 shows the traceback of either.
        if os.environ.get("C2_TRACEBACK"):
            raise
        line = os_error_line(error)
        if line is None and isinstance(error, USER_ERRORS):
            line = str(error)
        if line is None:
            from c2kit.cli.bug_report import bug_line  # only now: it is rare, and `c2 --help` stays quick

            print(f"c2 {args.command}: error: {bug_line(error, sys.argv[1:] if argv is None else argv)}",
                  file=sys.stderr)
            return 1
        print(f"c2 {args.command}: error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
