"""Argument types and options shared by the ``c2`` commands: the one name each of them has everywhere
(``--model``, ``--data``, ``--out``) and how a model or a source is read."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from c2kit.cli.parser import add_aliased
from c2kit.limits import MAX_INT
from c2kit.models import DTYPES, local_model_dir
from c2kit.paths import output_dir_problem
from c2kit.sources import MAPPABLE_FIELDS, MAPPING_FLAG, parse_column_mapping


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value > MAX_INT:
        raise argparse.ArgumentTypeError(f"expected a positive integer of at most {MAX_INT}, got {text!r}")
    return value


def output_dir(text: str) -> str:
    """A directory to write to; a file at the path (or above it) is refused at parse time, before any work."""
    problem = output_dir_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def add_out_argument(parser, help: str, *aliases: str, required: bool = True) -> None:
    """``--out DIR``: where a command writes (every command calls it that; ``aliases`` are older names)."""
    add_aliased(parser, "--out", *aliases, dest="out", required=required, type=output_dir, metavar="DIR", help=help)


def add_progress_option(parser) -> None:
    """``--progress/--no-progress``: every command that shows progress bars takes it; ``c2``'s main applies it to the
    whole process (:func:`c2kit.quiet.show_progress_bars`), so no bar of the command, however deep, shows."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show progress bars (default: on)")


def add_model_argument(parser, help: str, *aliases: str) -> None:
    """``--model``: the chat model (Hub id or local folder), checked when parsed (:func:`model_source`)."""
    add_aliased(parser, "--model", *aliases, dest="model", required=True, type=model_source, help=help)


def add_data_argument(parser, help: str, *aliases: str, **kwargs) -> None:
    """``--data``: the rows a command reads (a shipped name, a file, a dataset folder or a Hub dataset id)."""
    add_aliased(parser, "--data", *aliases, dest="data", help=help, **kwargs)


def add_column_mapping(parser, flag: str, fields: Sequence[str], example: str, what: str) -> None:
    """``flag FIELD=COLUMN,...``: the columns of a data file (``what``) that hold ``fields``, for a file whose
    columns have other names. Every command that reads a data file takes one, so a schema error can name it."""
    def parse(text: str) -> dict[str, str]:
        try:
            return parse_column_mapping(text, fields, example)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parser.add_argument(flag, type=parse, default={}, metavar="FIELD=COLUMN,...",
                        help=f"{what} whose columns have other names: which column holds each of "
                        f"{', '.join(fields)}, e.g. '{example}' (without an id column, a row's id is its row number)")


def model_source(text: str) -> str:
    """A Hub id or local model folder; a local-looking path that is not there is refused at parse time."""
    try:
        local_model_dir(text, "model")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def adapter_source(text: str) -> str:
    """A Hub id or local PEFT adapter folder; a local-looking path that is not there is refused at parse time."""
    try:
        local_model_dir(text, "adapter")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """``--split`` and ``--column-mapping``: how to read a Hub dataset or a non-PKU source."""
    parser.add_argument("--split", default="train", help="split of a Hub dataset (default: train)")
    add_column_mapping(parser, MAPPING_FLAG, MAPPABLE_FIELDS, "request=question,harmful_response=answer,id=uid",
                       "a source (another dataset than PKU-SafeRLHF)")


def add_model_options(parser: argparse.ArgumentParser, *, presettable: bool = False) -> None:
    """How the ``--model`` is loaded and batched (``presettable``: no default, a --preset may decide)."""
    parser.add_argument("--adapter", type=adapter_source,
                        help="PEFT adapter (Hub id or local path) applied on top of --model")
    parser.add_argument("--revision", help="revision of --model (branch, tag or commit)")
    parser.add_argument("--load-in-4bit", action=argparse.BooleanOptionalAction, default=None if presettable else False,
                        help="load the model in 4-bit NF4 (bitsandbytes)"
                        + (" (default: off, or what --preset sets)" if presettable else " (default: off)"))
    parser.add_argument("--dtype", default=None if presettable else "auto", choices=DTYPES,
                        help="torch dtype of the model weights (default: auto, the checkpoint's own)")
    parser.add_argument("--batch-tokens", type=positive_int,
                        help="tokens in flight per generate call ((prompt + new tokens) x paths); "
                        "default sized from free GPU memory")
    parser.add_argument("--plain-template", action=argparse.BooleanOptionalAction, default=False,
                        help="render with a plain 'User:/Assistant:' format (only for models without a chat template)")
    parser.add_argument("--trust-remote-code", action=argparse.BooleanOptionalAction, default=False,
                        help="allow the model repo to run its own code (off by default)")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and the options of every engine (docs/engines.md), derived from the engines' options
    dataclasses (c2kit.engines.builtin and plug-ins): a field is a flag, its metadata the flag's help."""
    from c2kit.engines.registry import engine_types, flag_of, option_default, option_fields

    engines = engine_types()
    group = parser.add_argument_group("engine (docs/engines.md)")
    group.add_argument("--engine", type=_engine_name, default="transformers", metavar="NAME",
                       help="what generates: " + ", ".join(
                           f"{engine.name}" + (f" ({engine.help})" if engine.help else "") for engine in engines))
    seen: set[str] = set()
    for engine in engines:
        for option in option_fields(engine.options):
            if option.name in seen or not option.metadata.get("cli", True):
                continue
            seen.add(option.name)
            owners = "/".join(e.name for e in engines if any(f.name == option.name for f in option_fields(e.options)))
            meta = option.metadata
            kwargs: dict = {"dest": f"engine_{option.name}", "help": f"--engine {owners}: {meta.get('help', '')}"}
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
            if meta.get("append"):
                kwargs.update(action="append", default=[])
                if isinstance(option_default(option), dict):
                    kwargs["type"] = _key_value(flag_of(option.name))
            else:
                kwargs["default"] = option_default(option)
                kind = type(option_default(option))
                if meta.get("positive"):
                    kwargs["type"] = positive_int
                elif kind in (int, float):
                    kwargs["type"] = kind
            group.add_argument(flag_of(option.name), **kwargs)


def _engine_name(text: str) -> str:
    """A registered engine's name; an unknown one is refused with the available ones (and a typo's fix)."""
    from c2kit.engines import engine_type

    try:
        return engine_type(text).name
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _key_value(flag: str):
    def parse(text: str) -> tuple[str, object]:
        import json

        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"{flag} must look like KEY=VALUE, got {text!r}")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        return key.strip(), parsed

    return parse


def engine_settings(args: argparse.Namespace):
    """The engine settings of parsed ``args`` (``--engine`` and its options), checked."""
    from c2kit.engines import EngineSettings

    prefix = "engine_"
    return EngineSettings.build(args.engine, **{key[len(prefix):]: value for key, value in vars(args).items()
                                                if key.startswith(prefix)})
