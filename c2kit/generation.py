"""Batched, seeded, resumable sampling of continuations for prefilled prompts.

:func:`generate_with_engine` is the engine-independent driver (checks, cache, resume, batch loop, progress) used
by C2-Eval, C2-Syn and the local judges; engines (:mod:`c2kit.engines`: transformers, vLLM, OpenAI-compatible
servers) only sample. :func:`generate_continuations` is the transformers engine through it, described below.

Throughput: every ``generate`` call samples ``num_paths`` continuations of many prompts at once
(``num_return_sequences``), prompts are left-padded and grouped by length (longest first, so an
out-of-memory error shows up in the first batch), and a batch is sized by *tokens in flight*,
``(longest prompt + max_new_tokens) x num_paths`` per prompt: each path holds its own copy of its prompt's
KV cache, so memory, not compute, bounds the batch (SPEC 7). On CUDA out-of-memory the budget is halved
and the remaining prompts are re-planned.

Prompts of their own per path (``opener_per="path"``: the official code drew a new opener for every sample)
are sampled once each (``num_return_sequences=1``) with their path's random stream, batched by tokens in
flight the same way, and cached under their real path index with their own prompt fingerprint.

Reproducibility: torch's global RNG would make a path's sample depend on which other prompts share its
batch, so a resumed run (or another batch size) would sample differently. Instead :class:`SeededSampler`
draws every token by inverse-CDF sampling (in token-id order) with one uniform number per row and step that
is a pure function of ``(seed, item_id, k, path, step)`` (a counter-based integer hash, computed on the
device for all rows at once). The same command twice, a resumed run, and runs with different
``batch_tokens`` therefore use the same random numbers for every path. Limit: the *logits* of a row can
differ in the last bits between batch shapes (padding, kernel choice), which can move a draw that falls
right on a boundary between two tokens; with a fixed batch plan (same prompts and ``batch_tokens``, the
default) the batches, and so the outputs, are identical. A resume re-uses the plan of the full prompt list,
and an out-of-memory back-off changes the plan only from the failing batch on.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessor, LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from c2kit.gen_cache import CachedRow, GenerationCache, prompt_fingerprint, prompt_sha256
from c2kit.prefill import PrefillPrompt
from c2kit.protocol import DEFAULT_MAX_NEW_TOKENS, DEFAULT_PATHS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P

logger = logging.getLogger(__name__)

# Names the sampling scheme; part of cache keys so a change of scheme never serves old rows.
SAMPLER = "inverse-cdf/lowbias32-v1"
CPU_BATCH_TOKENS = 32_768  # CPU: compute-bound; bigger batches only add padding waste
MIN_BATCH_TOKENS = 256
# KV cache is what grows with tokens in flight; x2 leaves room for activations, logits and cache copies.
KV_OVERHEAD = 2.0
FREE_MEMORY_FRACTION = 0.9


@dataclass(frozen=True)
class SamplingConfig:
    """How continuations are sampled (paper defaults: 20 paths, 32 new tokens, T 0.8, top-p 0.7)."""

    num_paths: int = DEFAULT_PATHS
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    do_sample: bool = True
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    seed: int = 0
    top_k: int = 0  # 0 = off (the paper used none)
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        if self.num_paths < 1 or self.max_new_tokens < 1:
            raise ValueError("num_paths and max_new_tokens must be at least 1")
        if not self.do_sample and self.num_paths != 1:
            raise ValueError("greedy decoding (do_sample=False) gives one path per prompt; set num_paths=1")
        problems = []
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            problems.append(f"temperature must be a finite number > 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.top_k < 0:
            problems.append(f"top_k must be >= 0 (0: off), got {self.top_k!r}")
        if not (math.isfinite(self.repetition_penalty) and self.repetition_penalty > 0):
            problems.append(f"repetition_penalty must be a finite number > 0, got {self.repetition_penalty!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Continuation:
    """One sampled path: the text generated after the prompt (special tokens removed)."""

    item_id: str
    k: int
    path: int
    text: str


def cache_key(
    identity: dict, chat_template_sha256: str, prefix_mode: str, sampling: SamplingConfig, opener_per: str = "item"
) -> dict:
    """The :class:`~c2kit.gen_cache.GenerationCache` key of SPEC 7 (the seed is inside ``sampling``)."""
    return {
        "model": identity,
        "chat_template_sha256": chat_template_sha256,
        "prefix_mode": prefix_mode,
        "opener_per": opener_per,
        "sampling": sampling.as_dict(),
        "sampler": SAMPLER,
    }


# ---------------------------------------------------------------------------------------------------------
# Seeded sampling


_MASK32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, constant: int) -> torch.Tensor:
    """``x * constant mod 2**32`` in int64 without signed overflow (split the constant in 16-bit halves)."""
    low = x * (constant & 0xFFFF)
    high = ((x * (constant >> 16)) & 0xFFFF) << 16
    return (low + high) & _MASK32


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 integer hash (C. Wellons): full avalanche on 32-bit values held in int64."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def path_key(seed: int, item_id: str, k: int, path: int) -> tuple[int, int]:
    """Two 32-bit words naming one path's random stream."""
    digest = hashlib.sha256(f"{seed}\0{item_id}\0{k}\0{path}".encode()).digest()
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little")


