"""The (item, k) prefixes of C2-Eval as plain rows, for harnesses that render the chat template themselves.

``c2 eval run`` renders each prompt with :func:`c2kit.prefill.build_prefills`; a harness gets the same
request and the same prefix text (the item's opener and the first k words, words mode, one opener per item) and
renders it with the model's template, continuing the assistant turn. Built from the same functions, so the
prompt text, and with the same tokenizer the prompt token ids, are those of ``c2 eval run`` with the same
``--seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from c2kit.errors import UserError
from c2kit.prefill import pick_opener, words_prefix
from c2kit.protocol import DEFAULT_KS
from c2kit.sources import BUNDLED_C2EVAL, load_source


@dataclass(frozen=True)
class PrefillItem:
    """One (item, k) of the benchmark: the request and the prefix the model's answer is made to start with."""

    item_id: str
    k: int
    request: str
    prefix: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prefill_items(ks: Sequence[int] = DEFAULT_KS, *, data: str = BUNDLED_C2EVAL, limit: int | None = None,
                  seed: int = 0) -> list[PrefillItem]:
    """One row per (item, k), items in source order and k ascending within an item (``c2 eval run``'s order)."""
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k <= 0 for k in ks) or len(set(ks)) < len(ks):
        raise UserError(f"k values must be distinct positive integers, got {list(ks)!r}")
    source = load_source(data, limit=limit)
    if not source.rows:
        raise UserError(f"{source.origin}: no usable rows to evaluate")
    rows = []
    for row in source.rows:
        opener = pick_opener(row.source_id, seed)
        response = row.harmful_response
        rows += [PrefillItem(row.source_id, k, row.request, words_prefix(response, k, opener)) for k in sorted(ks)]
    return rows
