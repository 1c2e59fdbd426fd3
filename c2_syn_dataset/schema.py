"""Column layout of the two C2-Syn configs, defined once for Parquet files, merging and the builder.

``ranked``: one row per request; ``responses`` holds the six responses in rank order, so the list index
is the rank: 0 = SR (the generator's own answer), 1..4 = SYN_1..SYN_4 (corrected after cut 1..4),
5 = FHR (the full harmful response). ``pairs``: all 15 (better, worse) pairs of each request.
"""

from __future__ import annotations

import pyarrow as pa

RANK_NAMES: tuple[str, ...] = ("SR", "SYN_1", "SYN_2", "SYN_3", "SYN_4", "FHR")
N_RANKS = len(RANK_NAMES)
N_PAIRS = N_RANKS * (N_RANKS - 1) // 2  # 15

RANKED_SCHEMA = pa.schema(
    [
        pa.field("source_id", pa.string()),
        pa.field("prompt", pa.string()),
        pa.field("responses", pa.list_(pa.string())),
        pa.field("opener", pa.string()),
        pa.field("trigger", pa.string()),
        pa.field("cuts", pa.list_(pa.string())),
        pa.field("n_marks", pa.int32()),
        pa.field("step", pa.int32()),
    ]
)

PAIRS_SCHEMA = pa.schema(
    [
        pa.field("prompt", pa.string()),
        pa.field("chosen", pa.string()),
        pa.field("rejected", pa.string()),
        pa.field("chosen_rank", pa.int32()),
        pa.field("rejected_rank", pa.int32()),
        pa.field("source_id", pa.string()),
        pa.field("opener", pa.string()),
        pa.field("trigger", pa.string()),
    ]
)

CONFIG_SCHEMAS = {"pairs": PAIRS_SCHEMA, "ranked": RANKED_SCHEMA}
