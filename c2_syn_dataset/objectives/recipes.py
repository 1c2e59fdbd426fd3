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

``backtrack`` (Zhang et al., ICLR 2025, "Backtracking Improves Generation Safety", Section 2): SFT rows, the
two terms of its SFT loss (Section 2.1): ``backtrack``, a harmful prefix (C2-Syn's ``opener + " " + cut_i``, i
uniform, always a prefix) followed by the reset token and the safe response, ``x + prefix(y-) -> [RESET] + y+``;
and ``safe``, the bare request and the safe response, ``x -> y+``. Its DPO pairs (Section 2.2,
:func:`backtrack_pair` and :func:`continue_pair`) prefer the reset over continuing a harmful prefix, and going on
over a reset inside a safe answer; every text in them is the build's own.

The draws are seeded per request by the build's seed, like C2-Syn's (:func:`objective_rng`): the same build
gives the same rows, whatever the order or number of requests.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from c2_syn_dataset.cuts import N_CUTS, CutError, make_cuts
from c2kit.backtrack import RESET_TOKEN

# Row kinds: what the trainer does with a row.
RECOVERY = "recovery"  # loss on the response (after the prefix, if any)
MLE = "mle"  # DeRTa's MLE with a harmful response prefix: loss on the response
RTO = "rto"  # DeRTa's transition rows: loss at every position of the prefix, on the response's first token
UTILITY = "utility"  # a benign request and a helpful answer: loss on the answer
BACKTRACK = "backtrack"  # a harmful prefix, then the reset token and the safe response: loss on both
SAFE = "safe"  # the bare request and the safe response (backtracking's second SFT term)
CONTINUE = "continue"  # a DPO pair inside a safe answer: going on is chosen, the reset rejected
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
    reset: bool = False  # its prefixed rows answer the reset token, then the safe response (backtracking)
    bare_rows: bool = False  # one more row per request: the bare request and the safe response


RECIPES = {
    # Utility: 64 benign anchor examples per 16 safety examples in each step (the repository's README command:
    # 4 processes x per_device_train_batch_size 4, anchor_batch_size_per_device 16).
    "recovery-sft": Recipe("recovery-sft", 1 / 2, RECOVERY, False, 4.0,
                           "Qi et al., ICLR 2025, Safety Alignment Should Be Made More Than Just a Few Tokens Deep"),
    # Utility: 60K Evol-Instruct rows beside 3K harmful requests (Section 3.1, "Data").
    "derta": Recipe("derta", 1 / 3, MLE, True, 20.0,
                    "Yuan et al., ACL 2025, Refuse Whenever You Feel Unsafe: Improving Safety in LLMs via "
                    "Decoupled Refusal Training"),
    # Utility: the paper trains on OpenAssistant-2 beside the HH-RLHF harmless subset (Section 3.1) without a fixed
    # ratio to copy; one benign row per request here, each also giving a DPO pair that keeps safe answers going.
    "backtrack": Recipe("backtrack", 0.0, BACKTRACK, False, 1.0,
                        "Zhang et al., ICLR 2025, Backtracking Improves Generation Safety", reset=True,
                        bare_rows=True),
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
    rows = [row(recipe.prefixed_kind, group, prefix, cut, RESET_TOKEN + safe if recipe.reset else safe)]
    if recipe.bare_rows:
        rows.append(row(SAFE, group, "", 0, safe))
    if recipe.transition_rows:
        rows.append(row(RTO, group, f"{group['opener']} {group['responses'][-1]}", FULL_RESPONSE, safe))
    return rows


def row(kind: str, group: dict, prefix: str, cut: int, response: str) -> dict:
    return {"kind": kind, "source_id": group["source_id"], "request": group["prompt"], "prefix": prefix, "cut": cut,
            "response": response}


def backtrack_pair(group: dict, seed: int) -> dict | None:
    """Backtracking's DPO pair for one request (Zhang et al., Section 2.2): after ``opener + " " + cut_i`` (i drawn
    uniformly among the cuts the harmful response goes on after), the reset and the safe response (SR) are chosen
    over the rest of the harmful response (FHR after the cut), the continuation the paper's DPO stage trains
    against. None when no cut leaves harmful text after it."""
    harmful = group["responses"][-1]
    cuts = [(index, cut) for index, cut in enumerate(group["cuts"], start=1)
            if harmful.startswith(cut) and any(char.isalnum() for char in harmful[len(cut):])]
    if not cuts:
        return None
    index, cut = objective_rng("backtrack-dpo", group["source_id"], seed).choice(cuts)
    return pair(BACKTRACK, group["source_id"], group["prompt"], f"{group['opener']} {cut}", index,
                chosen=RESET_TOKEN + group["responses"][0], rejected=harmful[len(cut):])


def continue_pair(utility: dict, seed: int) -> dict | None:
    """The DPO pair that keeps a safe answer going (Zhang et al., Section 2.2: backtracking only when the answer
    is unsafe): the benign ``request`` prefilled with a cut of its answer (C2-Syn's punctuation cuts,
    :func:`c2_syn_dataset.cuts.make_cuts`, i uniform), the rest of the answer chosen over the same rest after a
    reset. The two differ by the reset alone, so the pair lowers the reset's probability where a safe answer stops,
    rather than what follows a reset. None for an answer with too few punctuation marks to cut."""
    answer = utility["response"]
    rng = objective_rng("backtrack-continue", utility["source_id"], seed)
    try:
        cuts = make_cuts(answer, rng).texts
    except CutError:
        return None
    choices = [(index, cut) for index, cut in enumerate(cuts, start=1) if any(c.isalnum() for c in answer[len(cut):])]
    if not choices:
        return None
    index, cut = rng.choice(choices)
    return pair(CONTINUE, utility["source_id"], utility["request"], cut, index, chosen=answer[len(cut):],
                rejected=RESET_TOKEN + answer[len(cut):])


def pair(kind: str, source_id: str, request: str, prefix: str, cut: int, *, chosen: str, rejected: str) -> dict:
    return {"kind": kind, "source_id": source_id, "request": request, "prefix": prefix, "cut": cut,
            "chosen": chosen, "rejected": rejected}
