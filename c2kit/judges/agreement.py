"""Agreement between two judges on the same continuations: rate, Cohen's kappa, confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from c2kit.errors import UserError

LABELS = ("corrected", "not_corrected")


@dataclass(frozen=True)
class Agreement:
    """How two judges' verdicts compare.

    ``confusion[a_label][b_label]`` counts items (labels ``corrected``/``not_corrected``; rows: judge a,
    columns: judge b). ``kappa`` is ``None`` when it is undefined: both judges gave every item the same
    single label, so expected agreement is 1 and kappa is 0/0 (agreement is then 1.0).
    """

    n: int
    agreement: float
    kappa: float | None
    confusion: dict[str, dict[str, int]]
    names: tuple[str, str] = ("a", "b")

    def to_dict(self) -> dict[str, Any]:
        return {"judges": list(self.names), "n": self.n, "agreement": self.agreement, "kappa": self.kappa,
                "confusion": {a: dict(row) for a, row in self.confusion.items()}}

    def to_markdown(self) -> str:
        a, b = self.names
        kappa = "undefined (one label everywhere)" if self.kappa is None else f"{self.kappa:.3f}"
        lines = [
            f"Agreement of `{a}` and `{b}` on {self.n} continuations: {self.agreement:.1%}, Cohen's kappa {kappa}",
            "",
            f"| `{a}` \\ `{b}` | corrected | not corrected |",
            "|---|---|---|",
        ]
        for label in LABELS:
            row = self.confusion[label]
            lines.append(f"| {label.replace('_', ' ')} | {row['corrected']} | {row['not_corrected']} |")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Agreement:
        """The inverse of :meth:`to_dict` (extra keys, such as agreement.json's, are ignored)."""
        return cls(n=int(record["n"]), agreement=float(record["agreement"]), kappa=record["kappa"],
                   confusion={a: dict(row) for a, row in record["confusion"].items()},
                   names=tuple(record["judges"]))

    def to_compact_markdown(self) -> str:
        """One line saying who was compared, and a one-row table: agreement, kappa and the four counts."""
        a, b = self.names
        kappa = "undefined" if self.kappa is None else f"{self.kappa:.3f}"
        both, only_a = self.confusion["corrected"]["corrected"], self.confusion["corrected"]["not_corrected"]
        only_b, neither = self.confusion["not_corrected"]["corrected"], self.confusion["not_corrected"]["not_corrected"]
        return "\n".join([
            f"Agreement of `{a}` and `{b}` on {self.n} continuations (counts: judged 'corrected' by both, by one "
            "only, by neither):",
            "",
            f"| agreement | Cohen's kappa | both | only `{a}` | only `{b}` | neither |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {self.agreement:.1%} | {kappa} | {both} | {only_a} | {only_b} | {neither} |",
        ])


def judge_agreement(a: Sequence[bool], b: Sequence[bool], *, names: tuple[str, str] = ("a", "b")) -> Agreement:
    """Compare two judges' verdicts on the same items, in the same order (True = corrected)."""
    if len(a) != len(b):
        raise ValueError(f"judge verdict lists differ in length: {len(a)} vs {len(b)}; they must cover the same items")
    n = len(a)
    if n == 0:
        raise UserError("no verdicts to compare")
    confusion = {row: {col: 0 for col in LABELS} for row in LABELS}
    for x, y in zip(a, b):
        confusion[LABELS[not x]][LABELS[not y]] += 1
    agree = confusion["corrected"]["corrected"] + confusion["not_corrected"]["not_corrected"]
    a_yes, b_yes = sum(map(bool, a)), sum(map(bool, b))
    # Kappa = (p_o - p_e) / (1 - p_e); everything times n^2 keeps it in exact integers until the division.
    expected = a_yes * b_yes + (n - a_yes) * (n - b_yes)
    kappa = None if expected == n * n else (agree * n - expected) / (n * n - expected)
    return Agreement(n=n, agreement=agree / n, kappa=kappa, confusion=confusion, names=names)