def uniform_draws(keys: torch.Tensor, step: int) -> torch.Tensor:
    """One uniform number in (0, 1) per row, a pure function of (row key, step).

    ``keys`` is an int64 tensor (rows, 2) of :func:`path_key` words; the result is float32 (rows, 1).
    """
    bits = _mix32(_mix32(_mix32(keys[:, :1]) ^ keys[:, 1:]) ^ step)
    return ((bits >> 8).to(torch.float32) + 0.5) / float(1 << 24)  # 24 bits: what float32 holds exactly


class SeededSampler(LogitsProcessor):
    """Temperature/top-k/top-p, then draw each row's token by inverse CDF with its own uniform number.

    Returns scores that are 0 at the drawn token and -inf elsewhere, so ``generate``'s own multinomial
    draw (run with neutral temperature/top-k/top-p) can only pick that token.
    """

    def __init__(self, keys: torch.Tensor, prompt_length: int, sampling: SamplingConfig) -> None:
        self.keys = keys
        self.prompt_length = prompt_length
        self.warpers = LogitsProcessorList()
        if sampling.temperature != 1.0:
            self.warpers.append(TemperatureLogitsWarper(sampling.temperature))
        if sampling.top_k > 0:
            self.warpers.append(TopKLogitsWarper(sampling.top_k))
        if sampling.top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(sampling.top_p))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.keys.device != scores.device:  # a model split over GPUs puts its head on the last one
            self.keys = self.keys.to(scores.device)
        scores = self.warpers(input_ids, scores)
        cdf = torch.softmax(scores.float(), dim=-1).cumsum(dim=-1)
        target = uniform_draws(self.keys, input_ids.shape[1] - self.prompt_length) * cdf[:, -1:]
        # First token whose cumulative probability reaches the target: never a zero-probability token,
        # since target > 0 and a token with p = 0 does not raise the cumulative sum.
        choice = torch.searchsorted(cdf, target).clamp_(max=scores.shape[-1] - 1)
        drawn = torch.full_like(scores, float("-inf"))
        return drawn.scatter_(1, choice, 0.0)


# ---------------------------------------------------------------------------------------------------------
# Batch planning


def _paths_of(prompt: PrefillPrompt, sampling: SamplingConfig) -> list[int]:
    """The path indices one prompt stands for: all paths, or its own one (``opener_per="path"`` prompts)."""
    return list(range(sampling.num_paths)) if prompt.path is None else [prompt.path]


def _cost(longest_prompt: int, n_prompts: int, sampling: SamplingConfig, per_path: bool = False) -> int:
    return n_prompts * (longest_prompt + sampling.max_new_tokens) * (1 if per_path else sampling.num_paths)


def plan_batches(
    prompts: Sequence[PrefillPrompt], sampling: SamplingConfig, batch_tokens: int
) -> list[list[PrefillPrompt]]:
    """Deterministic batches, longest prompts first, each within ``batch_tokens`` tokens in flight.

    A prompt too long for the budget on its own still gets a batch of its own. Prompts shared by all paths
    (``path`` None, sampled ``num_paths`` times in one call) and one-path prompts (``path`` set, sampled once)
    are planned apart, so a batch holds only one kind.
    """
    batches: list[list[PrefillPrompt]] = []
    for per_path in (False, True):
        ordered = sorted(
            (p for p in prompts if (p.path is not None) == per_path),
            key=lambda p: (-len(p.prompt_ids), p.item_id, p.k, p.path or 0),
        )
        first = len(batches)
        for prompt in ordered:
            if len(batches) > first and _cost(
                len(batches[-1][0].prompt_ids), len(batches[-1]) + 1, sampling, per_path
            ) <= batch_tokens:
                batches[-1].append(prompt)  # the batch's first prompt is its longest
            else:
                batches.append([prompt])
    return batches


def _input_device(model) -> torch.device:
    return model.get_input_embeddings().weight.device


