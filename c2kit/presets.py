"""Named bundles of C2-Eval settings (``c2 eval run --preset NAME``), defined in this one place.

``paper`` reproduces the sampling of the official evaluation run (``eval/eval_data.py`` of the
authors' code) where today's defaults differ from it:

* a new opener for every sampled path, i.e. per (item, k, path), so each path has its own prompt
  (default: one opener per item);
* sampling as transformers 4.41 ``generate(do_sample=True, temperature=0.8, top_p=0.7)`` did it: the
  explicit temperature and top-p win over the model's ``generation_config.json``, while its ``top_k`` (else
  the library default 50) and ``repetition_penalty`` apply (default: no top-k, no repetition penalty);
* the model in 4-bit NF4 with double quantisation and bf16 compute (default: the checkpoint's own dtype).

What it keeps from the defaults: prefill rendering with ``continue_final_message`` (the official
``add_generation_prompt=True`` + ``</s>`` strip was a bug, right only for Llama-2), 20 paths, 32 new tokens,
k = 10..80, words mode, the seeded per-path sampler, and whichever judge is asked for. Settings given
explicitly (CLI flags, keyword arguments) win over the preset's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from c2kit.errors import UserError
from c2kit.protocol import DEFAULT_KS, DEFAULT_MAX_NEW_TOKENS, DEFAULT_PATHS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P

logger = logging.getLogger(__name__)

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "mode": "words",
        "ks": list(DEFAULT_KS),
        "paths": DEFAULT_PATHS,
        "max_new_tokens": DEFAULT_MAX_NEW_TOKENS,
        "temperature": DEFAULT_TEMPERATURE,
        "top_p": DEFAULT_TOP_P,
        "opener_per": "path",
        "use_generation_config": True,
        "load_in_4bit": True,
        "dtype": "bfloat16",
    },
}
PRESET_HELP = {
    "paper": "the official run's sampling: an opener per (item, k, path), transformers generate() semantics "
    "(the model's generation_config top_k, else 50, and repetition_penalty; T 0.8, top-p 0.7), 4-bit NF4 with "
    "bf16 compute",
}

# transformers' generate() default when neither the call nor the model's generation_config sets top_k.
TRANSFORMERS_DEFAULT_TOP_K = 50
# generation_config settings that the seeded sampler takes over, as generate() would have applied them.
TAKEN_FROM_GENERATION_CONFIG = ("top_k", "repetition_penalty")
# Given explicitly in the official generate() call, so the model's own values never applied.
OVERRIDDEN_BY_THE_CALL = ("do_sample", "temperature", "top_p")
# Warpers transformers applies after top-p; the seeded sampler has no equivalent, so they cannot be honoured.
NOT_HONOURED = ("min_p", "typical_p", "epsilon_cutoff", "eta_cutoff", "top_h")
# Logits processors and stopping settings that generate() reads from generation_config in every run (ours
# and the official one alike), before the sampler: recorded, not changed.
APPLIED_BY_GENERATE = (
    "eos_token_id", "no_repeat_ngram_size", "bad_words_ids", "suppress_tokens", "begin_suppress_tokens",
    "min_length", "min_new_tokens", "sequence_bias", "forced_bos_token_id", "forced_eos_token_id",
    "exponential_decay_length_penalty", "encoder_repetition_penalty", "renormalize_logits",
)


def preset_names() -> tuple[str, ...]:
    return tuple(PRESETS)


def resolve_preset(name: str | None, explicit: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of preset ``name`` (none: {}), overridden by the ``explicit`` ones, plus ``preset``.

    A preset's opener-per-path applies to words mode only: with an explicit ``mode="tokens"`` (no opener)
    ``opener_per`` falls back to "item" unless it was given explicitly too.
    """
    if name is None:
        return dict(explicit)
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    settings = {key: list(value) if isinstance(value, list) else value for key, value in PRESETS[name].items()}
    settings.update(explicit)
    if settings.get("mode") == "tokens" and "opener_per" not in explicit:
        settings["opener_per"] = "item"
    settings["preset"] = name
    return settings


def generate_sampling(
    generation_config, *, top_k: int | None = None, repetition_penalty: float | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``top_k`` and ``repetition_penalty`` as transformers ``generate()`` resolves them, and a record of it.

    Explicit values win; else the model's ``generation_config`` (only what it sets: ``to_diff_dict``); else
    the library defaults (top_k 50, repetition penalty 1.0). Returns ``(values, record)``: ``record`` says
    which settings were taken from the generation config, which were library defaults, which the model sets
    but were overridden (by the explicit temperature/top-p of the official call or by explicit values here),
    which it sets that no sampler here honours, and which generate() applies on its own in every run.
    """
    own = _set_values(generation_config)
    explicit = {"top_k": top_k, "repetition_penalty": repetition_penalty}
    library = {"top_k": TRANSFORMERS_DEFAULT_TOP_K, "repetition_penalty": 1.0}
    values: dict[str, Any] = {}
    record: dict[str, dict[str, Any]] = {
        "taken": {}, "library_defaults": {}, "overridden": {}, "not_honoured": {}, "applied_by_generate": {},
    }
    for name in TAKEN_FROM_GENERATION_CONFIG:
        if explicit[name] is not None:
            values[name] = explicit[name]
            if name in own:
                record["overridden"][name] = own[name]
        elif own.get(name) is not None:
            values[name] = record["taken"][name] = own[name]
        else:
            values[name] = record["library_defaults"][name] = library[name]
    for name in OVERRIDDEN_BY_THE_CALL:
        if name in own:
            record["overridden"][name] = own[name]
    for name in NOT_HONOURED:
        if name in own and not _neutral(name, own[name]):
            record["not_honoured"][name] = own[name]
    for name in APPLIED_BY_GENERATE:
        if name in own:
            record["applied_by_generate"][name] = own[name]
    if record["not_honoured"]:
        logger.warning(
            "the model's generation_config sets %s, which transformers' generate() would apply after top-p; the "
            "seeded sampler does not, so these runs differ from generate() there", record["not_honoured"]
        )
    return values, record


def generation_config_record(generation_config) -> dict[str, Any]:
    """What generate() reads from the model's generation_config in a run that does not use its sampling settings."""
    own = _set_values(generation_config)
    return {
        "ignored": {name: own[name] for name in (*TAKEN_FROM_GENERATION_CONFIG, *OVERRIDDEN_BY_THE_CALL, *NOT_HONOURED)
                    if name in own},
        "applied_by_generate": {name: own[name] for name in APPLIED_BY_GENERATE if name in own},
    }


def _set_values(generation_config) -> dict[str, Any]:
    """Settings the model's generation config sets itself (not library defaults), JSON-friendly."""
    if generation_config is None:
        return {}
    own = generation_config.to_diff_dict()
    own.pop("transformers_version", None)
    return {name: value for name, value in own.items() if value is not None}


def _neutral(name: str, value: Any) -> bool:
    """True when a warper setting is at its no-op value."""
    return (name == "typical_p" and value >= 1.0) or (name in ("epsilon_cutoff", "eta_cutoff") and value <= 0.0)
