"""Each objective's data recipe, applied to one C2-Syn request group: which rows it trains on.

A row is ``(request, prefix, response)``: the assistant turn of ``request`` is prefilled with ``prefix`` (``""``:
none) and continues with ``response``. Every prefix is C2-Syn's own: ``opener + " " + cut_i`` with the build's
opener and four punctuation cuts of the harmful response (:mod:`c2_syn_dataset.cuts`), so the harmful context is
the one C2-Syn's SYN_i and C2-Eval's prefills put there. The response is the generator's own answer to the bare
request (C2-Syn's SR, rank 0), generated once and cached by ``c2 syn build``.

``recovery-sft`` (Qi et al., ICLR 2025, "Safety Alignment Should Be Made More Than Just a Few Tokens Deep",
Section 3.1; Unispac/shallow-vs-deep-alignment, ``finetuning_buckets/trainer/trainer.py``
``gen_safety_augmentation_batch``): one safety recovery example per request, with a harmful prefix half of the
time (the repository tosses ``randint(0, 1)`` per example) and the bare request otherwise. The paper cuts at a
uniform 1..100 tokens; here the cut is one of C2-Syn's four, drawn uniformly.

``derta`` (Yuan et al., ACL 2025, "Refuse Whenever You Feel Unsafe", Section 2.2, Eq. 2; RobustNLP/DeRTa,
``data/train/generate_training_data.py``): two rows per request. ``mle``: a harmful prefix of random length
followed by the safe response (no prefix for a third of the requests, as the repository's ``i % 3 == 0``);
``rto``: the whole harmful response as the prefix, where Reinforced Transition Optimization trains every
position to predict the refusal's first token (:mod:`c2kit.training.objectives.transition`).

The draws are seeded per request by the build's seed, like C2-Syn's (:func:`objective_rng`): the same build
gives the same rows, whatever the order or number of requests.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from c2_syn_dataset.cuts import N_CUTS

# Row kinds: what the trainer does with a row.
RECOVERY = "recovery"  # loss on the response (after the prefix, if any)
MLE = "mle"  # DeRTa's MLE with a harmful response prefix: loss on the response
RTO = "rto"  # DeRTa's transition rows: loss at every position of the prefix, on the response's first token
UTILITY = "utility"  # a benign request and a helpful answer: loss on the answer
FULL_RESPONSE = N_CUTS + 1  # the ``cut`` of a row whose prefix is the whole harmful response (C2-Syn's FHR rank)


@dataclass(frozen=True)
class Recipe:
    """How one objective turns a request group into rows."""

    objective: str
    no_prefix_probability: float  # chance that a request's response follows the bare request
    prefixed_kind: str  # the kind of its refusal rows
    transition_rows: bool  # one more row per request whose prefix is the whole harmful response (DeRTa's RTO)
    utility_ratio: float  # the paper's benign utility rows per harmful request
    paper: str  # where the recipe comes from, for cards and docs


RECIPES = {
    # Utility: 64 benign anchor examples per 16 safety examples in each step (the repository's README command:
    # 4 processes x per_device_train_batch_size 4, anchor_batch_size_per_device 16).
    "recovery-sft": Recipe("recovery-sft", 1 / 2, RECOVERY, False, 4.0,
                           "Qi et al., ICLR 2025, Safety Alignment Should Be Made More Than Just a Few Tokens Deep"),
    # Utility: 60K Evol-Instruct rows beside 3K harmful requests (Section 3.1, "Data").
    "derta": Recipe("derta", 1 / 3, MLE, True, 20.0,
                    "Yuan et al., ACL 2025, Refuse Whenever You Feel Unsafe: Improving Safety in LLMs via "
                    "Decoupled Refusal Training"),
}


def objective_rng(objective: str, source_id: str, seed: int) -> random.Random:
    """The random draws of one request for one objective: stable across runs, shards and limits, and a stream of
    its own (C2-Syn's step and trigger draws, :func:`c2_syn_dataset.cuts.request_rng`, are not shifted)."""
    return random.Random(hashlib.sha256(f"c2-objective:{objective}:{seed}:{source_id}".encode()).digest())


def harmful_prefix(opener: str, cuts: list[str], rng: random.Random, no_prefix_probability: float) -> tuple[str, int]:
    """``(prefix, cut)``: ``("", 0)`` with ``no_prefix_probability``, else C2-Syn's ``opener + " " + cut_i`` for a
    uniformly drawn i in 1..4."""
    if rng.random() < no_prefix_probability:
        return "", 0
    index = rng.randrange(len(cuts))
    return f"{opener} {cuts[index]}", index + 1


def request_rows(recipe: Recipe, group: dict, seed: int) -> list[dict]:
    """The rows ``recipe`` makes of one C2-Syn ``ranked`` group (``source_id``, ``prompt``, ``responses``,
    ``opener``, ``cuts``); the group's SR (``responses[0]``) is the safe response."""
    rng = objective_rng(recipe.objective, group["source_id"], seed)
    safe = group["responses"][0]
    prefix, cut = harmful_prefix(group["opener"], list(group["cuts"]), rng, recipe.no_prefix_probability)
    rows = [row(recipe.prefixed_kind, group, prefix, cut, safe)]
    if recipe.transition_rows:
        rows.append(row(RTO, group, f"{group['opener']} {group['responses'][-1]}", FULL_RESPONSE, safe))
    return rows


def row(kind: str, group: dict, prefix: str, cut: int, response: str) -> dict:
    return {"kind": kind, "source_id": group["source_id"], "request": group["prompt"], "prefix": prefix, "cut": cut,
            "response": response}