def default_batch_tokens(model) -> int:
    """Tokens in flight that fit: from free CUDA memory and the KV cache size per token, else a CPU default."""
    device = _input_device(model)
    if device.type != "cuda":
        return CPU_BATCH_TOKENS
    free, _total = torch.cuda.mem_get_info(device)
    fitting = int(free * FREE_MEMORY_FRACTION / (kv_bytes_per_token(model) * KV_OVERHEAD))
    # Rounded down to a power of two: free memory varies a little between runs, and a stable budget keeps
    # the batch plan (and so the last bits of the logits) the same when a run is repeated or resumed.
    return max(MIN_BATCH_TOKENS, 1 << (fitting.bit_length() - 1) if fitting > 0 else 0)


def kv_bytes_per_token(model) -> int:
    """Bytes of KV cache per token: 2 (K and V) x layers x KV heads x head dim x element size."""
    config = model.config.get_text_config()
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    element = model.get_input_embeddings().weight.element_size()
    return 2 * config.num_hidden_layers * kv_heads * head_dim * element


# ---------------------------------------------------------------------------------------------------------
# Generation


def _generate_batch(model, tokenizer, batch: Sequence[PrefillPrompt], sampling: SamplingConfig) -> tuple[list[list[str]], int]:
    """Sample each prompt's paths (all ``num_paths``, or its own one) for ``batch`` in one ``generate`` call.

    Returns the texts per prompt and the number of generated (non-pad) tokens.
    """
    encoded = tokenizer.pad(
        {"input_ids": [list(prompt.prompt_ids) for prompt in batch]}, padding=True, padding_side="left", return_tensors="pt"
    )
    device = _input_device(model)
    input_ids = encoded["input_ids"].to(device)
    b = sampling.num_paths if batch[0].path is None else 1  # plan_batches never mixes the two kinds
    kwargs = {}
    if sampling.do_sample:
        keys = [path_key(sampling.seed, p.item_id, p.k, path) for p in batch for path in _paths_of(p, sampling)]
        sampler = SeededSampler(torch.tensor(keys, dtype=torch.int64, device=device), input_ids.shape[1], sampling)
        # Neutral warpers in generate: SeededSampler already applied the real ones and drew the token.
        kwargs = {"logits_processor": LogitsProcessorList([sampler]), "temperature": 1.0, "top_k": 0, "top_p": 1.0}
    with torch.inference_mode():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=encoded["attention_mask"].to(device),
            do_sample=sampling.do_sample,
            num_return_sequences=b,
            max_new_tokens=sampling.max_new_tokens,
            repetition_penalty=sampling.repetition_penalty,
            pad_token_id=tokenizer.pad_token_id,
            **kwargs,
        )
    new_tokens = output[:, input_ids.shape[1]:]
    texts = decode_new_text(tokenizer, output, input_ids.shape[1])
    n_generated = int((new_tokens != tokenizer.pad_token_id).sum())
    return [texts[i * b:(i + 1) * b] for i in range(len(batch))], n_generated


def decode_new_text(tokenizer, sequences: torch.Tensor, prompt_length: int) -> list[str]:
    """Text of the tokens after ``prompt_length``, decoded in the context of the last prompt token.

    Decoding the new tokens alone is wrong for SentencePiece-style tokenizers (Llama-2, Mistral): they drop
    the leading space of a sequence's first word, so "...you that" + " the" would read "...you thatthe".
    Decoding one prompt token along and cutting its text off keeps the boundary exactly as generated.
    """
    with_context = tokenizer.batch_decode(sequences[:, prompt_length - 1:], skip_special_tokens=True)
    context = tokenizer.batch_decode(sequences[:, prompt_length - 1:prompt_length], skip_special_tokens=True)
    new_alone = tokenizer.batch_decode(sequences[:, prompt_length:], skip_special_tokens=True)
    return [
        full[len(head):] if full.startswith(head) else alone  # e.g. a multi-byte character split at the boundary
        for full, head, alone in zip(with_context, context, new_alone)
    ]


def decode_continuations(tokenizer, prompts_ids: Sequence[Sequence[int]], new_ids: Sequence[Sequence[int]]) -> list[str]:
    """:func:`decode_new_text` for token-id lists of any lengths (what a server or vLLM returns).

    The same rule, so a path generated as the same ids reads the same on every engine: the new ids are decoded
    after the last prompt token, whose text is cut off again; special tokens (an end of turn) are skipped.
    """
    with_context = tokenizer.batch_decode([[p[-1], *n] for p, n in zip(prompts_ids, new_ids)], skip_special_tokens=True)
    context = tokenizer.batch_decode([[p[-1]] for p in prompts_ids], skip_special_tokens=True)
    new_alone = tokenizer.batch_decode([list(n) for n in new_ids], skip_special_tokens=True)
    return [
        full[len(head):] if full.startswith(head) else alone
        for full, head, alone in zip(with_context, context, new_alone)
    ]


