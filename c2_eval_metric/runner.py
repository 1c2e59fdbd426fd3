"""C2-Eval end to end: load data and model, prefill, sample, judge, score, and write the results directory.

``run_eval`` is what ``c2 eval run`` calls. It resumes: continuations are cached per finished batch
(default ``OUT/cache``, keyed by model identity, chat-template hash, prefix mode, opener mode, sampling
parameters and seed) and an LLM judge caches its answers under ``OUT/judge-cache``, so re-running the same
command after an interruption only does what is left, and re-running a finished one regenerates nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from c2kit.backtrack import reset_token_id, with_visible
from c2kit.errors import UserError
from c2kit.gen_cache import GenerationCache
from c2kit.locks import lock_output_folder
from c2kit.jsonio import write_jsonl
from c2kit.engines import EngineSettings, ModelRequest, open_engine
from c2kit.gen_cache import prompt_sha256
from c2kit.generation import SamplingConfig, cache_key
from c2kit.judges import Judge, load_judge
from c2kit.judges.registry import check_judge_spec, public_spec
from c2kit.generation import generate_with_engine
from c2kit.models import LoadedModel, check_model
from c2kit.prefill import OPENER_PER, build_prefills, drop_overlong, resolve_chat_template, template_hash
from c2kit.presets import TRANSFORMERS_DEFAULT_TOP_K, generate_sampling, generation_config_record, resolve_preset
from c2kit.protocol import DEFAULT_KS, DEFAULT_TOKEN_KS, DEFAULT_MAX_NEW_TOKENS, DEFAULT_PATHS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P
from c2kit.sources import BUNDLED_C2EVAL, LoadedSource, load_source, parse_column_mapping

from .corr import CorrScores
from .overcorrection import PREFIX_SOURCES
from .results import (
    GENERATIONS_FILE,
    REQUESTED_KEY,
    SCORED_FILES,
    claim_results_dir,
    merge_config,
    write_scored_results,
)
from .judging import JUDGE_CACHE_DIR, judge_notes, judge_record, judge_rows

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
    ks: list[int] | None = None  # None: the mode's default (words: 10..80; tokens: 8, 16, ..., 500 log-spaced)
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
    # Preset-related (c2kit.presets; build with EvalConfig.from_preset so explicit settings win):
    preset: str | None = None  # a label: the name of the preset these settings came from
    opener_per: str = "item"  # "item": one opener per item; "path": one per (item, k, path), as the official code
    top_k: int | None = None  # None: off, or with use_generation_config the model's own / transformers' 50
    repetition_penalty: float | None = None  # None: 1.0, or with use_generation_config the model's own
    # Sample as transformers generate() does: the model's generation_config top_k (else 50) and
    # repetition_penalty apply; the explicit temperature and top_p win over its own.
    use_generation_config: bool = False
    # Added to the logit of a backtracking model's reset token at every step (c2kit.backtrack): the paper tunes it
    # so that the model backtracks on few safe requests. 0: none.
    reset_logit_bias: float = 0.0
    # What generates (c2kit.engines, docs/engines.md): the engine and its options; a name alone is that engine
    # with its default options.
    engine: EngineSettings = field(default_factory=EngineSettings)
    # Analyses (docs/metric.md): per-group breakdown by a source column (None: harm_category when the source
    # has it), and the over-correction pass on benign requests.
    group_by: str | None = None
    overcorrection: bool = False
    benign_data: str | None = None  # None: the bundled benign-c2 set
    benign_column_mapping: str | Mapping[str, str] | None = None  # fields request, answer, id -> the file's columns
    benign_limit: int | None = None
    prefix_source: str = "shipped"  # or "on-policy": the model's own greedy answer to each benign request

    def __post_init__(self) -> None:
        if isinstance(self.engine, str):
            self.engine = EngineSettings.build(self.engine)
        if self.ks is None:
            self.ks = list(DEFAULT_TOKEN_KS if self.mode == "tokens" else DEFAULT_KS)

    def engine_settings(self) -> EngineSettings:
        """The engine settings, with the model options only some engines can honour (--adapter, --load-in-4bit)
        refused up front."""
        try:
            self.engine.check_model_options(adapter=self.adapter, load_in_4bit=self.load_in_4bit)
        except ValueError as error:
            if self.preset and self.load_in_4bit and "--load-in-4bit" in str(error):  # the user never typed it
                raise UserError(f"{error} (--preset {self.preset} loads in 4-bit: add --no-load-in-4bit)") from None
            raise
        return self.engine

    def record(self) -> dict[str, Any]:
        """The settings as ``config.json`` holds them: the engine's name and options flat beside the others."""
        settings = dataclasses.asdict(self)
        del settings["engine"]
        return {**settings, **self.engine.flat()}

    @classmethod
    def from_preset(cls, preset: str | None, **settings: Any) -> "EvalConfig":
        """A config from preset ``preset`` (None: the defaults), with the given ``settings`` winning over it."""
        return cls(**resolve_preset(preset, settings))

    def sampling(self, top_k: int | None = None, repetition_penalty: float | None = None) -> SamplingConfig:
        """The sampling settings; ``top_k``/``repetition_penalty`` are what was resolved from the model, if known."""
        if top_k is None:
            if self.top_k is not None:
                top_k = self.top_k
            else:
                top_k = TRANSFORMERS_DEFAULT_TOP_K if self.use_generation_config else 0
        if repetition_penalty is None:
            repetition_penalty = self.repetition_penalty if self.repetition_penalty is not None else 1.0
        return SamplingConfig(
            num_paths=self.paths,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            top_k=top_k,
            repetition_penalty=repetition_penalty,
            reset_logit_bias=self.reset_logit_bias,
        )

    def check(self) -> None:
        """Settings errors that need no data or model (raised before anything is loaded)."""
        self.sampling()
        if self.opener_per not in OPENER_PER:
            raise UserError(f"opener_per {self.opener_per!r} is not one of {OPENER_PER}")
        if self.opener_per == "path" and self.mode != "words":
            raise UserError("opener_per='path' needs words mode: tokens mode has no opener")
        if self.preset is not None:
            resolve_preset(self.preset, {})  # an unknown name is an error
        if not self.engine_settings().is_default and self.overcorrection:
            raise UserError("the over-correction analysis runs on --engine transformers only (for now)")
        if self.prefix_source not in PREFIX_SOURCES:
            raise UserError(f"prefix_source {self.prefix_source!r} is not one of {PREFIX_SOURCES}")
        check_judge_spec(self.judge)


