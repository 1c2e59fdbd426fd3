"""Seeded, resumable generation of continuations for prefilled prompts, on any engine.

:func:`generate_with_engine` is the engine-independent driver used by C2-Eval, C2-Syn and the local judges: the
checks, the generation cache, resume, the batch loop and the progress bar. Engines (:mod:`c2kit.engines`:
transformers, vLLM, OpenAI-compatible servers) plan batches and sample them; this module knows none of them and
imports no torch.

Also here, because every engine and every cache key shares them: :class:`SamplingConfig`, the cache key of a
run (:func:`cache_key`) and each path's random stream (:func:`path_key`, :func:`path_seed`), a pure function of
``(seed, item_id, k, path)``, so a path samples the same alone, in any batch, after a resume and across processes.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from tqdm.auto import tqdm

from c2kit.backtrack import check_logit_bias
from c2kit.errors import UserError
from c2kit.gen_cache import CachedRow, GenerationCache, prompt_fingerprint
from c2kit.prefill import PrefillPrompt
from c2kit.protocol import DEFAULT_MAX_NEW_TOKENS, DEFAULT_PATHS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P
from c2kit.quiet import progress_shown

# Names the sampling scheme (path keys drawn through lowbias32, inverse-CDF draws in the transformers engine);
# part of every cache key, so a change of scheme never serves old rows.
SAMPLER = "inverse-cdf/lowbias32-v1"


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
    # Added to the logit of a backtracking model's reset token at every step (c2kit.backtrack); 0: none.
    reset_logit_bias: float = 0.0

    def __post_init__(self) -> None:
        if self.num_paths < 1 or self.max_new_tokens < 1:
            raise UserError("num_paths and max_new_tokens must be at least 1")
        if not self.do_sample and self.num_paths != 1:
            raise UserError("greedy decoding (do_sample=False) gives one path per prompt; set num_paths=1")
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
            raise UserError("; ".join(problems))
        check_logit_bias(self.reset_logit_bias)

    def as_dict(self) -> dict:
        """The settings; ``reset_logit_bias`` only where it is set, so cache keys of runs without one stay as they
        were before it existed."""
        settings = asdict(self)
        if not self.reset_logit_bias:
            del settings["reset_logit_bias"]
        return settings


@dataclass(frozen=True)
class Continuation:
    """One sampled path: the text generated after the prompt (special tokens removed; a reset token kept)."""

    item_id: str
    k: int
    path: int
    text: str


def cache_key(
    identity: dict, chat_template_sha256: str, prefix_mode: str, sampling: SamplingConfig, opener_per: str = "item"
) -> dict:
    """The :class:`~c2kit.gen_cache.GenerationCache` key of one generation setting (the seed is inside ``sampling``)."""
    return {
        "model": identity,
        "chat_template_sha256": chat_template_sha256,
        "prefix_mode": prefix_mode,
        "opener_per": opener_per,
        "sampling": sampling.as_dict(),
        "sampler": SAMPLER,
    }


# ---------------------------------------------------------------------------------------------------------
# Each path's random stream


def path_key(seed: int, item_id: str, k: int, path: int) -> tuple[int, int]:
    """Two 32-bit words naming one path's random stream."""
    digest = hashlib.sha256(f"{seed}\0{item_id}\0{k}\0{path}".encode()).digest()
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little")


def path_seed(seed: int, item_id: str, k: int, path: int) -> int:
    """A 31-bit per-request seed for engines that sample with their own RNG (vLLM, servers).

    The first word of :func:`path_key`, so it is a pure function of (seed, item, k, path): one request per path
    with this seed gives the same tokens alone, in any batch, after a resume, and across processes.
    """
    return path_key(seed, item_id, k, path)[0] & 0x7FFFFFFF


def paths_of(prompt: PrefillPrompt, sampling: SamplingConfig) -> list[int]:
    """The path indices one prompt stands for: all paths, or its own one (``opener_per="path"`` prompts)."""
    return list(range(sampling.num_paths)) if prompt.path is None else [prompt.path]


# ---------------------------------------------------------------------------------------------------------
# The driver


class ReplanBatches(Exception):
    """Raised by an engine's ``generate_batch`` after it lowered its budget (transformers: CUDA out of memory);
    the driver plans the failed batch and the rest again and carries on."""


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
    n_paths = {key: len(paths_of(p, sampling)) for key, p in zip(keys, prompts)}
    bar = tqdm(total=sum(n_paths.values()), initial=sum(n_paths[key] for key in done), unit="path", desc=desc,
               disable=not (progress and progress_shown()))
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
                for path, text in zip(paths_of(p, sampling), paths)
            )
        for prompt, paths in zip(batch, texts):
            done[(prompt.item_id, prompt.k, prompt.path)] = paths
        n_tokens += generated
        bar.update(sum(len(paths_of(p, sampling)) for p in batch))
        bar.set_postfix(tok_s=f"{n_tokens / (time.perf_counter() - started):.0f}", batch=len(batch))
    bar.close()
    return [
        Continuation(item_id, k, index, text)
        for (item_id, k, path), prompt in zip(keys, prompts)
        for index, text in zip(paths_of(prompt, sampling), done[(item_id, k, path)])
    ]
