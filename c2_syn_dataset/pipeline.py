"""``c2 syn build``: select requests, generate their responses chunk by chunk, write parts, merge.

Resuming: finished chunks are part files and are skipped; within the chunk in flight, finished
generations are in the generation cache (``OUT/cache/``) and are read back, the regenerations of empty SRs in
caches of their own beside it (one per seed). A killed build, re-run with the same command, therefore redoes at
most one generate batch. Re-running a finished build generates nothing and merges again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from c2kit import __version__
from c2kit.errors import UserError
from c2kit.gen_cache import GenerationCache
from c2kit.locks import lock_output_folder
from c2kit.prefill import resolve_chat_template, template_hash
from c2kit.quiet import progress_shown
from c2kit.sources import LoadedSource, load_source

from c2_syn_dataset import shards
from c2_syn_dataset.filtering import SelectionStats, SynRequest, select_requests
from c2_syn_dataset.settings import BuildSettings, spelling_free
from c2_syn_dataset.synthesis import synthesize

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    """The kept requests of a build, split into chunks, and how they were selected."""

    requests: list[SynRequest]
    stats: SelectionStats
    source_sha256: str
    chunk_size: int

    @property
    def chunks(self) -> list[list[SynRequest]]:
        return [self.requests[i:i + self.chunk_size] for i in range(0, len(self.requests), self.chunk_size)]


def source_sha256(loaded: LoadedSource) -> str:
    """Content hash of the validated rows and the skip counts (works for files and Hub datasets alike)."""
    digest = hashlib.sha256()
    for row in loaded.rows:
        digest.update(json.dumps([row.source_id, row.request, row.responses, row.safe]).encode() + b"\n")
    digest.update(json.dumps(sorted(loaded.skipped.items())).encode())
    return digest.hexdigest()


def repeated_rows(loaded: LoadedSource) -> int:
    """Rows whose request and responses an earlier row already gave (each would yield the same pairs again)."""
    seen: set[str] = set()
    for row in loaded.rows:
        seen.add(json.dumps([row.request, row.responses, row.safe]))
    return len(loaded.rows) - len(seen)


def prepare(settings: BuildSettings) -> Plan:
    """Load the source and select the requests; raise when none is kept (with the counts)."""
    # Duplicate rows stay, as they always have: dropping them would change the source hash, and so the id, of
    # every earlier build of a source that has some.
    loaded = load_source(settings.source, split=settings.split, column_mapping=settings.column_mapping,
                         drop_duplicates=False)
    requests, stats = select_requests(loaded, seed=settings.seed, limit=settings.limit,
                                      whole_word=settings.whole_word)
    stats.repeated_rows = repeated_rows(loaded)
    if not requests:
        raise UserError(f"{loaded.origin}: no request passed the C2-Syn filter\n{stats.to_markdown()}")
    return Plan(requests, stats, source_sha256(loaded), settings.chunk_size)


def fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def generator_fingerprint_identity(identity: dict) -> dict:
    """The generator's identity as the build id sees it: a local model or adapter by its folder name and content
    hash, not its path (:func:`~c2_syn_dataset.settings.spelling_free`), a Hub id unchanged."""
    return {**identity, **{key: spelling_free(identity[key]) for key in ("model", "adapter") if identity.get(key)}}


def make_manifest(settings: BuildSettings, plan: Plan, generator_identity: dict, template_sha: str,
                  engine=None) -> dict:
    """The build description written to ``build.json``; its fingerprint covers everything data-relevant."""
    import datasets
    import torch
    import transformers

    sampling = settings.sampling().as_dict()
    data = {
        "c2kit_version": __version__,
        "source": {"origin": plan.stats.origin, "sha256": plan.source_sha256},
        "settings_data": settings.data_dict(),
        "generator": generator_fingerprint_identity(generator_identity),
        "chat_template_sha256": template_sha,
        "sampling": sampling,
    }
    engine_identity = engine.cache_identity() if engine is not None else None
    if engine_identity is not None:  # the default engine adds nothing: earlier builds keep their fingerprint
        data["engine"] = engine_identity
    return {
        "format": 1,
        "fingerprint": fingerprint(data),
        **{key: value for key, value in data.items() if key != "settings_data"},
        "settings": settings.to_dict(),
        "selection": plan.stats.to_dict(),
        "n_requests": len(plan.requests),
        "chunk_size": plan.chunk_size,
        "chunk_ids_sha256": [shards.ids_sha256([r.source_id for r in chunk]) for chunk in plan.chunks],
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "datasets": datasets.__version__},
        **({"engine_info": {**settings.engine.record(), **engine.info()}} if engine is not None else {}),
    }


def open_generator(settings: BuildSettings):
    """The generator in its engine (:func:`c2kit.engines.open_engine`), its tokenizer and identity here."""
    from c2kit.engines import ModelRequest, open_engine

    return open_engine(settings.engine_settings(), ModelRequest(
        settings.generator, revision=settings.revision, dtype=settings.dtype,
        trust_remote_code=settings.trust_remote_code, adapter=settings.adapter, load_in_4bit=settings.load_in_4bit,
        batch_tokens=settings.batch_tokens))


def check_parity(settings: BuildSettings, requests, tokenizer, engine, template: str) -> dict:
    """Before generating: the engine must tokenize (and template) a sample of the build's prompts as we do."""
    from c2kit.engines import chat_messages_probe, parity_probes
    from c2_syn_dataset.synthesis import build_prompts

    sample_size = settings.engine.parity_sample
    sample = requests[:max(1, sample_size // 5)]
    return engine.check_parity(parity_probes(
        tokenizer, build_prompts(tokenizer, sample, template), sample=sample_size,
        messages_of=chat_messages_probe({r.source_id: r.request for r in sample}, enabled=not settings.plain_template)))


def run_build(
    settings: BuildSettings,
    out_dir: str | Path,
    *,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
) -> dict:
    """Build (this shard of) C2-Syn into ``out_dir``; merge when every chunk's part is there.

    Returns ``{"merged", "selection" (SelectionStats), "chunks" (this shard's, all), "fingerprint"}``
    plus, once merged, ``n_requests`` (written), ``n_pairs``, ``empty_sr`` (SRs regenerated, requests dropped),
    ``files`` and ``table``.
    """
    index, count = shard
    out = Path(out_dir)
    # Shards of one build share the folder; an eval run (or a folder holding one's results) is refused.
    lock = lock_output_folder(out, "c2 syn build", shared=True)
    try:
        return _prepare_and_build(settings, out, index, count, progress)
    finally:
        lock.release()


def _prepare_and_build(settings: BuildSettings, out: Path, index: int, count: int, progress: bool) -> dict:
    plan = prepare(settings)
    logger.info("selection: %d of %d rows kept", plan.stats.kept, plan.stats.rows_read)
    opened = open_generator(settings)
    try:
        return _build_with(settings, out, plan, opened, index, count, progress)
    finally:
        opened.engine.close()


def _build_with(settings, out, plan, opened, index, count, progress) -> dict:
    generator, engine = opened.loaded, opened.engine
    template = resolve_chat_template(generator.tokenizer, settings.plain_template)
    check_parity(settings, plan.requests, generator.tokenizer, engine, template)
    manifest = make_manifest(settings, plan, generator.identity, template_hash(template),
                             engine=None if settings.engine.is_default else engine)
    shards.init_build_dir(out, manifest)

    chunks = plan.chunks
    mine = [j for j in range(len(chunks)) if j % count == index]
    todo = [j for j in mine if not shards.part_done(out, j, manifest)]
    cache_dir = out / "cache" / f"shard-{index}-of-{count}"
    key = {"task": "c2-syn", "fingerprint": manifest["fingerprint"]}
    cache = GenerationCache(cache_dir, key)

    def regeneration_cache(sampling):  # one cache per regeneration's sampling, beside the build's own
        return GenerationCache(cache_dir, {**key, "regeneration": sampling.as_dict()})

    sampling = settings.sampling()
    total = sum(len(chunks[j]) for j in mine)
    with tqdm(total=total, initial=total - sum(len(chunks[j]) for j in todo), unit="req",
              desc=f"C2-Syn shard {index}/{count}", disable=not (progress and progress_shown())) as bar:
        for j in todo:
            made = synthesize(generator.model, generator.tokenizer, chunks[j], sampling, template=template,
                              batch_tokens=settings.batch_tokens, cache=cache,
                              regeneration_cache=regeneration_cache, engine=engine)
            shards.write_part(out, j, made.ranked, manifest["fingerprint"], regenerated=made.regenerated)
            bar.update(len(chunks[j]))
    complete = all(shards.part_path(out, j).exists() for j in range(len(chunks)))
    result = {"merged": complete, "selection": plan.stats, "chunks": (len(mine), len(chunks)),
              "fingerprint": manifest["fingerprint"]}
    if complete:
        result.update(shards.merge_build([out]))
    return result
