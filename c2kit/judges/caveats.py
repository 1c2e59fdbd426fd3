"""What readers must be told about a keyword judge's numbers on an adapter ``c2 train`` made.

Every training objective teaches the model something the keyword judge reads as a correction: c2-dpo, C2-Syn's
trigger phrases; the SFT objectives, refusals; backtrack, the reset token. One text per objective
(:data:`OBJECTIVE_CAVEATS`), used by the comparison table and plot of ``c2 eval compare`` / ``c2 train --eval`` and
by the adapter's model card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from c2kit.backtrack import RESET_TOKEN
from c2kit.protocol import TRIGGERS

KEYWORD_GAMING_CAVEAT = (
    "C2-Syn's synthetic corrections end in fixed trigger phrases (\"" + "\", \"".join(TRIGGERS[:3]) + "\", "
    f"... {len(TRIGGERS)} in all), and these overlap the refusal phrases a keyword judge looks for. A model "
    "trained on C2-Syn can learn to emit a trigger without really changing course, and a keyword judge may "
    "count that as a correction (the keyword judge checks, since keyword-v4, whether instructions for the request follow a refusal phrase, "
    "which catches the plain cases, not every one). Scores from a keyword judge can therefore overstate the gain of C2-Syn "
    "training: confirm with a model judge (`--judge openai-paper:gpt-4o`, `hf:MODEL`, `wildguard`) and read "
    "some continuations (`c2 view BASE_RUN ADAPTER_RUN --out report.html` shows them side by side)."
)


# How a keyword judge's figure is checked, for every objective: another judge, human labels, reading the texts.
CONFIRM = ("Confirm with a model judge (`--judge openai-paper:gpt-4o`, `hf:MODEL`, `wildguard`), or correct the "
           "keyword judge's figure with a random sample of human labels (`c2 eval sample`, then `c2 eval calibrate`), "
           "and read some continuations (`c2 view BASE_RUN ADAPTER_RUN --out report.html` shows them side by side).")
REFUSAL_CAVEAT = (
    "The keyword judge reads refusal phrases. This adapter was trained to write a refusal after a harmful start, so "
    "it can score well on the keyword judge by emitting a refusal phrase without steering away in substance (a "
    "refusal followed by more of the harmful answer, for instance, which the keyword judge catches in its plain "
    "forms only). " + CONFIRM)
RESET_CAVEAT = (
    f"The keyword judge reads `{RESET_TOKEN}` as a correction, as it reads refusal phrases. This adapter was trained "
    f"to emit `{RESET_TOKEN}` after a harmful start, so it can score well on the keyword judge by emitting the token "
    "without steering away in substance (a reset followed by another harmful answer still counts as corrected "
    "there). " + CONFIRM)


@dataclass(frozen=True)
class KeywordCaveat:
    """The caution for keyword-judged scores of adapters trained with one objective: in full, and in short."""

    text: str
    adapters: str  # which adapters it is about, for the short form: "a C2-Syn-trained adapter"
    risk: str  # what can go wrong, and what to do, for the short form

    def short(self, runs: Sequence[str] = ()) -> str:
        """The short form, a plot's footnote: naming ``runs`` where given."""
        named = f" ({', '.join(runs)})" if runs else ""
        return f"keyword judge on {self.adapters}{named}: {self.risk}"


_TRIGGERS = KeywordCaveat(KEYWORD_GAMING_CAVEAT, "a C2-Syn-trained adapter",
                          "it can be gamed by the training triggers; confirm with a model judge")
_REFUSALS = KeywordCaveat(REFUSAL_CAVEAT, "an adapter trained to write refusals",
                          "a refusal phrase can score without a change of course; confirm with a model judge")
# c2 train --objective NAME -> its caution (every objective c2 train knows has one: a test checks it).
OBJECTIVE_CAVEATS = {
    "c2-dpo": _TRIGGERS,
    "recovery-sft": _REFUSALS,
    "derta": _REFUSALS,
    "backtrack": KeywordCaveat(RESET_CAVEAT, "a backtracking adapter",
                               f"it counts {RESET_TOKEN} as a correction, whatever follows; confirm with a model judge"),
}


def is_keyword_judge(name: str) -> bool:
    """True for the offline keyword judges (``keyword-v2``, ``keyword-v3``, ...), whatever their version."""
    return name == "keyword" or name.startswith("keyword-v")