def path_seed(seed: int, item_id: str, k: int, path: int) -> int:
    """A 31-bit per-request seed for engines that sample with their own RNG (vLLM, servers).

    The first word of :func:`path_key`, so it is a pure function of (seed, item, k, path): one request per path
    with this seed gives the same tokens alone, in any batch, after a resume, and across processes.
    """
    return path_key(seed, item_id, k, path)[0] & 0x7FFFFFFF


class ReplanBatches(Exception):
    """Raised by an engine's ``generate_batch`` after it lowered its budget (transformers: CUDA out of memory);
    the driver plans the failed batch and the rest again and carries on."""


def generate_continuations(
    model,
    tokenizer,
    prompts: Sequence[PrefillPrompt],
    sampling: SamplingConfig,
    *,
    batch_tokens: int | None = None,
    cache: GenerationCache | None = None,
    progress: bool = True,
    desc: str = "generating",
) -> list[Continuation]:
    """``sampling.num_paths`` continuations per prompt with a transformers ``model``, in prompt order then path order.

    The default engine (:class:`c2kit.engines.transformers_engine.TransformersEngine`) through
    :func:`generate_with_engine`; see there for caching, resume and one-path prompts.
    """
    from c2kit.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(model, tokenizer, batch_tokens=batch_tokens)
    return generate_with_engine(engine, prompts, sampling, cache=cache, progress=progress, desc=desc)


def generate_with_engine(
    engine,
    prompts: Sequence[PrefillPrompt],
    sampling: SamplingConfig,
    *,
    cache: GenerationCache | None = None,
    progress: bool = True,
    desc: str = "generating",
) -> list[Continuation]:
    """``sampling.num_paths`` continuations per prompt through ``engine`` (:class:`c2kit.engines.Engine`).

    What does not depend on the engine lives here: checks, the cache, resume, the batch loop and the progress
    bar. The engine plans batches and samples them.

    A prompt with ``path`` set (``opener_per="path"``, see :func:`c2kit.prefill.build_prefills`) stands for that
    one path only: it is sampled once, with that path's random stream, and gives one continuation.

    With a ``cache``, prompts whose paths are already there for the same prompt tokens are read back instead
    of regenerated, and each finished batch is appended before the next one starts.
    """
    keys = [(p.item_id, p.k, p.path) for p in prompts]
    if len(set(keys)) != len(keys):
        raise ValueError("prompts must have unique (item_id, k) pairs (or (item_id, k, path) for one-path prompts)")
    shared = {(p.item_id, p.k) for p in prompts if p.path is None}
    if any((p.item_id, p.k) in shared for p in prompts if p.path is not None):
        raise ValueError("an (item_id, k) has both a prompt shared by all paths and one-path prompts")
    fingerprints = {key: prompt_fingerprint(p.prompt_ids) for key, p in zip(keys, prompts)}
    done: dict[tuple[str, int, int | None], list[str]] = {}
    if cache is not None:
        for (item_id, k, path), fingerprint in fingerprints.items():
            if path is None:
                texts = cache.lookup(item_id, k, fingerprint, sampling.num_paths)
            else:
                text = cache.get(item_id, k, path, fingerprint)
                texts = None if text is None else [text]
            if texts is not None:
                done[(item_id, k, path)] = texts

    # Plan over all prompts, then drop finished ones, so a resumed run meets the same batches.
    pending = [
        [p for p in batch if (p.item_id, p.k, p.path) not in done] for batch in engine.plan_batches(prompts, sampling)
    ]
    pending = [batch for batch in pending if batch]
    n_paths = {key: len(_paths_of(p, sampling)) for key, p in zip(keys, prompts)}
    bar = tqdm(total=sum(n_paths.values()), initial=sum(n_paths[key] for key in done), unit="path", desc=desc,
               disable=not progress)
    started, n_tokens = time.perf_counter(), 0
    while pending:
        batch = pending.pop(0)
        try:
            texts, generated = engine.generate_batch(batch, sampling)
        except ReplanBatches:
            pending = engine.plan_batches(batch + [p for rest in pending for p in rest], sampling)
            continue
        if cache is not None:
            cache.add(
                CachedRow(p.item_id, p.k, path, fingerprints[(p.item_id, p.k, p.path)], text)
                for p, paths in zip(batch, texts)
                for path, text in zip(_paths_of(p, sampling), paths)
            )
        for prompt, paths in zip(batch, texts):
            done[(prompt.item_id, prompt.k, prompt.path)] = paths
        n_tokens += generated
        bar.update(sum(len(_paths_of(p, sampling)) for p in batch))
        bar.set_postfix(tok_s=f"{n_tokens / (time.perf_counter() - started):.0f}", batch=len(batch))
    bar.close()
    return [
        Continuation(item_id, k, index, text)
        for (item_id, k, path), prompt in zip(keys, prompts)
        for index, text in zip(_paths_of(prompt, sampling), done[(item_id, k, path)])
    ]