def requested_settings(config: EvalConfig) -> dict[str, Any]:
    """The settings as asked for (before values such as top_k are resolved from the model), without secrets."""
    settings = config.record()
    settings.pop("base_urls", None)  # may carry credentials; servers do not decide what a run is
    settings["judge"] = public_spec(config.judge)
    return settings


@dataclass
class RunInputs:
    """What a run reads and checks before it locks its folder and loads a model: a mistake in any of them costs
    nothing but the reading."""

    source: LoadedSource
    benign: tuple[list[tuple[str, str, str]], LoadedSource] | None  # load_benign's, with --overcorrection
    judge: Judge


def run_eval(
    config: EvalConfig, *, out_dir: str | Path, cache_dir: str | Path | None = None, progress: bool = True,
    overwrite: bool = False,
) -> CorrScores:
    """Run C2-Eval and write ``config.json``, ``generations.jsonl`` and the scored files to ``out_dir``.

    ``out_dir`` must be new, or hold a run with the same settings (which resumes); ``overwrite`` replaces
    another run's results there.
    """
    out = Path(out_dir)
    config.check()  # validates the settings before anything is read
    inputs = read_inputs(config, out)
    # One run per results directory: a second one would delete the first one's files while it still works (a
    # C2-Syn build included: the lock is theirs too, and a folder holding a build is refused).
    lock = lock_output_folder(out, "c2 eval run")
    try:
        claim_results_dir(out, requested_settings(config), overwrite=overwrite)
        return _run_in(out, config, inputs, cache_dir, progress)
    finally:
        lock.release()


def read_inputs(config: EvalConfig, out: Path) -> RunInputs:
    """The judge, the data and the benign data of a run, read and checked: everything a run can be refused for
    before a model loads (a model or judge model not on this machine, a bad --judge, a data file of the wrong
    schema or without a usable row, an unknown --group-by column)."""
    judge = load_judge(config.judge, cache_dir=out / JUDGE_CACHE_DIR)
    judge.check_available()
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
        raise UserError(f"{source.origin}: no usable rows to evaluate")
    if config.group_by:  # an unknown column fails now, not after sampling
        from .groups import item_groups

        item_groups(source.rows, config.group_by)
    benign = None
    if config.overcorrection:
        from .overcorrection import BENIGN_FIELDS, load_benign

        benign_mapping = config.benign_column_mapping
        if isinstance(benign_mapping, str):
            benign_mapping = parse_column_mapping(benign_mapping, BENIGN_FIELDS, "request=question,answer=response")
        benign = load_benign(config.benign_data, limit=config.benign_limit, column_mapping=benign_mapping)
        print(f"over-correction: {benign[1].report()}")
    check_model(config.model, config.revision)  # a Hub id not cached while offline: now, not when loading it
    return RunInputs(source, benign, judge)


