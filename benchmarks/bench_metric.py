"""Time ``compute_corr`` (Corr@k, Corr_mean and their item-bootstrap intervals) on judgments the size of real runs.

The default sizes: the 500 shipped items x 8 ks x 20 paths (a full C2-Eval run) with 1000 resamples (the
default), then more items and more resamples, to show how each grows. The judgments are random (40% corrected);
building them is not timed. Each size runs ``--repeats`` times, fastest kept.

    python benchmarks/bench_metric.py
    python benchmarks/bench_metric.py --items 500,5000 --resamples 1000,10000 --repeats 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from c2_eval_metric.corr import compute_corr

KS = tuple(range(10, 90, 10))


def judgments(n_items: int, paths: int, seed: int = 0) -> list[tuple[str, int, bool]]:
    """``n_items`` x 8 ks x ``paths`` random verdicts, as ``(item_id, k, corrected)`` rows."""
    flags = np.random.default_rng(seed).random(n_items * len(KS) * paths) < 0.4
    per_item = len(KS) * paths
    return [(f"i{i // per_item}", KS[(i // paths) % len(KS)], bool(flag)) for i, flag in enumerate(flags)]


def fastest_s(rows: list[tuple[str, int, bool]], resamples: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compute_corr(rows, judge="bench", n_bootstrap=resamples)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="500,2000", help="comma-separated item counts (default: 500,2000)")
    parser.add_argument("--resamples", default="1000,10000", help="comma-separated bootstrap sizes")
    parser.add_argument("--paths", type=int, default=20, help="paths per (item, k) (default: 20)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"{'items':>6} {'ks':>3} {'paths':>5} {'judgments':>9} {'resamples':>9} {'seconds':>8} {'us/judgment':>11}")
    for n_items in (int(n) for n in args.items.split(",")):
        rows = judgments(n_items, args.paths)
        compute_corr(rows, judge="bench", n_bootstrap=10)  # first-call set-up out of the timings
        for resamples in (int(n) for n in args.resamples.split(",")):
            seconds = fastest_s(rows, resamples, args.repeats)
            print(f"{n_items:>6} {len(KS):>3} {args.paths:>5} {len(rows):>9} {resamples:>9} {seconds:>8.3f} "
                  f"{1e6 * seconds / len(rows):>11.2f}")


if __name__ == "__main__":
    main()
