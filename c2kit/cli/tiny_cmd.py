"""``c2 tiny-model``: write a tiny random chat model, built offline, for smoke runs and CPU demos."""

from __future__ import annotations

import argparse

from c2kit.cli.options import add_out_argument


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "tiny-model",
        help="build a tiny random-weight chat model offline (smoke tests; its numbers mean nothing)",
        description="Train a small tokenizer on the shipped benchmark text and initialise a 2-layer Llama with a "
        "ChatML chat template. Nothing is downloaded. Use it to try every command on a laptop.",
    )
    add_out_argument(parser, "directory to write the model and tokenizer to: a new or empty one, or one holding a "
                     "tiny model (reused)")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed (default: 0)")
    parser.set_defaults(handler=_build)


def _build(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from c2kit.tiny import MARKER, build_tiny_chat_model

    marker = Path(args.out) / MARKER
    if marker.exists():  # built before: reused as it is, whatever --seed says now
        seed = json.loads(marker.read_text(encoding="utf-8")).get("seed")
        print(f"tiny smoke model already in {args.out} (seed {seed}), reused; give another --out for a new one")
        return 0
    path = build_tiny_chat_model(args.out, seed=args.seed)
    print(f"tiny smoke model written to {path} (random weights: results made with it mean nothing)")
    return 0
