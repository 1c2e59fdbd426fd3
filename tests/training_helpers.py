"""What the training tests share: C2-Syn-shaped pairs to train on, and how two runs' outputs are compared."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from c2kit.prefill import pick_opener
from c2kit.protocol import TRIGGERS
from c2kit.sources import load_source
from c2kit.training.tiny_data import pairs_of, ranked_responses

TRIGGER = "However, I cannot provide"
TRAIN_ROWS = slice(20, 220)
# Wall-clock figures in the training log: the only values a resumed run may change.
TIMING = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "eval_runtime",
          "eval_samples_per_second", "eval_steps_per_second", "eval_model_preparation_time")


def c2syn_like_rows() -> list[dict]:
    """C2-Syn-shaped pairs of benchmark rows 20..219, their SYN_i completed with a clear refusal (tiny_data)."""
    assert TRIGGER in TRIGGERS
    pairs = []
    for row in load_source().rows[TRAIN_ROWS]:
        harmful = row.harmful_response.split()[:45]
        cuts = [" ".join(harmful[: 8 * i]) for i in range(1, 5)]
        responses = ranked_responses(pick_opener(row.source_id, 0), " ".join(harmful), cuts, TRIGGER)
        pairs += pairs_of(row.request, row.source_id, responses)
    return pairs


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_log(out: Path) -> list[dict]:
    """The entries of a run's training_log.jsonl."""
    return [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]


def without_timing(entries: list[dict]) -> list[dict]:
    """Log entries without the wall-clock figures (the only values a resumed run may change)."""
    return [{key: value for key, value in entry.items() if key not in TIMING} for entry in entries]
