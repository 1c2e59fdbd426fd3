"""How far to trust a judge: its measured agreement with people, cited next to every score it produces.

The figures are ``c2 judge validate`` runs (``c2kit/data/judge_figures.json``; docs/judges.md gives the commands
and the label sets): Cohen's kappa against human labels of *real* model outputs first, then on the shipped set
of continuations written here, which says less. A judge with no figures is named as not validated, with the
command that validates it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIGURES_FILE = Path(__file__).resolve().parent.parent / "data" / "judge_figures.json"
# Set names as a reader meets them in a one-line note.
SHORT_NAMES = {"jbb_judge_comparison": "JailbreakBench", "gptfuzz_evaluate": "GPTFuzz eval",
               "gptfuzz_train": "GPTFuzz train", "pyrit_refusal": "PyRIT refusal", "shipped": "the shipped set"}


@cache
def measured_figures() -> dict[str, Any]:
    """The whole figures file: ``sets`` (what each label set is) and ``judges`` (figures per judge and set)."""
    return json.loads(FIGURES_FILE.read_text(encoding="utf-8"))


def judge_figures(judge: str) -> dict[str, dict[str, Any]]:
    """Figures per label set for ``judge`` (``keyword`` means the current keyword judge); {} when unmeasured."""
    if judge == "keyword":
        from c2kit.judges.keyword import NAME

        judge = NAME
    return measured_figures()["judges"].get(judge, {})


def trust_note(judge: str) -> str:
    """One line: the judge's kappa with people on real outputs, then on the shipped set, or how to measure it."""
    figures = judge_figures(judge)
    if not figures:
        return (f"`{judge}` has not been validated against human labels here: run `c2 judge validate --judge "
                f"{judge} --labels FILE ...` before trusting its numbers (docs/judges.md)")
    sets = measured_figures()["sets"]
    real = [f"{entry['kappa']:.2f} ({SHORT_NAMES.get(name, name)}, n={entry['n']:,})"
            for name, entry in figures.items() if sets.get(name, {}).get("real_outputs")
            and sets[name].get("part_of") not in figures]  # a set's dev and held-out halves: in docs/judges.md
    written = [f"{entry['kappa']:.2f} on {entry['n']} texts written here" for name, entry in figures.items()
               if name in sets and not sets[name]["real_outputs"]]
    parts = [f"kappa with people on real model outputs {', '.join(real)}" if real else
             "not yet validated on real model outputs", *written]
    return f"`{judge}` agreement: " + "; ".join(parts) + " (docs/judges.md)"
