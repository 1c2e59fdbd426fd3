"""A ``datasets`` builder that makes C2-Syn on the fly from a source and a generator (programmatic use).

    from c2_syn_dataset.builder import C2SynBuilder
    from c2_syn_dataset.settings import BuildSettings

    settings = BuildSettings(source="PKU-Alignment/PKU-SafeRLHF", generator="meta-llama/Llama-2-7b-chat-hf",
                             limit=1000, load_in_4bit=True)
    builder = C2SynBuilder(settings, config_name="pairs")      # or "ranked"
    builder.download_and_prepare()
    pairs = builder.as_dataset(split="train")

It runs the same selection, chunking and synthesis code as ``c2 syn build``, so the same settings give
the same rows. datasets >= 4 cannot load a builder from a script by name, so instantiate the class.

Caching: the builder has an explicit ``dataset_name`` and a ``hash`` made of the package version, the
source content hash, the data settings and the generator's identity (Hub commit, or content hash of a
local directory's config and weights; a local adapter's weights), so edited code, data or weights never
serve a stale cache. Not covered: editing only the chat template files of a local generator directory;
pass ``download_mode="force_redownload"`` after doing that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import datasets

from c2kit import __version__
from c2kit.prefill import resolve_chat_template

from c2_syn_dataset.pairs import pairs_from_ranked
from c2_syn_dataset.pipeline import check_parity, fingerprint, generator_fingerprint_identity, open_generator, prepare
from c2_syn_dataset.schema import CONFIG_SCHEMAS
from c2_syn_dataset.settings import BuildSettings
from c2_syn_dataset.synthesis import kept_groups, synthesize

DATASET_NAME = "c2_syn"


@dataclass
class C2SynConfig(datasets.BuilderConfig):
    """``name`` is ``pairs`` or ``ranked``; ``settings`` says what to build."""

    settings: BuildSettings | None = None


class C2SynBuilder(datasets.GeneratorBasedBuilder):
    """C2-Syn built by generating with ``settings.generator``; configs ``pairs`` (default) and ``ranked``."""

    BUILDER_CONFIG_CLASS = C2SynConfig
    BUILDER_CONFIGS = [
        C2SynConfig(name="pairs", version=__version__, description="all 15 (chosen, rejected) pairs per request"),
        C2SynConfig(name="ranked", version=__version__, description="one row per request with its six responses"),
    ]
    DEFAULT_CONFIG_NAME = "pairs"

    def __init__(self, settings: BuildSettings, config_name: str = "pairs", **kwargs) -> None:
        self._plan = prepare(settings)  # also fails early, with counts, when no request is kept
        kwargs.setdefault("dataset_name", DATASET_NAME)
        kwargs.setdefault("hash", builder_hash(settings, self._plan.source_sha256))
        super().__init__(config_name=config_name, settings=settings, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="C2-Syn synthetic course-correction preferences (Xu et al., 2024, arXiv 2407.16637)",
            features=datasets.Features.from_arrow_schema(CONFIG_SCHEMAS[self.config.name]),
            license="cc-by-nc-4.0",
            citation="Xu et al., Course-Correction: Safety Alignment Using Synthetic Preferences, EMNLP 2024 Industry",
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={})]

    def _generate_examples(self) -> Iterator[tuple[int, dict]]:
        settings = self.config.settings
        opened = open_generator(settings)
        with opened.engine as engine:  # the chosen engine, checked as c2 syn build checks it
            tokenizer = opened.loaded.tokenizer
            template = resolve_chat_template(tokenizer, settings.plain_template)
            check_parity(settings, self._plan.requests, tokenizer, engine, template)
            sampling = settings.sampling()
            key = 0
            for chunk in self._plan.chunks:  # the CLI's chunks, so batches (and outputs) match it
                made = synthesize(None, tokenizer, chunk, sampling, template=template, engine=engine)
                ranked, _ = kept_groups(made.ranked)  # as the merge does: no request whose SR stayed empty
                table = ranked if self.config.name == "ranked" else pairs_from_ranked(ranked)
                for row in table.to_pylist():
                    yield key, row
                    key += 1


def builder_hash(settings: BuildSettings, source_sha: str) -> str:
    """Cache hash: package version + source content + data settings + generator identity (no model load)."""
    from c2kit.models import adapter_hash, model_identity

    generator = generator_fingerprint_identity(model_identity(settings.generator, settings.revision))
    if settings.adapter and Path(settings.adapter).is_dir():
        generator["adapter_sha256"] = adapter_hash(Path(settings.adapter))
    data = {"c2kit_version": __version__, "source_sha256": source_sha, "settings": settings.data_dict(),
            "generator": generator}
    if not settings.engine.is_default:  # another engine may sample other texts; the default keeps its hashes
        data["engine"] = settings.engine.name
    return fingerprint(data)
