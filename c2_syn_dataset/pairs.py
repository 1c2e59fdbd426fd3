"""Turn ranked groups into pairwise preferences: all 15 pairs (i < j) per request, chosen = better rank.

Built column-wise with Arrow ``take`` on the flattened responses (no Python loop over pairs), and written
in bounded batches so 750K pairs never sit in one Arrow array (string offsets are 32-bit).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from c2_syn_dataset.schema import N_PAIRS, N_RANKS, PAIRS_SCHEMA, RANKED_SCHEMA
from c2kit.errors import UserError

# Pair order within a request: (0,1), (0,2), ..., (0,5), (1,2), ..., (4,5).
CHOSEN_RANKS, REJECTED_RANKS = (ranks.astype(np.int32) for ranks in np.triu_indices(N_RANKS, k=1))
PARQUET_OPTIONS = {"compression": "zstd"}  # zstd finds the 5 copies of each response within a page


def pairs_from_ranked(ranked: pa.Table) -> pa.Table:
    """Pairs table (PAIRS_SCHEMA) of a ranked table (RANKED_SCHEMA), request-major, 15 rows per request."""
    ranked = ranked.select(RANKED_SCHEMA.names)
    n = ranked.num_rows
    responses = pa.concat_arrays(ranked.column("responses").chunks) if n else pa.array([], pa.list_(pa.string()))
    lengths = pc.list_value_length(responses)
    if n and (pc.min(lengths).as_py() != N_RANKS or pc.max(lengths).as_py() != N_RANKS):
        bad = pc.index(pc.not_equal(lengths, N_RANKS), True).as_py()
        raise UserError(f"ranked row {bad} (source_id {ranked.column('source_id')[bad].as_py()!r}) has "
                        f"{lengths[bad].as_py()} responses, expected {N_RANKS}")
    flat = pc.list_flatten(responses)  # respects slicing offsets; index = row * 6 + rank
    row = np.repeat(np.arange(n, dtype=np.int64), N_PAIRS)
    chosen_rank = np.tile(CHOSEN_RANKS, n)
    rejected_rank = np.tile(REJECTED_RANKS, n)
    columns = {
        "prompt": ranked.column("prompt").take(row),
        "chosen": flat.take(row * N_RANKS + chosen_rank),
        "rejected": flat.take(row * N_RANKS + rejected_rank),
        "chosen_rank": pa.array(chosen_rank, pa.int32()),
        "rejected_rank": pa.array(rejected_rank, pa.int32()),
        "source_id": ranked.column("source_id").take(row),
        "opener": ranked.column("opener").take(row),
        "trigger": ranked.column("trigger").take(row),
    }
    return pa.table(columns, schema=PAIRS_SCHEMA)


def iter_batches(ranked: pa.Table, groups_per_batch: int) -> Iterator[pa.Table]:
    """Consecutive row slices of ``ranked`` (zero-copy)."""
    for start in range(0, ranked.num_rows, groups_per_batch):
        yield ranked.slice(start, groups_per_batch)


def file_prefix(build_id: str) -> str:
    """Name prefix of a build's Parquet files: the split, then the build id.

    ``datasets`` caches a local directory by its name and its data file *patterns*, not the files' contents,
    so a directory rebuilt in place with other data would be served from the stale cache; a build id in
    the names (and so in the card's patterns) gives every build its own cache entry.
    """
    return f"train-{build_id[:12]}"


def write_config_files(
    ranked: pa.Table,
    out_dir: str | Path,
    *,
    build_id: str,
    groups_per_file: int = 10_000,
    groups_per_batch: int = 2_000,
) -> dict[str, list[str]]:
    """Write ``ranked/<prefix>-*.parquet`` and ``pairs/<prefix>-*.parquet`` under ``out_dir``.

    ``prefix`` is :func:`file_prefix` of ``build_id``. Each file holds ``groups_per_file`` requests (so a
    pairs file holds 15x as many rows); pairs are built and written ``groups_per_batch`` requests at a
    time. Returns the relative paths per config. Files are written under temporary names and renamed,
    and the ``train-*`` files of an earlier write are removed, so the configs never mix two builds.
    """
    if ranked.num_rows == 0:
        raise UserError("no ranked rows to write")
    out = Path(out_dir)
    n_files = max(1, -(-ranked.num_rows // groups_per_file))
    written: dict[str, list[str]] = {"ranked": [], "pairs": []}
    temporary: list[tuple[Path, Path]] = []
    for index, group in enumerate(iter_batches(ranked, groups_per_file)):
        name = f"{file_prefix(build_id)}-{index:05d}-of-{n_files:05d}.parquet"
        for config in ("ranked", "pairs"):
            final = out / config / name
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{name}.tmp-{os.getpid()}")  # shards finishing together may both merge
            schema = RANKED_SCHEMA if config == "ranked" else PAIRS_SCHEMA
            with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
                for batch in iter_batches(group, groups_per_batch):
                    writer.write_table(batch.select(schema.names) if config == "ranked" else pairs_from_ranked(batch))
            temporary.append((tmp, final))
            written[config].append(f"{config}/{name}")
    # New files in place first, then the old ones go: a crash in between leaves data, never none.
    for tmp, final in temporary:
        tmp.replace(final)
    keep = {final for _, final in temporary}
    for config in ("ranked", "pairs"):
        for stale in (out / config).glob("train-*.parquet"):
            if stale not in keep:
                stale.unlink()
    return written
