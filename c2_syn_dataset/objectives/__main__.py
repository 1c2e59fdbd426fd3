"""``python -m c2_syn_dataset.objectives --from C2SYN_BUILD --objective NAME --out DIR``: write an objective's rows.

The rows ``c2 train --objective NAME`` trains on, as a dataset folder with its card (README.md, citing the
objective's paper): ``load_dataset(DIR, NAME)`` reads it; ``c2 publish`` or ``huggingface-cli upload`` can share it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from c2_syn_dataset.objectives.recipes import RECIPES
from c2kit.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m c2_syn_dataset.objectives", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="c2syn", required=True, help="the folder 'c2 syn build --out' wrote")
    parser.add_argument("--objective", required=True, choices=sorted(RECIPES), help="whose rows to write")
    parser.add_argument("--utility-ratio", type=float, default=None,
                        help="benign utility rows per request kept, from the build's source (default: the paper's)")
    parser.add_argument("--out", required=True, help="the dataset folder to write")
    args = parser.parse_args(argv)
    from c2kit.quiet import quiet_library_noise

    quiet_library_noise()
    try:
        data, card = export(args.c2syn, args.objective, args.out, utility_ratio=args.utility_ratio)
    except (OSError, ValueError) as error:
        print(f"python -m c2_syn_dataset.objectives: error: {error}", file=sys.stderr)
        return 2
    print(data.report())
    print(f"{len(data.rows)} rows and their card written to {args.out}; load_dataset({str(args.out)!r}, "
          f"{args.objective!r}, split='train')")
    if data.pairs:
        print(f"{len(data.pairs)} DPO pairs: load_dataset({str(args.out)!r}, {args.objective + '-dpo'!r}, "
              "split='train')")
    return 0


def export(c2syn: str, objective: str, out: str | Path, *, utility_ratio: float | None = None):
    """Write ``objective``'s rows of the build ``c2syn`` to ``out`` (Parquet and card); return the data and card."""
    import pyarrow.parquet as pq

    from c2_syn_dataset.objectives.builder import load_ranked
    from c2_syn_dataset.objectives.card import render_card
    from c2_syn_dataset.objectives.data import PAIRS_SUFFIX, objective_data, read_manifest

    out = Path(out)
    if out.resolve() == Path(c2syn).resolve():
        raise UserError(f"{out} is the C2-Syn build (--from): its card would be replaced; choose another --out")
    manifest = read_manifest(c2syn)
    data = objective_data(objective, load_ranked(c2syn), origin=f"{c2syn} [ranked]", manifest=manifest,
                          utility_ratio=utility_ratio)
    (out / objective).mkdir(parents=True, exist_ok=True)
    pq.write_table(data.table(), out / objective / "train-00000-of-00001.parquet")
    if data.pairs:  # backtrack's DPO pairs, a config of their own
        (out / (objective + PAIRS_SUFFIX)).mkdir(exist_ok=True)
        pq.write_table(data.pairs_table(), out / (objective + PAIRS_SUFFIX) / "train-00000-of-00001.parquet")
    card = render_card(data, manifest)
    card.save(str(out / "README.md"))
    return data, card


if __name__ == "__main__":
    sys.exit(main())
