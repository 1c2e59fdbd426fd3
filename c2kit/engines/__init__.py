"""Generation engines: one interface for C2-Eval, C2-Syn and the local model judges (``--engine``).

Engines are registered components (:mod:`.registry`): the built-in ones (:mod:`.builtin`: transformers, vllm,
ray, openai) and plug-ins installed as ``c2kit.engines`` entry points. :func:`open_engine` builds any of them for a
model and loads its weights; each declares its options in its own dataclass, from which the CLI flags derive.

Every engine gets the token ids the toolkit rendered (:mod:`c2kit.prefill`), so the prompt hashes recorded in
``generations.jsonl`` are the same on every engine; vLLM and servers are checked first, on a sample, to tokenize
those prompts as we do (:meth:`Engine.check_parity`). Caching, resume, progress and results files live in
:func:`c2kit.generation.generate_with_engine` and do not depend on the engine. See docs/engines.md.

This module stays light (no torch import): the CLI builds :class:`EngineSettings` before anything loads.
"""

from __future__ import annotations

from c2kit.engines.base import Engine, EngineError, ParityProbe, PathRequestEngine
from c2kit.engines.builtin import DEFAULT_API_KEY_ENV, DEFAULT_MAX_CONCURRENCY, split_base_urls
from c2kit.engines.registry import (DEFAULT_PARITY_SAMPLE, ENTRY_POINT_GROUP, EngineSettings, EngineType,
                                    ModelRequest, OpenedEngine, available_engines, engine_type, open_engine,
                                    register_engine)

__all__ = ["DEFAULT_API_KEY_ENV", "DEFAULT_MAX_CONCURRENCY", "DEFAULT_PARITY_SAMPLE", "ENTRY_POINT_GROUP", "Engine",
           "EngineError", "EngineSettings", "EngineType", "ModelRequest", "OpenedEngine", "ParityProbe",
           "PathRequestEngine", "available_engines", "chat_messages_probe", "engine_type", "open_engine",
           "parity_probes", "register_engine", "split_base_urls"]


def parity_probes(tokenizer, prompts, *, messages_of=None, sample: int = DEFAULT_PARITY_SAMPLE) -> list[ParityProbe]:
    """Up to ``sample`` prompts spread over ``prompts`` (first, last, evenly between) as parity probes.

    ``messages_of(prompt)`` gives the chat messages a prompt was rendered from (None: check the tokenizer only).
    Our ids for a probe are the tokenization of its rendered text, which is what the engine is asked to match.
    """
    if sample <= 0 or not prompts:
        return []
    n = len(prompts)
    m = min(sample, n)
    picks = sorted({round(i * (n - 1) / max(1, m - 1)) for i in range(m)})
    probes = []
    for index in picks:
        prompt = prompts[index]
        ids = tuple(tokenizer(prompt.prompt, add_special_tokens=False)["input_ids"])
        label = f"{prompt.item_id}/{prompt.k}" + ("" if prompt.path is None else f"/{prompt.path}")
        probes.append(ParityProbe(label, prompt.prompt, ids, messages_of(prompt) if messages_of else None))
    return probes


def chat_messages_probe(requests: dict, *, enabled: bool = True):
    """``messages_of`` for :func:`parity_probes` of C2-Eval/C2-Syn prefill prompts: ``[user, assistant prefix]``.

    ``requests`` maps item ids to requests. Prompts whose text is not exactly that rendering (tokens mode,
    plain templates, an empty prefix) get no chat check (their ids are still checked as text).
    """
    def messages_of(prompt):
        if not enabled or not prompt.prefix or prompt.item_id not in requests or not prompt.prompt.endswith(prompt.prefix):
            return None
        return [{"role": "user", "content": requests[prompt.item_id]},
                {"role": "assistant", "content": prompt.prefix}]

    return messages_of
