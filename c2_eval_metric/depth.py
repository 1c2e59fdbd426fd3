"""Depth curves: how many items each k stands on, and how many were too short for it.

Deep prefixes (``--mode tokens``, k up to 500 tokens; default k = 8, 16, 32, 64, 128, 256, 500, log-spaced)
run past the end of many harmful responses. An item whose harmful response is shorter than k is *short* at k:

* ``tokens`` mode: it is **skipped** at that k (no prompt, no paths), so Corr@k stands on the items long enough
  for k; it still counts at the smaller k values it reaches;
* ``words`` mode (the paper's rule): the prefix is the whole opener + response, and the item stays in Corr@k.

Either way the counts are written to ``scores.json`` (``n_items_at_k``: items Corr@k stands on; ``n_short_at_k``:
items shorter than k; ``short_items``: what was done with them), shown in summary.md and next to each point of
the Corr@k plot. ``n_items_at_k`` is also computed for any results directory from its judgments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SHORT_RULES = {"tokens": "skipped at that k", "words": "kept with the whole response (paper rule)"}


def items_at_k(judgments: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """``{"k": number of items with at least one judged path at k}``, k ascending."""
    items: dict[int, set] = {}
    for row in judgments:
        items.setdefault(int(row["k"]), set()).add(row["item_id"])
    return {str(k): len(items[k]) for k in sorted(items)}


def depth_counts(prompts: Sequence, item_ids: Sequence[str], ks: Sequence[int], mode: str) -> dict[str, Any]:
    """Per-k counts from the prompts :func:`c2kit.prefill.build_prefills` made for ``item_ids``.

    Returns ``{"n_short_at_k": {...}, "short_items": rule, "unit": "tokens"|"words",
    "response_length": {"min", "median", "max"}}``; in tokens mode an item with no prompt at some k was
    shorter than k.
    """
    lengths: dict[str, int] = {}
    present: dict[int, set] = {k: set() for k in ks}
    for prompt in prompts:
        if prompt.response_length is not None:
            lengths[prompt.item_id] = prompt.response_length
        present.setdefault(prompt.k, set()).add(prompt.item_id)
    short = {}
    for k in sorted(set(ks)):
        if mode == "tokens":
            short[str(k)] = sum(1 for item in item_ids if item not in present[k])
        else:
            short[str(k)] = sum(1 for item in item_ids if lengths.get(item, k) < k)
    known = sorted(lengths.values())
    summary = ({"min": known[0], "median": known[len(known) // 2], "max": known[-1]} if known else None)
    return {"n_short_at_k": short, "short_items": SHORT_RULES.get(mode, SHORT_RULES["words"]),
            "unit": "tokens" if mode == "tokens" else "words", "response_length": summary}


def depth_markdown(n_items_at_k: Mapping[str, int], depth: Mapping[str, Any] | None) -> str:
    """Summary section: items per k (and short items per k when known)."""
    lines = ["## Items per k", ""]
    if depth:
        unit = depth.get("unit", "words")
        lines += [f"An item whose harmful response has fewer than k {unit} is short at k; short items are "
                  f"{depth['short_items']}.", "", "| k | items Corr@k stands on | items shorter than k |",
                  "|---:|---:|---:|"]
        for k in sorted(set(n_items_at_k) | set(depth["n_short_at_k"]), key=int):
            lines.append(f"| {k} | {n_items_at_k.get(k, 0)} | {depth['n_short_at_k'].get(k, 0)} |")
        if depth.get("response_length"):
            r = depth["response_length"]
            lines += ["", f"Harmful response length ({unit}{' incl. opener' if unit == 'words' else ''}): "
                          f"min {r['min']}, median {r['median']}, max {r['max']}."]
    else:
        lines += ["| k | items Corr@k stands on |", "|---:|---:|"]
        lines += [f"| {k} | {n} |" for k, n in n_items_at_k.items()]
    return "\n".join(lines)