def _run_in(out: Path, config: EvalConfig, inputs: RunInputs, cache_dir: str | Path | None, progress: bool
            ) -> CorrScores:
    """The run itself, in a claimed and locked results directory."""
    engine_settings = config.engine_settings()
    opened = open_engine(engine_settings, ModelRequest(
        config.model, revision=config.revision, dtype=config.dtype, trust_remote_code=config.trust_remote_code,
        adapter=config.adapter, load_in_4bit=config.load_in_4bit, batch_tokens=config.batch_tokens))
    try:
        return _run_with(out, config, inputs, cache_dir, progress, opened, engine_settings)
    finally:
        opened.engine.close()


def _run_with(out: Path, config: EvalConfig, inputs: RunInputs, cache_dir: str | Path | None, progress: bool,
              opened, engine_settings: EngineSettings) -> CorrScores:
    source = inputs.source
    engine, loaded, generation_config = opened.engine, opened.loaded, opened.generation_config
    if loaded.identity["is_tiny"]:
        print(f"NOTE: {config.model} is a {SMOKE_NOTICE}.")
    if config.use_generation_config:
        resolved, gen_record = generate_sampling(
            generation_config, top_k=config.top_k, repetition_penalty=config.repetition_penalty
        )
        sampling = config.sampling(**resolved)
    else:
        sampling, gen_record = config.sampling(), generation_config_record(generation_config)
    gen_record = {"used": config.use_generation_config, **gen_record}
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
        opener_per=config.opener_per,
        num_paths=config.paths,
    )
    prompts = _fitting_prompts(prompts, config, loaded, out, sampling.max_new_tokens)
    return _generate_and_score(config, out, cache_dir, progress, inputs, requests, loaded, engine,
                               engine_settings, prompts, sampling, gen_record, chat_template_sha)


def _fitting_prompts(prompts, config: EvalConfig, loaded: LoadedModel, out: Path, max_new_tokens: int) -> list:
    """The prompts that fit the model's context; the others are counted per k in config.json and printed."""
    from c2kit.models import context_window

    if loaded.model is not None:
        model_config = loaded.model.config
    else:  # an engine holds the weights: read the window from the model's config
        from transformers import AutoConfig

        model_config = AutoConfig.from_pretrained(config.model, revision=config.revision,
                                                  trust_remote_code=config.trust_remote_code)
    window = context_window(model_config, loaded.tokenizer)
    kept, dropped = drop_overlong(prompts, window, max_new_tokens)
    if dropped:
        counts = {str(k): len(items) for k, items in sorted(dropped.items())}
        first_k = min(dropped)
        print(f"left out (prompt + {max_new_tokens} new tokens > the model's {window} positions): "
              + ", ".join(f"k={k}: {n} item(s)" for k, n in counts.items())
              + f"; e.g. item {dropped[first_k][0]!r} at k={first_k}")
        merge_config(out, {"too_long_for_context": {"context_window": window, "items_per_k": counts}})
    if not kept:
        raise UserError(f"no prompt fits the model's {window} positions with {max_new_tokens} new tokens")
    return kept


