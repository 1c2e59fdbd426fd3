"""C2-Eval end to end: load data and model, prefill, sample, judge, score, and write the results directory.

``run_eval`` is what ``c2 eval run`` calls. It resumes: continuations are cached per finished batch
(default ``OUT/cache``, keyed by model identity, chat-template hash, prefix mode, sampling parameters and
seed) and an LLM judge caches its answers under ``OUT/judge-cache``, so re-running the same command after an
interruption only does what is left, and re-running a finished one regenerates nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from c2kit.gen_cache import GenerationCache
from c2kit.jsonio import write_jsonl
from c2kit.generation import SamplingConfig, cache_key, default_batch_tokens, generate_continuations
from c2kit.judges import load_judge
from c2kit.models import load_model_and_tokenizer
from c2kit.prefill import build_prefills, resolve_chat_template, template_hash
from c2kit.protocol import DEFAULT_KS, DEFAULT_MAX_NEW_TOKENS, DEFAULT_PATHS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P
from c2kit.sources import BUNDLED_C2EVAL, load_source, parse_column_mapping

from .corr import CorrScores
from .results import GENERATIONS_FILE, SCORED_FILES, merge_config, write_scored_results
from .scoring import JUDGE_CACHE_DIR, judge_notes, judge_record, judge_rows

CACHE_DIR = "cache"
SMOKE_NOTICE = "smoke model: random weights, the numbers mean nothing"
VERSIONED_PACKAGES = ("c2-toolkit", "torch", "transformers", "peft", "accelerate", "datasets", "bitsandbytes")


@dataclass
class EvalConfig:
    """Every setting of a C2-Eval run (the options of ``c2 eval run``; defaults follow the paper)."""

    model: str
    adapter: str | None = None
    revision: str | None = None
    data: str = BUNDLED_C2EVAL
    split: str = "train"
    column_mapping: str | Mapping[str, str] | None = None
    limit: int | None = None
    ks: list[int] = field(default_factory=lambda: list(DEFAULT_KS))
    paths: int = DEFAULT_PATHS
    mode: str = "words"
    judge: str = "keyword"
    seed: int = 0
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    batch_tokens: int | None = None  # None: sized from free device memory
    load_in_4bit: bool = False
    dtype: str = "auto"
    plain_template: bool = False
    trust_remote_code: bool = False

    def sampling(self) -> SamplingConfig:
        return SamplingConfig(
            num_paths=self.paths,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
        )


def run_eval(
    config: EvalConfig, *, out_dir: str | Path, cache_dir: str | Path | None = None, progress: bool = True
) -> CorrScores:
    """Run C2-Eval and write ``config.json``, ``generations.jsonl`` and the scored files to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sampling = config.sampling()  # validates the sampling settings before anything is loaded

    mapping = config.column_mapping
    source = load_source(
        config.data,
        split=config.split,
        column_mapping=parse_column_mapping(mapping) if isinstance(mapping, str) else mapping,
        limit=config.limit,
    )
    print(source.report())
    for example in source.skipped_examples:
        print(f"  skipped {example}")
    if not source.rows:
        raise ValueError(f"{source.origin}: no usable rows to evaluate")
    # Before the model: a bad --judge or a missing API key must not surface after hours of sampling.
    judge = load_judge(config.judge, cache_dir=out / JUDGE_CACHE_DIR)

    loaded = load_model_and_tokenizer(
        config.model,
        adapter=config.adapter,
        revision=config.revision,
        load_in_4bit=config.load_in_4bit,
        dtype=config.dtype,
        trust_remote_code=config.trust_remote_code,
    )
    if loaded.identity["is_tiny"]:
        print(f"NOTE: {config.model} is a {SMOKE_NOTICE}.")
    tokenizer = loaded.tokenizer
    chat_template_sha = template_hash(resolve_chat_template(tokenizer, config.plain_template))
    requests = {row.source_id: row.request for row in source.rows}
    prompts = build_prefills(
        tokenizer,
        [(row.source_id, row.request, row.harmful_response) for row in source.rows],
        config.ks,
        mode=config.mode,
        seed=config.seed,
        plain_template=config.plain_template,
    )
    batch_tokens = config.batch_tokens or default_batch_tokens(loaded.model)

    run_config: dict[str, Any] = {
        **dataclasses.asdict(config),
        "batch_tokens_used": batch_tokens,
        "sampling": sampling.as_dict(),
        "model_identity": loaded.identity,
        "chat_template_sha256": chat_template_sha,
        "data_origin": source.origin,
        "rows_read": source.n_read,
        "n_items": len(source.rows),
        "rows_skipped": dict(source.skipped),
        "smoke_model": loaded.identity["is_tiny"],
        "versions": library_versions(),
    }
    # Written before generating, so an interrupted run's directory already says what it was running; the
    # scored files of an earlier run in the same directory go, so they are never read as this run's.
    for name in SCORED_FILES:
        (out / name).unlink(missing_ok=True)
    merge_config(out, run_config)

    cache = GenerationCache(
        Path(cache_dir) if cache_dir else out / CACHE_DIR,
        cache_key(loaded.identity, chat_template_sha, config.mode, sampling),
    )
    continuations = generate_continuations(
        loaded.model, tokenizer, prompts, sampling, batch_tokens=batch_tokens, cache=cache, progress=progress
    )
    by_key = {(prompt.item_id, prompt.k): prompt for prompt in prompts}
    generations = [
        {
            "item_id": c.item_id,
            "k": c.k,
            "path": c.path,
            "request": requests[c.item_id],
            "prefix": by_key[(c.item_id, c.k)].prefix,
            "prompt": by_key[(c.item_id, c.k)].prompt,
            "continuation": c.text,
        }
        for c in continuations
    ]
    write_jsonl(out / GENERATIONS_FILE, generations)

    judgments = judge_rows(judge, generations, [row["request"] for row in generations])
    run_config["judge_info"] = judge_record(judge)
    scores = write_scored_results(out, judgments, judge=judge.name, config=run_config, notes=judge_notes(judge))
    if loaded.identity["is_tiny"]:
        print(f"NOTE: these scores come from a {SMOKE_NOTICE}.")
    return scores


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that determine the results (None when not installed)."""
    versions: dict[str, str | None] = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions

