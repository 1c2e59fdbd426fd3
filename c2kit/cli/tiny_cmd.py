"""``c2 tiny-model``: write a tiny random chat model, built offline, for smoke runs and CPU demos."""

from __future__ import annotations

import argparse

from c2kit.cli.options import add_out_argument, positive_int


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "tiny-model",
        help="build a tiny random-weight chat model offline (smoke tests; its numbers mean nothing)",
        description="Train a small tokenizer on the shipped benchmark text and initialise a small Llama (64 wide, 2 "
        "layers by default) with a ChatML chat template. Nothing is downloaded. Use it to try every command on a "
        "laptop.",
    )
    add_out_argument(parser, "directory to write the model and tokenizer to: a new or empty one, or one holding a "
                     "tiny model (reused)")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed (default: 0)")
    # The tiny-cpu training profile's model is wider (512, one layer): its logits can peak enough for a learned
    # phrase to be sampled. These let one such base be built once and shared by several trainings.
    parser.add_argument("--hidden-size", type=positive_int, default=64,
                        help="hidden size, a multiple of 4 (default: 64)")
    parser.add_argument("--num-layers", type=positive_int, default=2, help="decoder layers (default: 2)")
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
    path = build_tiny_chat_model(args.out, seed=args.seed, hidden_size=args.hidden_size,
                                 num_layers=args.num_layers)
    print(f"tiny smoke model written to {path} (random weights: results made with it mean nothing)")
    return 0