def _generate_and_score(config, out, cache_dir, progress, inputs: RunInputs, requests, loaded, engine,
                        engine_settings, prompts, sampling, gen_record, chat_template_sha) -> CorrScores:
    from c2kit.engines import chat_messages_probe, parity_probes

    source, judge = inputs.source, inputs.judge
    tokenizer = loaded.tokenizer
    if sampling.reset_logit_bias:
        reset_token_id(tokenizer)  # a model that has no reset token is refused before anything is generated
    # Before a run: the engine must tokenize (and template) a sample of our prompts exactly as we do.
    probes = parity_probes(tokenizer, prompts, sample=engine_settings.parity_sample, messages_of=chat_messages_probe(
        requests, enabled=config.mode == "words" and not config.plain_template))
    parity = engine.check_parity(probes)
    batch_tokens = getattr(engine, "budget", None)

    run_config: dict[str, Any] = {
        **config.record(),
        REQUESTED_KEY: requested_settings(config),  # what claim_results_dir compares a later run against
        "judge": public_spec(config.judge),
        # Effective values (None in the config means "resolve from the model"; the record says from where).
        "top_k": sampling.top_k,
        "repetition_penalty": sampling.repetition_penalty,
        "batch_tokens_used": batch_tokens,
        "sampling": sampling.as_dict(),
        "generation_config": gen_record,
        "model_identity": loaded.identity,
        "chat_template_sha256": chat_template_sha,
        "data_origin": source.origin,
        "rows_read": source.n_read,
        "n_items": len(source.rows),
        "rows_skipped": dict(source.skipped),
        "smoke_model": loaded.identity["is_tiny"],
        "versions": library_versions(),
        # ("engine" itself is the config's engine name, compared when a results directory is reused.)
        "engine_info": {**engine_settings.record(), **engine.info(), "parity": parity},
    }
    # Written before generating, so an interrupted run's directory already says what it was running; the
    # scored files of an earlier run in the same directory go, so they are never read as this run's.
    for name in SCORED_FILES:
        (out / name).unlink(missing_ok=True)
    merge_config(out, run_config)

    key = cache_key(loaded.identity, chat_template_sha, config.mode, sampling, config.opener_per)
    if engine.cache_identity() is not None:  # the transformers engine keeps the keys of earlier versions
        key["engine"] = engine.cache_identity()
    cache = GenerationCache(Path(cache_dir) if cache_dir else out / CACHE_DIR, key)
    continuations = generate_with_engine(engine, prompts, sampling, cache=cache, progress=progress,
                                         desc=f"generating ({engine.name})")
    engine.close()  # before a model judge loads: an engine's GPUs (vLLM, Ray replicas) are free for it
    # A prompt shared by all paths is keyed by path None; with opener_per="path" each path has its own.
    by_key = {(prompt.item_id, prompt.k, prompt.path): prompt for prompt in prompts}
    generations = []
    for c in continuations:
        prompt = by_key.get((c.item_id, c.k, c.path)) or by_key[(c.item_id, c.k, None)]
        generations.append(with_visible({
            "item_id": c.item_id,
            "k": c.k,
            "path": c.path,
            "request": requests[c.item_id],
            "prefix": prompt.prefix,
            "prompt": prompt.prompt,
            "prompt_sha256": prompt_sha256(prompt.prompt_ids),
            "continuation": c.text,
        }))
    write_jsonl(out / GENERATIONS_FILE, generations)

    judgments = judge_rows(judge, generations, [row["request"] for row in generations], tokenizer=tokenizer)
    extra = run_analyses(config, source.rows, prompts, loaded.model, tokenizer, judge, out, benign=inputs.benign,
                         sampling=sampling, batch_tokens=batch_tokens, cache=cache, progress=progress)
    groups, group_field = extra.pop("_groups", None), extra.pop("_group_field", None)
    run_config["judge_info"] = judge_record(judge)
    scores = write_scored_results(out, judgments, judge=judge.name, config=run_config, notes=judge_notes(judge),
                                  extra=extra, groups=groups, group_field=group_field)
    if loaded.identity["is_tiny"]:
        print(f"NOTE: these scores come from a {SMOKE_NOTICE}.")
    return scores


def run_analyses(config: EvalConfig, rows, prompts, model, tokenizer, judge, out: Path, *, benign=None,
                 **generation: Any) -> dict[str, Any]:
    """The analyses of a run that need its source rows, prompts or model: depth counts, groups, over-correction
    on ``benign`` (:func:`~c2_eval_metric.overcorrection.load_benign`'s rows, read before the model loaded)
    (``_groups``/``_group_field`` are for :func:`write_scored_results` and are not written as they are)."""
    from .depth import depth_counts
    from .groups import default_group_field, item_groups

    depth = depth_counts(prompts, [row.source_id for row in rows], config.ks, config.mode)
    extra: dict[str, Any] = {"n_short_at_k": depth["n_short_at_k"], "short_items": depth["short_items"],
                             "depth": {"unit": depth["unit"], "response_length": depth["response_length"]}}
    field_name = config.group_by or default_group_field(rows)
    if field_name:
        extra["_groups"], extra["_group_field"] = item_groups(rows, field_name), field_name
    if config.overcorrection:
        from .overcorrection import run_overcorrection

        extra["overcorrection"] = run_overcorrection(config, model, tokenizer, judge, out, benign=benign, **generation)
    return extra


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that determine the results (None when not installed)."""
    versions: dict[str, str | None] = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions

