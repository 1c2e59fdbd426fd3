"""What every engine provides, and the shared "one request per path" layer of the vLLM and server engines.

An engine only samples: :func:`c2kit.generation.generate_with_engine` owns the checks, the cache, resume, the
batch loop and the progress bar, so they are the same on every engine. An engine

* plans batches (:meth:`Engine.plan_batches`): the unit that is cached when it finishes;
* samples one batch (:meth:`Engine.generate_batch`): the texts of each prompt's paths and the number of new tokens;
* says what it is (:meth:`Engine.info`, recorded in ``config.json``) and what in it changes outputs
  (:meth:`Engine.cache_identity`, part of every cache key; ``None`` for the default transformers engine, whose
  cache keys stay as they were before engines existed);
* checks on a sample that its tokenizer and chat template agree with the toolkit's (:meth:`Engine.check_parity`).

:class:`PathRequestEngine` is the layer shared by vLLM (in-process or worker) and OpenAI-compatible servers:
every path is one request with ``n=1`` and its own seed :func:`c2kit.generation.path_seed` (a pure function of
(seed, item, k, path)), the prompt goes out as the toolkit's token ids, and the generated token ids come back and
are decoded here with :func:`decode_continuations`, the rule every engine (the transformers one too) decodes by.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from c2kit.backtrack import reset_token_id, special_ids_but_reset, special_reset_id
from c2kit.generation import path_seed, paths_of
from c2kit.prefill import PrefillPrompt


class EngineError(RuntimeError):
    """An engine failed for good (after retries); the message is one line naming the URL and what happened."""


@dataclass(frozen=True)
class PathRequest:
    """One path to sample: the prompt's token ids and the path's own seed."""

    prompt_ids: tuple[int, ...]
    seed: int
    label: str  # "item/k/path", for error messages


@dataclass(frozen=True)
class ParityProbe:
    """One prompt checked against an engine's tokenizer: its rendered text and our ids for that text.

    ``messages`` (``[user, assistant prefix]``) with ``continue_final_message`` also checks the chat template,
    where the engine can render one; ``None`` checks the tokenizer only (judge prompts, plain templates).
    """

    label: str
    text: str
    ids: tuple[int, ...]
    messages: list[dict[str, str]] | None = None


def decode_continuations(tokenizer, prompts_ids: Sequence[Sequence[int]], new_ids: Sequence[Sequence[int]]) -> list[str]:
    """The text of each path's new token ids, decoded the same way on every engine.

    Decoding the new ids alone is wrong for SentencePiece-style tokenizers (Llama-2, Mistral): they drop the
    leading space of a sequence's first word, so "...you that" + " the" would read "...you thatthe". So the new
    ids are decoded after the last prompt token, whose text is cut off again; special tokens (an end of turn,
    padding) are skipped. A path generated as the same ids thus reads the same on every engine.

    The reset token of a backtracking model (:data:`c2kit.backtrack.RESET_TOKEN`) is kept in the text even where the
    tokenizer marks it special: C2-Eval reads a continuation as corrected where it resets.
    """
    decode = _decoder_keeping_reset(tokenizer)
    with_context = decode([[p[-1], *n] for p, n in zip(prompts_ids, new_ids)])
    context = decode([[p[-1]] for p in prompts_ids])
    new_alone = decode([list(n) for n in new_ids])
    return [
        full[len(head):] if full.startswith(head) else alone  # e.g. a multi-byte character split at the boundary
        for full, head, alone in zip(with_context, context, new_alone)
    ]


def _decoder_keeping_reset(tokenizer) -> Callable[[list[list[int]]], list[str]]:
    """``batch_decode`` without special tokens, except a reset token the tokenizer marks special (dropped from the
    ids before decoding instead, so the reset's text stays)."""
    reset_id = special_reset_id(tokenizer)
    if reset_id is None:  # no reset token, or a normal one that skip_special_tokens keeps
        return lambda rows: tokenizer.batch_decode(rows, skip_special_tokens=True)
    dropped = special_ids_but_reset(tokenizer, reset_id)
    return lambda rows: tokenizer.batch_decode([[i for i in row if i not in dropped] for row in rows],
                                               skip_special_tokens=False)


def first_difference(a: Sequence[int], b: Sequence[int]) -> int:
    """Index of the first position where ``a`` and ``b`` differ (the shorter length if one is a prefix)."""
    for index, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return index
    return min(len(a), len(b))


def parity_message(where: str, probe: ParityProbe, theirs: Sequence[int], what: str) -> str:
    """The one-line error of a parity mismatch: where, which prompt, the first differing position."""
    index = first_difference(probe.ids, theirs)
    ours_at = probe.ids[index] if index < len(probe.ids) else "end"
    theirs_at = theirs[index] if index < len(theirs) else "end"
    return (
        f"{where}: the engine's {what} disagrees with the toolkit's on prompt {probe.label}: first difference at "
        f"token {index} (ours {ours_at}, engine {theirs_at}; {len(probe.ids)} vs {len(theirs)} tokens). The engine "
        "must serve the same tokenizer and chat template as --model (same files, same revision)"
    )


class Engine:
    """Base class of the generation engines (see the module docstring)."""

    name = "engine"

    def plan_batches(self, prompts: Sequence[PrefillPrompt], sampling) -> list[list[PrefillPrompt]]:
        raise NotImplementedError

    def generate_batch(self, batch: Sequence[PrefillPrompt], sampling) -> tuple[list[list[str]], int]:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {"name": self.name}

    def cache_identity(self) -> dict[str, Any] | None:
        return None

    def check_parity(self, probes: Sequence[ParityProbe]) -> dict[str, Any]:
        """Raise :class:`EngineError` when the engine would tokenize a probe differently; return a record."""
        return {"checked": 0, "how": "not needed: the toolkit's own tokenizer feeds the model"}

    def close(self) -> None:
        """Release what the engine holds (worker processes, thread pools, the model)."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class PathRequestEngine(Engine):
    """One request per path (``n=1``, the path's own seed), token ids in and out, decoded here.

    Subclasses implement :meth:`_sample`: the generated token ids of each request, in order.
    """

    batch_paths = 256  # paths per planned batch: the unit that is cached when it finishes

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def plan_batches(self, prompts: Sequence[PrefillPrompt], sampling) -> list[list[PrefillPrompt]]:
        """Prompts in their given order, chunked so a batch holds about ``batch_paths`` paths.

        The engine batches continuously on its own; a batch here is only how much work is saved at once.
        """
        batches: list[list[PrefillPrompt]] = []
        size = 0
        for prompt in prompts:
            paths = len(paths_of(prompt, sampling))
            if not batches or size + paths > self.batch_paths:
                batches.append([])
                size = 0
            batches[-1].append(prompt)
            size += paths
        return batches

    def generate_batch(self, batch: Sequence[PrefillPrompt], sampling) -> tuple[list[list[str]], int]:
        requests = [
            PathRequest(tuple(p.prompt_ids), path_seed(sampling.seed, p.item_id, p.k, path), f"{p.item_id}/{p.k}/{path}")
            for p in batch
            for path in paths_of(p, sampling)
        ]
        outputs = self._sample(requests, sampling)
        # Token ids are decoded here; an engine that could only return text (a server without token ids) gave str.
        as_ids = [i for i, out in enumerate(outputs) if not isinstance(out, str)]
        decoded = decode_continuations(self.tokenizer, [requests[i].prompt_ids for i in as_ids],
                                       [outputs[i] for i in as_ids]) if as_ids else []
        texts = [out if isinstance(out, str) else None for out in outputs]
        for i, text in zip(as_ids, decoded):
            texts[i] = text
        n_new = sum(len(out) if not isinstance(out, str) else len(self.tokenizer(out, add_special_tokens=False)["input_ids"])
                    for out in outputs)
        out, start = [], 0
        for prompt in batch:
            n = len(paths_of(prompt, sampling))
            out.append(texts[start:start + n])
            start += n
        return out, n_new

    def _sample(self, requests: Sequence[PathRequest], sampling) -> list[list[int] | str]:
        """The generated token ids of each request, in order (or its text, where an engine gives no ids)."""
        raise NotImplementedError


def sampling_fields(sampling, tokenizer) -> dict[str, Any]:
    """The sampling settings every request carries, explicitly (so no server-side default applies).

    Greedy is temperature 0. ``top_k`` -1 is "off" and ``repetition_penalty`` 1.0 neutral: both are sent even
    then, because vLLM would otherwise apply the model's generation_config.json defaults (e.g. Qwen2's top_k 20).
    A reset logit bias goes as ``logit_bias`` on the reset token's id (``tokenizer``'s), keyed by its text as in
    the OpenAI API; only where it is set.
    """
    if not sampling.do_sample:
        fields = {"temperature": 0.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": sampling.repetition_penalty,
                  "max_tokens": sampling.max_new_tokens}
    else:
        fields = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": sampling.top_k if sampling.top_k > 0 else -1,
            "repetition_penalty": sampling.repetition_penalty,
            "max_tokens": sampling.max_new_tokens,
        }
    if sampling.reset_logit_bias:
        fields["logit_bias"] = {str(reset_token_id(tokenizer)): sampling.reset_logit_bias}
    return fields
