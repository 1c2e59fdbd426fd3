"""``c2 harness``: where the C2-Eval tasks for other evaluation harnesses live."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "harness",
        help="C2-Eval in lm-evaluation-harness and Inspect (docs/harnesses.md)",
        description="C2-Eval runs in lm-evaluation-harness (lm_eval --include_path \"$(c2 harness lm-eval-path)\" "
        "--tasks c2_eval --apply_chat_template ...) and in Inspect (inspect eval c2_toolkit/c2_eval --model "
        "c2/MODEL); 'c2 eval import' turns either harness's log into a c2 results directory. docs/harnesses.md.",
    )
    commands = parser.add_subparsers(dest="harness_command", required=True, metavar="SUBCOMMAND")
    path = commands.add_parser("lm-eval-path", help="print the lm-eval task folder (for lm_eval --include_path)")
    path.set_defaults(handler=_lm_eval_path)


def _lm_eval_path(args: argparse.Namespace) -> int:
    from c2kit.harness import lm_eval_path

    print(lm_eval_path())
    return 0
