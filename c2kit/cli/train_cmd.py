"""``c2 train --config YAML [--KEY VALUE ...] [--eval]``: DPO with 4-bit QLoRA on C2-Syn, then C2-Eval.

Every key of the config can be overridden on the command line with its own name (``--max_steps 5``), with
underscores or hyphens (``--learning-rate``), as every ``c2`` flag; values are converted to the key's type. A
boolean key is a bare flag (``--load_in_4bit``, ``--no-load_in_4bit``) that also takes the YAML value
(``--load_in_4bit false``). ``output_dir``, ``model_name_or_path`` and ``dataset`` are ``--out``, ``--model`` and
``--data`` as in the other commands (their key names stay as aliases). ``--eval`` (same as ``--c2eval``) runs
C2-Eval on the base and on the adapter after training and prints the comparison table; a model judge whose
answers were mostly neither yes nor no makes it exit with status 2 after writing, unless ``--accept-unparsed``
(:mod:`c2kit.cli.unparsed`). Re-running the same command resumes an interrupted training run and reuses a
finished one.
"""

from __future__ import annotations

import argparse
import sys
import typing
from pathlib import Path

from c2kit.cli.options import add_progress_option
from c2kit.cli.parser import BoolKeyAction, add_aliased
from c2kit.cli.unparsed import ACCEPT_FLAG, ACCEPT_HELP, check_results
from c2kit.training.config import (ACCELERATE_DIR, PROFILES_DIR, TrainConfig, description, key_help,
                                   shipped_profiles, shipped_yaml_files, type_name)

OVERRIDE_PREFIX = "override:"  # namespace attribute prefix of the per-key options
# The keys every c2 command names the same way (--out, --model, --data); their YAML names stay as aliases.
COMMON_NAMES = {"output_dir": "--out", "model_name_or_path": "--model", "dataset": "--data"}


def add_parser(subparsers) -> None:
    train = subparsers.add_parser(
        "train",
        help="DPO on C2-Syn (or recovery-sft, derta, backtrack) with a 4-bit QLoRA adapter (TRL), optionally C2-Eval "
        "before/after",
        description="Train a LoRA adapter with DPO on C2-Syn pairs (--objective c2-dpo, the default) or with another "
        "objective made from the same C2-Syn build (--objective recovery-sft or derta: SFT; --objective backtrack: "
        "a [RESET] token, SFT then DPO; docs/objectives.md), the base loaded in 4-bit NF4. Settings come "
        "from a profile (one shipped with the package, by name: --list-profiles; or your own YAML file) and any "
        "--KEY VALUE override (a boolean key is a bare flag, --KEY or --no-KEY, or --KEY true|false). --out "
        "receives the adapter, the tokenizer, train_config.yaml, training_log.jsonl/.csv and metrics.json. "
        "Re-running resumes.",
        usage="c2 train --config NAME|YAML [--KEY VALUE ...] [--eval] [--no-progress] [--accept-unparsed]\n"
        "       c2 train --list-profiles",
    )
    train.add_argument("--config", required=True, metavar="NAME|YAML",
                       help=f"a shipped profile's name ({', '.join(shipped_profiles())}) or the path of a YAML file")
    train.add_argument("--list-profiles", action=ListProfilesAction,
                       help="list the shipped profiles and accelerate configs, one line each, with their folder, "
                       "and exit")
    train.add_argument("--eval", action=argparse.BooleanOptionalAction,
                       help="after training, C2-Eval the base and the adapter (same settings) and compare them "
                       "(the c2eval key)")
    add_progress_option(train)
    train.add_argument(ACCEPT_FLAG, action=argparse.BooleanOptionalAction, default=False,
                       help="with --eval: " + ACCEPT_HELP)
    keys = train.add_argument_group("config keys (override the profile)")
    hints = typing.get_type_hints(TrainConfig)
    for key, text in key_help().items():
        names = [COMMON_NAMES[key], f"--{key}"] if key in COMMON_NAMES else [f"--{key}"]
        if hints[key] is bool:
            add_aliased(keys, *names, action=BoolKeyAction, dest=OVERRIDE_PREFIX + key, default=argparse.SUPPRESS,
                        help=text)
        else:
            add_aliased(keys, *names, dest=OVERRIDE_PREFIX + key, default=argparse.SUPPRESS,
                        metavar=type_name(hints[key]).upper().replace(" ", "_"), help=text)
    train.set_defaults(handler=_train)


class ListProfilesAction(argparse.Action):
    """``--list-profiles``: print :func:`profiles_listing` and exit, as ``--help`` does (no ``--config`` needed)."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(profiles_listing())
        parser.exit()


def profiles_listing() -> str:
    """The shipped profiles and accelerate configs, each with the first line of its file, and their folders."""
    def rows(files: dict[str, Path]) -> list[str]:
        width = max(map(len, files))
        return [f"  {name:<{width}}  {description(path)}" for name, path in files.items()]

    return "\n".join([
        "Training profiles (c2 train --config NAME; or give the path of your own YAML file):",
        *rows(shipped_profiles()),
        f"in {PROFILES_DIR} (copy one to start your own; docs/training.md explains every key)",
        "",
        "Accelerate configs for several GPUs (accelerate launch --config_file FOLDER/NAME.yaml ..., docs/training.md):",
        *rows(shipped_yaml_files(ACCELERATE_DIR)),
        f"in {ACCELERATE_DIR}",
    ])


def overrides_from_args(args: argparse.Namespace) -> dict[str, typing.Any]:
    """The ``--KEY VALUE`` options given on the command line (``--eval`` / ``--no-eval`` set ``c2eval``)."""
    overrides = {name[len(OVERRIDE_PREFIX):]: value for name, value in vars(args).items()
                 if name.startswith(OVERRIDE_PREFIX)}
    if args.eval is not None:
        overrides["c2eval"] = "true" if args.eval else "false"
    return overrides


def _train(args: argparse.Namespace) -> int:
    from c2kit.training import load_config, run_before_after, run_training
    from c2kit.judges import load_judge
    from c2kit.models import check_model
    from c2kit.training.config import TINY_MODEL, ConfigError
    from c2kit.training.data import DataError, check_dataset
    from c2kit.training.distributed import check_launch
    from c2kit.training.objectives import get_objective
    from c2kit.training.precision import PrecisionError

    try:
        config = load_config(args.config, overrides_from_args(args))
        objective = get_objective(config.objective)
        check_launch()  # a launch that cannot work is the first mistake to name, before the data it would read
        # Before the training libraries load (tens of seconds): a --model or --data that cannot work costs nothing.
        if config.model_name_or_path != TINY_MODEL:
            check_model(config.model_name_or_path, config.revision)
        check_dataset(config.dataset, config_name=objective.data_config(config), revision=config.dataset_revision)
        if config.c2eval:  # the judges of --eval: a missing judge model or API key now, not after the training
            for spec in (config.c2eval_judge, *config.c2eval_rejudge):
                load_judge(spec).check_available()
        result = run_training(config, progress=args.progress)
    except (ConfigError, DataError, PrecisionError) as error:  # the user's input: a message, not a traceback
        print(f"c2 train: error: {error}", file=sys.stderr)
        return 2
    if not result.main_process:  # another process of a multi-process run: the main one reports and runs C2-Eval
        return 0
    metrics = result.metrics
    for when in ("eval_before", "eval_after"):
        if when in metrics:
            print(f"held-out {when[5:]:>6} training: {objective.held_out_line(metrics[when])}")
    print(f"adapter, tokenizer, config, logs and metrics written to {result.output_dir}")
    if config.c2eval:
        comparison = run_before_after(config, base_model=result.base_model, adapter_dir=result.output_dir,
                                      progress=args.progress)
        print(comparison.table)
        print(comparison.difference_line())
        print(f"comparison written to {comparison.out_dir}")
        for spec, table in comparison.rejudged.items():
            print(f"\nThe same continuations judged by {spec}:\n{table}")
        # Every directory is checked (and warned about), not only up to the first failed judge.
        return max([check_results(path, accept=args.accept_unparsed, command="c2 train")
                    for path in comparison.results_dirs])
    return 0
