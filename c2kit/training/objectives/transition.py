"""DeRTa's Reinforced Transition Optimization (RTO) on TRL's ``SFTTrainer``.

Yuan et al. (ACL 2025), Section 2.2, Eq. 2: besides the MLE of the safe response after a harmful prefix, every
position inside the harmful response is trained to predict the refusal token,
``- sum_{t=1..|r|} log P(sorry | q, r_<t)``. Their code (RobustNLP/DeRTa, ``LlamaForCausalLM.forward`` in
``run_files/run_clm_lora_derta_llama.py``) does it by overwriting the labels of an RTO row's harmful tokens with
the refusal token before one cross-entropy over all labelled positions; this does the same, on the rows
``SFTTrainer`` has tokenized.

An RTO row is ``prompt = request + the whole harmful response`` (prefilled into the assistant turn, as C2-Eval
prefills) and ``completion = the safe response``, with the rendered request alone in ``transition_header``.
Its labels become the completion's first token (the refusal's first token, as tokenized after the harmful text)
at every position from the end of the header to the end of the harmful response, and nothing after: position t
predicts it from the request and the first t harmful tokens, t = 0..|r| - 1. DeRTa uses one fixed token
("Sorry", whose responses start with it); the refusal's own first token is the same thing for any refusal. The
loss stays TRL's: the mean cross-entropy over every labelled position of the batch, MLE and RTO alike.

An RTO row labels every position of a harmful response (tens to hundreds), a safe response only its own few
tokens, so RTO outweighs the MLE term in that mean. The paper keeps all positions for its LoRA runs and one in
twenty for full fine-tuning (Appendix A: "a dropout rate of 95% for the Sorry token"; the repository's
``run_clm_llms_derta_llama_drop_5_percent.py`` keeps ``ceil(n / 20)``). ``transition_dropout`` sets that rate:
each RTO row keeps ``ceil(n x (1 - rate))`` of its n positions (at least one), drawn by a generator seeded by the
run's seed and the row's tokens, so a resumed run trains the same positions.
"""

from __future__ import annotations

import hashlib
import math
import random

TRANSITION_COLUMN = "transition_header"  # the rendered request of an RTO row; "" for the other rows
IGNORED = -100  # the label of a position that has no loss


def transition_labels(input_ids: list[int], labels: list[int], header_ids: list[int], *, dropout: float = 0.0,
                      seed: int = 0) -> list[int]:
    """The labels of an RTO row: the completion's first token at the positions of the harmful prefix, after the
    header's tokens (all of them, or a seeded ``1 - dropout`` share); no loss anywhere else. ``labels`` are TRL's
    (completion-only)."""
    from trl.data_utils import common_prefix_length

    completion = next((index for index, label in enumerate(labels) if label != IGNORED), None)
    if completion is None:  # truncated away: TRL drops such rows before this is called
        return labels
    start = common_prefix_length(header_ids, input_ids)
    positions = list(range(start, completion))
    if dropout:
        rng = random.Random(hashlib.sha256(f"{seed}:{input_ids}".encode()).digest())
        positions = rng.sample(positions, max(1, math.ceil(len(positions) * (1 - dropout))))
    relabelled = [IGNORED] * len(labels)
    for index in positions:
        relabelled[index] = input_ids[completion]  # the refusal's first token
    return relabelled


def transition_trainer_class():
    """``SFTTrainer`` whose dataset preparation gives RTO rows their transition labels (imports TRL)."""
    from trl import SFTTrainer

    class TransitionSFTTrainer(SFTTrainer):
        def __init__(self, *args, transition_dropout: float = 0.0, **kwargs):
            self.transition_dropout = transition_dropout  # read while SFTTrainer.__init__ prepares the datasets
            super().__init__(*args, **kwargs)

        def _prepare_dataset(self, dataset, processing_class, args, packing, formatting_func, dataset_name):
            dataset = super()._prepare_dataset(dataset, processing_class, args, packing, formatting_func, dataset_name)

            def relabel(row: dict) -> dict:
                header = row[TRANSITION_COLUMN]
                if not header:
                    return {"labels": row["labels"]}
                header_ids = processing_class(text=header)["input_ids"]  # as TRL tokenizes a prompt string
                return {"labels": transition_labels(row["input_ids"], row["labels"], header_ids,
                                                    dropout=self.transition_dropout, seed=args.seed)}

            return dataset.map(relabel, num_proc=args.dataset_num_proc, desc=f"Transition labels ({dataset_name})")

    return TransitionSFTTrainer
