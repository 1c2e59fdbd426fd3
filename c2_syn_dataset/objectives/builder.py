"""A ``datasets`` builder for the objectives' training rows, beside C2-Syn's (programmatic use).

    from c2_syn_dataset.objectives.builder import ObjectiveBuilder

    builder = ObjectiveBuilder("runs/c2-syn", config_name="derta")   # or "recovery-sft"; utility_ratio=...
    builder.download_and_prepare()
    rows = builder.as_dataset(split="train")   # kind, source_id, request, prefix, cut, response

``backtrack-dpo`` gives backtrack's DPO pairs (kind, source_id, request, prefix, cut, chosen, rejected).

It makes the rows with :func:`c2_syn_dataset.objectives.data.objective_data` from a finished ``c2 syn build``
folder (its ``ranked`` config and ``build.json``), as ``c2 train --objective`` does. Its cache hash covers the
package version, the bytes of the build's ``ranked`` files and manifest, and ``utility_ratio`` (None: the
paper's), so a rebuilt folder never serves stale rows. Not covered: the utility rows' source file itself (read
again from the path ``build.json`` names); pass ``download_mode="force_redownload"`` after editing it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import datasets

from c2kit import __version__

from c2_syn_dataset.card import DATA_LICENSE
from c2_syn_dataset.objectives.card import CITATIONS
from c2_syn_dataset.objectives.data import OBJECTIVE_SCHEMA, PAIR_SCHEMA, PAIRS_SUFFIX, objective_data, read_manifest
from c2_syn_dataset.objectives.recipes import RECIPES

DATASET_NAME = "c2_objectives"


@dataclass
class ObjectiveConfig(datasets.BuilderConfig):
    """``name`` is the objective (``recovery-sft``, ``derta``, ``backtrack``) or ``backtrack-dpo`` (its DPO pairs);
    ``c2syn`` the build folder the rows come from."""

    c2syn: str | None = None
    utility_ratio: float | None = None  # None: the paper's


class ObjectiveBuilder(datasets.GeneratorBasedBuilder):
    """One config per objective of :data:`c2_syn_dataset.objectives.recipes.RECIPES`."""

    BUILDER_CONFIG_CLASS = ObjectiveConfig
    BUILDER_CONFIGS = [ObjectiveConfig(name=name + suffix, version=__version__, description=recipe.paper)
                       for name, recipe in RECIPES.items() for suffix in ("", PAIRS_SUFFIX)[:1 + recipe.reset]]

    def __init__(self, c2syn: str | Path, config_name: str = "recovery-sft", *, utility_ratio: float | None = None,
                 **kwargs) -> None:
        kwargs.setdefault("dataset_name", DATASET_NAME)
        kwargs.setdefault("hash", builder_hash(Path(c2syn), utility_ratio))
        super().__init__(config_name=config_name, c2syn=str(c2syn), utility_ratio=utility_ratio, **kwargs)

    @property
    def _objective(self) -> str:
        return self.config.name.removesuffix(PAIRS_SUFFIX)

    def _info(self) -> datasets.DatasetInfo:
        pairs = self.config.name != self._objective
        return datasets.DatasetInfo(
            description=(f"{self._objective} training {'pairs' if pairs else 'rows'} made from C2-Syn "
                         f"({RECIPES[self._objective].paper})"),
            features=datasets.Features.from_arrow_schema(PAIR_SCHEMA if pairs else OBJECTIVE_SCHEMA),
            license=DATA_LICENSE,
            citation=CITATIONS[self._objective],
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={})]

    def _generate_examples(self) -> Iterator[tuple[int, dict]]:
        c2syn = self.config.c2syn
        ranked = load_ranked(c2syn)
        data = objective_data(self._objective, ranked, origin=f"{c2syn} [ranked]", manifest=read_manifest(c2syn),
                              utility_ratio=self.config.utility_ratio)
        yield from enumerate(data.pairs if self.config.name != self._objective else data.rows)


def load_ranked(c2syn: str | Path):
    """The ``ranked`` config of a local C2-Syn build, read afresh (a folder rebuilt in place is never served from
    the ``datasets`` cache of its old contents)."""
    return datasets.load_dataset(str(c2syn), "ranked", split="train", download_mode="force_redownload",
                                 verification_mode="no_checks")


def builder_hash(c2syn: Path, utility_ratio: float | None) -> str:
    """Package version + the bytes of the build's ``ranked`` files and manifest + ``utility_ratio``."""
    digest = hashlib.sha256(f"{__version__}:{utility_ratio!r}".encode())
    for path in sorted([*c2syn.glob("ranked/*.parquet"), c2syn / "build.json"]):
        if path.is_file():
            digest.update(path.name.encode() + b"\x00" + path.read_bytes())
    return digest.hexdigest()[:20]
