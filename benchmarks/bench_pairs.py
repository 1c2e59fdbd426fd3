"""Benchmark C2-Syn pair building alone: ranked groups -> Parquet pairs, in pairs/s.

Goal: 750K pairs from 50K groups in at most 60 s on a 2-core machine. The groups are synthetic
(random words drawn with the word frequencies of the shipped benchmark responses) with lengths like a real build (128-token generations): SR ~600 characters, SYN_i ~ its
cut plus ~600, FHR ~700. Generating the groups is not timed.

    python benchmarks/bench_pairs.py                 # 50,000 groups -> 750,000 pairs
    python benchmarks/bench_pairs.py --groups 5000   # quick check
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from c2_syn_dataset.pairs import iter_batches, pairs_from_ranked, write_config_files
from c2_syn_dataset.schema import N_PAIRS, RANKED_SCHEMA
from c2kit.tiny import tiny_corpus



def word_frequencies() -> tuple[np.ndarray, np.ndarray]:
    """Words of the shipped benchmark responses and their frequencies, so the text compresses like English."""
    counts = Counter(word for text in tiny_corpus() for word in text.split())
    words, freq = zip(*counts.items())
    return np.array(words), np.array(freq, dtype=np.float64) / sum(freq)


def synthetic_ranked(n_groups: int, seed: int = 0) -> pa.Table:
    """``n_groups`` ranked rows of random text with realistic response lengths."""
    rng = np.random.default_rng(seed)
    # One long random text (~45 MB); each response is a random slice of it, so responses differ like
    # real ones do and Parquet compression sees no unrealistic repeats across requests.
    words, freq = word_frequencies()
    corpus = " ".join(rng.choice(words, size=8_000_000, p=freq))
    limit = len(corpus) - 2_000

    def text(length: int) -> str:
        start = int(rng.integers(0, limit))
        return corpus[start:start + length]

    rows = {name: [] for name in RANKED_SCHEMA.names}
    for index in range(n_groups):
        fhr = text(int(rng.integers(450, 1000)))
        ends = sorted(int(x) for x in rng.choice(np.arange(20, len(fhr)), size=4, replace=False))
        cuts = [fhr[:end] for end in ends]
        syn = [f"Sure, I can help you with that. {cut} but I must advise you that{text(600)}" for cut in cuts]
        rows["source_id"].append(str(index))
        rows["prompt"].append(text(80) + "?")
        rows["responses"].append([text(600), *syn, fhr])
        rows["opener"].append("Sure, I can help you with that.")
        rows["trigger"].append("but I must advise you that")
        rows["cuts"].append(cuts)
        rows["n_marks"].append(40)
        rows["step"].append(10)
    return pa.table(rows, schema=RANKED_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=50_000, help="ranked groups (requests) to turn into pairs")
    args = parser.parse_args()

    print(f"generating {args.groups:,} synthetic ranked groups (not timed) ...")
    ranked = synthetic_ranked(args.groups)
    n_pairs = args.groups * N_PAIRS

    start = time.perf_counter()
    in_memory = sum(pairs_from_ranked(batch).num_rows for batch in iter_batches(ranked, 2_000))
    build_s = time.perf_counter() - start
    assert in_memory == n_pairs

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        files = write_config_files(ranked, tmp, build_id="benchmark")
        write_s = time.perf_counter() - start
        pairs_rows = sum(pq.ParquetFile(Path(tmp) / path).metadata.num_rows for path in files["pairs"])
        pairs_bytes = sum((Path(tmp) / path).stat().st_size for path in files["pairs"])
        ranked_bytes = sum((Path(tmp) / path).stat().st_size for path in files["ranked"])
    assert pairs_rows == n_pairs

    print(f"pairs built in memory:          {n_pairs:,} pairs in {build_s:.1f} s = {n_pairs / build_s:,.0f} pairs/s")
    print(f"ranked + pairs Parquet written: {n_pairs:,} pairs in {write_s:.1f} s = {n_pairs / write_s:,.0f} pairs/s "
          f"(pairs {pairs_bytes / 2**20:,.0f} MiB, ranked {ranked_bytes / 2**20:,.0f} MiB, zstd)")
    if args.groups >= 50_000:
        print(f"goal (750,000 pairs from 50,000 groups in <= 60 s): {'met' if write_s <= 60 else 'MISSED'}")


if __name__ == "__main__":
    main()
