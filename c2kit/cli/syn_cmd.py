"""``c2 syn``: build the C2-Syn preference dataset (``build``) and join sharded builds (``merge``)."""

from __future__ import annotations

import argparse

from c2_syn_dataset.settings import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_NEW_TOKENS, BuildSettings, parse_shard
from c2kit.cli.options import (
    add_data_argument,
    add_engine_options,
    add_model_argument,
    add_model_options,
    add_out_argument,
    add_progress_option,
    add_source_options,
    engine_settings,
    positive_int,
)


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(subparsers) -> None:
    syn_parser = subparsers.add_parser("syn", help="C2-Syn: build synthetic course-correction preference data")
    commands = syn_parser.add_subparsers(dest="syn_command", required=True, metavar="SUBCOMMAND")

    build = commands.add_parser(
        "build",
        help="filter a PKU-SafeRLHF-style source, generate SR and SYN_1..4, write ranked groups and pairs",
        description="Select harmful requests (paper filter), cut each harmful response four times, let the "
        "generator (--model) answer the bare request (SR) and continue opener + cut + trigger (SYN_1..4), rank "
        "SR > SYN_1 > ... > SYN_4 > FHR and write all 15 pairs per request as Parquet with a dataset card. "
        "Work is saved per chunk; re-running the same command resumes. With --shard I/N, N processes split "
        "the chunks; the last one to finish (or 'c2 syn merge') writes the dataset.",
    )
    add_data_argument(build, "source of requests and harmful responses: 'c2eval-500' (shipped), a "
                      ".jsonl/.parquet/.csv file, or a Hub dataset id (e.g. PKU-Alignment/PKU-SafeRLHF)", "--source",
                      required=True)
    add_model_argument(build, "the generator: an aligned chat model (Hub id or local path), e.g. "
                       "meta-llama/Llama-2-7b-chat-hf", "--generator")
    add_source_options(build)
    add_model_options(build)
    add_engine_options(build)
    build.add_argument("--limit", type=positive_int, help="keep the first N requests that pass the filter (paper: 50000)")
    build.add_argument("--whole-word", action=argparse.BooleanOptionalAction, default=False,
                       help="question filter on whole words how/what/How/What (paper: substring)")
    build.add_argument("--seed", type=int, default=0, help="seed for steps, openers, triggers and sampling (default: 0)")
    build.add_argument("--max-new-tokens", type=positive_int, default=DEFAULT_MAX_NEW_TOKENS,
                       help=f"new tokens per generation (default: {DEFAULT_MAX_NEW_TOKENS})")
    build.add_argument("--temperature", type=float, default=0.0,
                       help="0 = greedy decoding (default); > 0 samples one seeded path")
    build.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling when --temperature > 0")
    build.add_argument("--chunk-size", type=positive_int, default=DEFAULT_CHUNK_SIZE,
                       help=f"requests per saved part (the unit of resume and sharding; default: {DEFAULT_CHUNK_SIZE})")
    build.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                       help="build only chunks j with j mod N == I (0-based): for Slurm arrays and other schedulers "
                       "(one process per array task, e.g. $SLURM_ARRAY_TASK_ID/8); on one node with several GPUs "
                       "use --engine ray --replicas N instead")
    add_progress_option(build)
    add_out_argument(build, "output directory; load it by its path, e.g. load_dataset('runs/c2-syn', 'pairs') "
                     "(a bare 'c2-syn' is a Hub id to datasets)")
    build.set_defaults(handler=_build)

    merge = commands.add_parser(
        "merge",
        help="join the parts of a sharded build into the final Parquet files and card",
        description="Join the parts of one build, found in one or more --out directories of 'c2 syn build "
        "--shard I/N', into ranked/ and pairs/ Parquet files plus README.md.",
    )
    merge.add_argument("dirs", nargs="+", help="build directories (shards of the same build)")
    add_out_argument(merge, "where to write the dataset (default: the first directory)", required=False)
    merge.set_defaults(handler=_merge)


def _build(args: argparse.Namespace) -> int:
    from c2_syn_dataset.pipeline import run_build

    settings = BuildSettings(
        source=args.data,
        generator=args.model,
        split=args.split,
        column_mapping=args.column_mapping,
        limit=args.limit,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        whole_word=args.whole_word,
        chunk_size=args.chunk_size,
        revision=args.revision,
        adapter=args.adapter,
        load_in_4bit=args.load_in_4bit,
        dtype=args.dtype,
        plain_template=args.plain_template,
        trust_remote_code=args.trust_remote_code,
        batch_tokens=args.batch_tokens,
        engine=engine_settings(args),
    )
    result = run_build(settings, args.out, shard=args.shard, progress=args.progress)
    # Once merged, the card's table (with the empty SRs generated again or dropped); a shard alone has only the
    # selection.
    print(result["table"] if result["merged"] else result["selection"].to_markdown())
    if result["merged"]:
        print(f"{result['n_requests']:,} requests, {result['n_pairs']:,} pairs written to {args.out} "
              f"(load with {_load_hint(args.out)})")
    else:
        index, count = args.shard
        print(f"shard {index}/{count} done ({result['chunks'][0]} of {result['chunks'][1]} chunks); when every "
              f"shard has finished, run: c2 syn merge DIR [DIR ...] --out {args.out}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from c2_syn_dataset.shards import merge_build

    summary = merge_build(args.dirs, args.out)
    out = args.out or args.dirs[0]
    print(summary["table"])
    print(f"{summary['n_requests']:,} requests, {summary['n_pairs']:,} pairs written to {out} "
          f"(load with {_load_hint(out)})")
    return 0


def _load_hint(out: str) -> str:
    """How to load the build from anywhere: by its absolute path (a bare folder name is a Hub id to datasets,
    found only from its parent folder, and offline answered from whatever was cached under that name)."""
    from pathlib import Path

    return f"datasets.load_dataset({str(Path(out).resolve())!r}, 'pairs')"
