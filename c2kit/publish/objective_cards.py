"""What an adapter's model card says about the objective it was trained with (``c2 train --objective``).

One entry per objective: its method in a sentence, its paper, its loss, what one training example is (a DPO
*pair* of chosen and rejected completions, or an SFT *row*), what using the adapter needs, and how far the keyword
judge can be trusted on it. Every objective ``c2 train`` knows has an entry (a test checks it), so no adapter gets
the card of another objective.
"""

from __future__ import annotations

from dataclasses import dataclass

from c2_syn_dataset.card import CITATION as C2SYN_CITATION
from c2kit.backtrack import RESET_TOKEN
from c2kit.judges.caveats import OBJECTIVE_CAVEATS

# Settings of one objective that the others do not read (c2kit.training.config refuses them set where they do not
# apply, but a saved config lists every key with its default).
PAIR_SELECTION = ("dataset_config", "min_rank_gap", "rank_pairs")  # C2-Syn's pairs config: c2-dpo's data
DPO_SETTINGS = ("beta", "loss_type")
ROW_SETTINGS = ("utility_ratio",)  # the SFT objectives' rows
TRANSITION_SETTINGS = ("transition_dropout",)  # derta's transition term
SFT_STAGE_SETTINGS = ("sft_learning_rate", "sft_num_train_epochs", "sft_max_steps")  # backtrack's first stage


@dataclass(frozen=True)
class ObjectiveCard:
    name: str
    method: str  # what the adapter was trained on, one sentence (Markdown)
    paper: str  # authors, title, venue
    paper_url: str
    loss: str  # Markdown
    example: str  # what one training example is: "pair" (DPO) or "row" (SFT); "row or pair" when it has both
    tags: tuple[str, ...]  # Hub tags of the training method
    judge_caveat: str
    unused_settings: tuple[str, ...] = ()  # training-config keys it does not read, left out of the card's table
    use_note: str = ""  # what using the adapter needs beyond loading it (Markdown), "" when nothing

    @property
    def held_out_heading(self) -> str:
        # metrics.json is the last stage's: backtrack's is its DPO stage's.
        what = {"pair": "DPO metrics on held-out pairs", "row": "SFT metrics on held-out rows"}
        return what.get(self.example, "DPO-stage metrics on held-out pairs")

    @property
    def examples(self) -> str:
        """What it trains on, in the plural: ``pairs``, ``rows``, or ``rows and pairs``."""
        return {"pair": "pairs", "row": "rows"}.get(self.example, "rows and pairs")

    def batch(self, size: int) -> str:
        """``size`` examples per optimizer step, in the objective's unit."""
        if self.example == "row or pair":
            return f"{size} rows (SFT stage) or pairs (DPO stage) per optimizer step"
        return f"{size} {self.example}s per optimizer step"

    @property
    def citation(self) -> str:
        from c2_syn_dataset.objectives.card import CITATIONS

        return CITATIONS.get(self.name, C2SYN_CITATION)


OBJECTIVE_CARDS = {card.name: card for card in (
    ObjectiveCard(
        "c2-dpo",
        "DPO on C2-Syn preference pairs, where earlier corrections are preferred to later ones and any correction "
        "to none",
        "Xu et al., \"Course-Correction: Safety Alignment Using Synthetic Preferences\", EMNLP 2024 Industry Track",
        "https://arxiv.org/abs/2407.16637",
        "DPO (TRL's `DPOTrainer`; `loss_type` and `beta` in the training configuration below) on the chosen and "
        "rejected completions of each pair; the reference model is the base model (the adapter switched off)",
        "pair", ("dpo",), OBJECTIVE_CAVEATS["c2-dpo"].text + " The figure can also be corrected with human labels "
        "(`c2 eval sample`, then `c2 eval calibrate`).", ROW_SETTINGS + TRANSITION_SETTINGS + SFT_STAGE_SETTINGS),
    ObjectiveCard(
        "recovery-sft",
        "supervised fine-tuning on safety recovery examples: a harmful request, the start of a harmful answer (one "
        "of C2-Syn's cuts, or none), then a refusal; mixed with benign utility rows that keep the model answering",
        "Qi et al., \"Safety Alignment Should Be Made More Than Just a Few Tokens Deep\", ICLR 2025",
        "https://arxiv.org/abs/2406.05946",
        "cross-entropy on the response alone (TRL's `SFTTrainer`, completion-only loss): the request and the "
        "harmful prefix are context, not targets",
        "row", ("sft",), OBJECTIVE_CAVEATS["recovery-sft"].text,
        PAIR_SELECTION + DPO_SETTINGS + TRANSITION_SETTINGS + SFT_STAGE_SETTINGS),
    ObjectiveCard(
        "derta",
        "Decoupled Refusal Training: a safe response after a harmful response prefix of random length, and the "
        "refusal's first token at every position inside a harmful response; mixed with benign utility rows",
        "Yuan et al., \"Refuse Whenever You Feel Unsafe: Improving Safety in LLMs via Decoupled Refusal "
        "Training\", ACL 2025",
        "https://arxiv.org/abs/2407.09121",
        "one mean cross-entropy over two kinds of rows (TRL's `SFTTrainer`, completion-only loss, Section 2.2, "
        "Eq. 2): MLE rows train the safe response after a harmful prefix; Reinforced Transition Optimization rows "
        "train every position of a whole harmful response to predict the refusal's first token "
        "(`transition_dropout` in the training configuration below leaves a share of those positions out)",
        "row", ("sft",), OBJECTIVE_CAVEATS["derta"].text, PAIR_SELECTION + DPO_SETTINGS + SFT_STAGE_SETTINGS),
    ObjectiveCard(
        "backtrack",
        f"backtracking: a `{RESET_TOKEN}` token is added to the vocabulary; supervised fine-tuning teaches (request, "
        f"the start of a harmful answer, `{RESET_TOKEN}`, a safe answer), then DPO prefers resetting over "
        "continuing a harmful answer, and going on over resetting inside a safe one",
        "Zhang et al., \"Backtracking Improves Generation Safety\", ICLR 2025",
        "https://arxiv.org/abs/2409.14586",
        f"an SFT stage (TRL's `SFTTrainer`, completion-only loss: cross-entropy on `{RESET_TOKEN}` and the safe "
        "answer after it, and on the safe answer to the bare request), then a DPO stage (TRL's `DPOTrainer`) whose "
        "reference model is the SFT stage's model",
        "row or pair", ("sft", "dpo"), OBJECTIVE_CAVEATS["backtrack"].text, PAIR_SELECTION + TRANSITION_SETTINGS,
        f"The adapter adds the `{RESET_TOKEN}` token and carries its embedding rows: load it with the tokenizer "
        f"of this repository (as above), whose vocabulary has the token; `AutoPeftModelForCausalLM` grows the base "
        "model to it, except under `HF_HUB_OFFLINE=1`, where PEFT does not look for the tokenizer (grow the base "
        "with `resize_token_embeddings(len(tokenizer))` and load it with `PeftModel.from_pretrained`, or use "
        "`c2 eval run --adapter`, which does). At inference, everything the model wrote "
        f"before `{RESET_TOKEN}` is discarded: show the user only the text after the last `{RESET_TOKEN}` (C2-Eval "
        "reads a continuation that holds the token as corrected at the token, and keeps the text after it)."),
)}
