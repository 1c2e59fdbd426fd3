"""Argument types and option groups shared by the ``c2`` commands that load a model or a source."""

from __future__ import annotations

import argparse

from c2kit.models import DTYPES
from c2kit.sources import parse_column_mapping


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def column_mapping(text: str) -> dict[str, str]:
    try:
        return parse_column_mapping(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """``--split`` and ``--column-mapping``: how to read a Hub dataset or a non-PKU source."""
    parser.add_argument("--split", default="train", help="split of a Hub dataset (default: train)")
    parser.add_argument("--column-mapping", type=column_mapping, default={},
                        help="for other datasets: e.g. 'request=question,harmful_response=answer,id=uid'")


def add_model_options(parser: argparse.ArgumentParser, model_flag: str) -> None:
    """How the model named by ``model_flag`` is loaded and batched."""
    parser.add_argument("--adapter", help=f"PEFT adapter (Hub id or local path) applied on top of {model_flag}")
    parser.add_argument("--revision", help=f"revision of {model_flag} (branch, tag or commit)")
    parser.add_argument("--load-in-4bit", action="store_true", help="load the model in 4-bit NF4 (bitsandbytes)")
    parser.add_argument("--dtype", default="auto", choices=DTYPES,
                        help="torch dtype of the model weights (default: auto, the checkpoint's own)")
    parser.add_argument("--batch-tokens", type=positive_int,
                        help="tokens in flight per generate call ((prompt + new tokens) x paths); "
                        "default sized from free GPU memory")
    parser.add_argument("--plain-template", action="store_true",
                        help="render with a plain 'User:/Assistant:' format (only for models without a chat template)")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="allow the model repo to run its own code (off by default)")
