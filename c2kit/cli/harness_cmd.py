"""``c2 harness``: where the C2-Eval tasks for other evaluation harnesses live."""

from __future__ import annotations

import argparse

from c2kit.cli.options import add_out_argument
from c2kit.errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "harness",
        help="C2-Eval in lm-evaluation-harness and Inspect (docs/harnesses.md)",
        description="C2-Eval runs in lm-evaluation-harness (lm_eval --include_path \"$(c2 harness lm-eval-path)\" "
        "--tasks c2_eval --apply_chat_template ...) and in Inspect (inspect eval c2_toolkit/c2_eval --model "
        "c2/MODEL); 'c2 eval import' turns either harness's log into a c2 results directory. docs/harnesses.md.",
    )
    commands = parser.add_subparsers(dest="harness_command", required=True, metavar="SUBCOMMAND")
    path = commands.add_parser("lm-eval-path", help="print the lm-eval task folder (for lm_eval --include_path)",
                               description="Print the folder of the lm-eval task c2_eval shipped in the package, for "
                               "lm_eval --include_path. With --out, copy the task folder there (to edit it or submit "
                               "it to lm-eval) and print that folder instead.")
    add_out_argument(path, "copy the task folder (c2_eval/) into this folder and print it", required=False)
    path.set_defaults(handler=_lm_eval_path)


def _lm_eval_path(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from c2kit.harness import lm_eval_path

    if args.out is None:
        print(lm_eval_path())
        return 0
    target = Path(args.out) / "c2_eval"
    if target.exists():
        raise UserError(f"{target} exists; choose another --out (the copy never replaces files)")
    shutil.copytree(lm_eval_path() / "c2_eval", target, ignore=shutil.ignore_patterns("__pycache__"))
    print(Path(args.out).resolve())
    return 0
