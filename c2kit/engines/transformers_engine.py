"""``--engine transformers`` (the default, embedded engine): ``model.generate`` in this process.

Throughput: every ``generate`` call samples ``num_paths`` continuations of many prompts at once
(``num_return_sequences``), prompts are left-padded and grouped by length (longest first, so an
out-of-memory error shows up in the first batch), and a batch is sized by *tokens in flight*,
``(longest prompt + max_new_tokens) x num_paths`` per prompt: each path holds its own copy of its prompt's
KV cache, so memory, not compute, bounds the batch (a 7B model on an H100 ran out of memory at 24 prompts x 20
paths). On CUDA out-of-memory the budget is halved and the driver (:func:`c2kit.generation.generate_with_engine`)
plans the remaining prompts again.

Prompts of their own per path (``opener_per="path"``: the official code drew a new opener for every sample)
are sampled once each (``num_return_sequences=1``) with their path's random stream, batched by tokens in
flight the same way.

Reproducibility: torch's global RNG would make a path's sample depend on which other prompts share its
batch, so a resumed run (or another batch size) would sample differently. Instead :class:`SeededSampler`
draws every token by inverse-CDF sampling (in token-id order) with one uniform number per row and step that
is a pure function of ``(seed, item_id, k, path, step)`` (:func:`c2kit.generation.path_key` words through a
counter-based integer hash, computed on the device for all rows at once). The same command twice, a resumed
run, and runs with different ``batch_tokens`` therefore use the same random numbers for every path. Limit: the
*logits* of a row can differ in the last bits between batch shapes (padding, kernel choice), which can move a
draw that falls right on a boundary between two tokens; with a fixed batch plan (same prompts and
``batch_tokens``, the default) the batches, and so the outputs, are identical. A resume re-uses the plan of the
full prompt list, and an out-of-memory back-off changes the plan only from the failing batch on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from c2kit.backtrack import reset_token_id
from c2kit.engines.base import Engine, decode_continuations
from c2kit.gen_cache import GenerationCache
from c2kit.generation import SAMPLER, Continuation, ReplanBatches, SamplingConfig, generate_with_engine, path_key, paths_of
from c2kit.prefill import PrefillPrompt

logger = logging.getLogger(__name__)

CPU_BATCH_TOKENS = 32_768  # CPU: compute-bound; bigger batches only add padding waste
MIN_BATCH_TOKENS = 256
# KV cache is what grows with tokens in flight; x2 leaves room for activations, logits and cache copies.
KV_OVERHEAD = 2.0
FREE_MEMORY_FRACTION = 0.9


class TransformersEngine(Engine):
    """A loaded transformers model and its tokenizer; ``batch_tokens`` None sizes batches from free memory."""

    name = "transformers"

    def __init__(self, model, tokenizer, *, batch_tokens: int | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.budget = batch_tokens or default_batch_tokens(model)

    def plan_batches(self, prompts: Sequence[PrefillPrompt], sampling: SamplingConfig) -> list[list[PrefillPrompt]]:
        return plan_batches(prompts, sampling, self.budget)

    def generate_batch(self, batch: Sequence[PrefillPrompt], sampling: SamplingConfig) -> tuple[list[list[str]], int]:
        rows = len(paths_of(batch[0], sampling))
        try:
            # Looked up at call time (tests count and interrupt batches by patching it).
            return _generate_batch(self.model, self.tokenizer, batch, sampling)
        except torch.cuda.OutOfMemoryError as error:
            if len(batch) == 1:
                raise RuntimeError(
                    f"out of memory generating {rows} paths of a single {len(batch[0].prompt_ids)}-token prompt; "
                    "use fewer paths, fewer new tokens or --load-in-4bit"
                ) from error
        # Outside the except block: its traceback kept the failed batch's tensors alive.
        torch.cuda.empty_cache()
        # Halve what actually failed (the nominal budget may be far above it).
        failed = _cost(len(batch[0].prompt_ids), len(batch), sampling, batch[0].path is not None)
        self.budget = max(1, min(self.budget, failed) // 2)
        logger.warning("out of memory with %d prompts per batch; retrying with batch_tokens=%d", len(batch), self.budget)
        raise ReplanBatches

    def info(self) -> dict[str, Any]:
        import transformers

        return {"name": self.name, "version": transformers.__version__, "batch_tokens": self.budget,
                "sampler": SAMPLER}


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

    :class:`TransformersEngine` through :func:`c2kit.generation.generate_with_engine` (caching, resume, one-path
    prompts: see there).
    """
    engine = TransformersEngine(model, tokenizer, batch_tokens=batch_tokens)
    return generate_with_engine(engine, prompts, sampling, cache=cache, progress=progress, desc=desc)


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


def uniform_draws(keys: torch.Tensor, step: int) -> torch.Tensor:
    """One uniform number in (0, 1) per row, a pure function of (row key, step).

    ``keys`` is an int64 tensor (rows, 2) of :func:`~c2kit.generation.path_key` words; the result is float32
    (rows, 1).
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
        keys = [path_key(sampling.seed, p.item_id, p.k, path) for p in batch for path in paths_of(p, sampling)]
        sampler = SeededSampler(torch.tensor(keys, dtype=torch.int64, device=device), input_ids.shape[1], sampling)
        # Neutral warpers in generate: SeededSampler already applied the real ones and drew the token.
        kwargs = {"logits_processor": LogitsProcessorList([sampler]), "temperature": 1.0, "top_k": 0, "top_p": 1.0}
    if sampling.reset_logit_bias:  # generate() applies it before the sampler draws
        kwargs["sequence_bias"] = {(reset_token_id(tokenizer),): sampling.reset_logit_bias}
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
    """Text of the tokens after ``prompt_length`` of each row of ``sequences`` (prompt + generated ids).

    :func:`c2kit.engines.base.decode_continuations`, the rule of every engine: decoded in the context of the
    last prompt token (left padding before it does not matter), special tokens (padding, an end of turn) skipped.
    """
    return decode_continuations(tokenizer, sequences[:, :prompt_length].tolist(), sequences[:, prompt_length:].tolist())


def open_transformers(options, request):
    """The registered factory of ``--engine transformers``: the model loaded here, with its adapter, in 4-bit if
    asked."""
    from c2kit.engines.registry import OpenedEngine
    from c2kit.models import load_model_and_tokenizer

    loaded = load_model_and_tokenizer(request.model, adapter=request.adapter, revision=request.revision,
                                      load_in_4bit=request.load_in_4bit, dtype=request.dtype,
                                      trust_remote_code=request.trust_remote_code)
    engine = TransformersEngine(loaded.model, loaded.tokenizer, batch_tokens=request.batch_tokens)
    return OpenedEngine(engine, loaded, getattr(loaded.model, "generation_config", None))
