"""What readers must be told about a judge's numbers: the keyword judge can be gamed by C2-Syn training.

One text, used by the comparison table and plot of ``c2 eval compare`` / ``c2 train --eval`` and by the cards.
"""

from __future__ import annotations

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

SHORT_GAMING_CAVEAT = ("keyword judge on a C2-Syn-trained adapter: it can be gamed by the training triggers; "
                       "confirm with a model judge")


def is_keyword_judge(name: str) -> bool:
    """True for the offline keyword judges (``keyword-v2``, ``keyword-v3``, ...), whatever their version."""
    return name == "keyword" or name.startswith("keyword-v")
