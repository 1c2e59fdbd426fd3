"""``--engine transformers`` (the default, embedded engine): ``model.generate`` in this process.

It wraps :func:`c2kit.generation._generate_batch` unchanged: batches by tokens in flight, all paths of a prompt
in one call (``num_return_sequences``), :class:`~c2kit.generation.SeededSampler` drawing every token from a
counter-based stream of (seed, item, k, path, step). On CUDA out-of-memory the budget is halved and the driver
plans the rest again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from c2kit import generation
from c2kit.engines.base import Engine
from c2kit.prefill import PrefillPrompt

logger = logging.getLogger(__name__)


class TransformersEngine(Engine):
    """A loaded transformers model and its tokenizer; ``batch_tokens`` None sizes batches from free memory."""

    name = "transformers"

    def __init__(self, model, tokenizer, *, batch_tokens: int | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.budget = batch_tokens or generation.default_batch_tokens(model)

    def plan_batches(self, prompts: Sequence[PrefillPrompt], sampling) -> list[list[PrefillPrompt]]:
        return generation.plan_batches(prompts, sampling, self.budget)

    def generate_batch(self, batch: Sequence[PrefillPrompt], sampling) -> tuple[list[list[str]], int]:
        import torch

        rows = len(generation._paths_of(batch[0], sampling))
        try:
            # Looked up at call time (tests count and interrupt batches by patching it).
            return generation._generate_batch(self.model, self.tokenizer, batch, sampling)
        except torch.cuda.OutOfMemoryError as error:
            if len(batch) == 1:
                raise RuntimeError(
                    f"out of memory generating {rows} paths of a single {len(batch[0].prompt_ids)}-token prompt; "
                    "use fewer paths, fewer new tokens or --load-in-4bit"
                ) from error
        # Outside the except block: its traceback kept the failed batch's tensors alive.
        torch.cuda.empty_cache()
        # Halve what actually failed (the nominal budget may be far above it).
        failed = generation._cost(len(batch[0].prompt_ids), len(batch), sampling, batch[0].path is not None)
        self.budget = max(1, min(self.budget, failed) // 2)
        logger.warning("out of memory with %d prompts per batch; retrying with batch_tokens=%d", len(batch), self.budget)
        raise generation.ReplanBatches

    def info(self) -> dict[str, Any]:
        import transformers

        return {"name": self.name, "version": transformers.__version__, "batch_tokens": self.budget,
                "sampler": generation.SAMPLER}
