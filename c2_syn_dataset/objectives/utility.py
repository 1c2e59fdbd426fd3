"""Benign utility pairs for the SFT objectives: the source's own rows whose responses are both labelled safe.

Why these, and not the shipped ``benign_c2.jsonl``: that file is the over-correction test set of
``c2 eval run --overcorrection``; an adapter trained on it would be measured on its own training data, on the
very axis that shows what a safety objective costs. The source's safe rows come from the same distribution as
C2-Syn's requests (PKU-SafeRLHF: borderline requests answered safely), which is what a model must keep answering
while it learns to stop harmful answers. Qi et al. mix in benign instructions for the same reason (Alpaca with the
aligned model's own answers; their ``llama2_alpaca_anchor.json``), and DeRTa mixes in Evol-Instruct.

A row qualifies when both responses are labelled safe (PKU-SafeRLHF's columns, through the build's column
mapping); its answer is the better one (``better_response_id``, else ``response_0``), and only when the default
keyword judge does not read it as a refusal: a refusal would teach refusing a safe request. The source is read
with the same readers as C2-Syn's (:mod:`c2kit.sources`), in every format they accept. A source given as
(request, harmful response) has no safety labels and so no utility rows; the shipped ``c2eval-500`` has none
either (every row has an unsafe response).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from c2_syn_dataset.objectives.recipes import UTILITY

BETTER = "better_response_id"  # PKU-SafeRLHF's helpfulness preference between the two responses


@dataclass
class UtilityPool:
    """The source's qualifying utility rows, and how many rows fell short of it and why."""

    rows: list[dict] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    def sample(self, n: int, seed: int) -> list[dict]:
        """``n`` rows (all when there are fewer), a seeded draw independent of the order they are asked for."""
        rows = sorted(self.rows, key=lambda item: item["source_id"])
        random.Random(f"c2-objective:utility:{seed}").shuffle(rows)
        return rows[:n]


def utility_pool(source: str, *, split: str = "train", column_mapping: Mapping[str, str] | None = None) -> UtilityPool:
    """The utility rows of ``source`` (module docstring); its unsafe rows are counted, not kept."""
    # The readers every C2-Syn source goes through; load_source itself keeps only rows with an unsafe response.
    from c2kit.sources import _read_records

    mapping = dict(column_mapping or {})
    pool = UtilityPool()
    if "harmful_response" in mapping:
        pool.skipped["no safety labels (request and harmful response only)"] += 1
        return pool
    _, _, records = _read_records(source, split)
    for row_number, record in records:
        reason, utility = _utility_row(record, row_number, mapping)
        if utility is None:
            pool.skipped[reason] += 1
        else:
            pool.rows.append(utility)
    return pool


def _utility_row(record: Mapping[str, Any], row_number: int, mapping: Mapping[str, str]) -> tuple[str, dict | None]:
    """``(reason, None)`` for a row that is no utility pair, ``("", row)`` for one that is."""
    from c2kit.judges.keyword import is_correction
    from c2kit.sources import SourceError, _as_bool

    def column(name: str) -> Any:
        return record.get(mapping.get(name, name))

    try:
        labels = [_as_bool(column(f"is_response_{i}_safe"), mapping.get(f"is_response_{i}_safe",
                                                                         f"is_response_{i}_safe")) for i in (0, 1)]
    except SourceError:
        return "safety label missing or not true/false", None
    if not all(labels):
        return "an unsafe response (a harmful request)", None
    better = column(BETTER)
    answer = column(f"response_{better if better in (0, 1) else 0}")
    request = column("request") if "request" in mapping else column("prompt")
    if not all(isinstance(text, str) and text.strip() for text in (request, answer)):
        return "empty request or answer", None
    if is_correction(answer):
        return "safe answer is a refusal", None
    source_id = str(column("id")) if "id" in mapping else str(row_number - 1)
    return "", {"kind": UTILITY, "source_id": source_id, "request": request, "prefix": "", "cut": 0,
                "response": answer.strip()}
