"""The C2-Syn dataset card (README.md): YAML metadata for the Hub and ``load_dataset``, and the text.

This is the one place the card is rendered (the publish step reuses :func:`render_card`), from the template
``hub_cards/c2_syn_dataset_card.md``. The YAML ``configs`` list ``pairs`` (default) and ``ranked`` with
``data_files`` as ``[{split, path}]``, which is what makes ``load_dataset(DIR, "pairs")`` work offline and on
the Hub (datasets >= 4 has no scripts).
Everything in the card comes from the build manifest, so the same build gives the same card.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from huggingface_hub import DatasetCard, DatasetCardData

from c2_syn_dataset.filtering import MIN_WORDS, SelectionStats
from c2_syn_dataset.pairs import file_prefix
from c2_syn_dataset.schema import N_PAIRS, RANK_NAMES
from c2_syn_dataset.synthesis import regeneration_rule
from c2kit.protocol import TRIGGERS

TEMPLATE = "c2_syn_dataset_card.md"  # in the project's hub_cards/, shipped as c2kit package data
HUB_CARDS = ("publish", "hub_cards")  # where hub_cards/ lies inside the installed c2kit package
EMPTY_SR = "empty_sr"  # build.json's record of the empty SRs (generated again, requests dropped), by the merge

# Shared by every Hub card of the project. They live here, not in c2kit.publish.cards (which imports them), because
# c2kit.publish imports this module: the builder's card must not depend on the publishing package.
DATA_LICENSE = "cc-by-nc-4.0"
SOURCE_DATASET = "PKU-Alignment/PKU-SafeRLHF"
CITATION = """\
@inproceedings{xu-etal-2024-course,
  title = {Course-Correction: Safety Alignment Using Synthetic Preferences},
  author = {Xu, Rongwu and Cai, Yishuo and Zhou, Zhenhong and Gu, Renjie and Weng, Haiqin and Liu, Yan and
            Zhang, Tianwei and Xu, Wei and Qiu, Han},
  booktitle = {Proceedings of the 2024 Conference on Empirical Methods in Natural Language Processing: Industry Track},
  month = nov,
  year = {2024},
  address = {Miami, Florida, US},
  publisher = {Association for Computational Linguistics},
  pages = {1622--1649},
  url = {https://aclanthology.org/2024.emnlp-industry.119},
  eprint = {2407.16637},
  archivePrefix = {arXiv}
}"""
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))


def template_path(name: str) -> Path:
    """Path of a card template of ``hub_cards/`` (package data of ``c2kit``, reached through its link)."""
    path = Path(str(resources.files("c2kit").joinpath(*HUB_CARDS, name)))
    if not path.is_file():
        raise FileNotFoundError(
            f"card template {name} not found at {path}: the hub_cards templates must be installed with c2kit "
            "(package data 'publish/hub_cards/*.md')"
        )
    return path


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` tag for ``n`` rows (e.g. ``1K<n<10K``)."""
    return next((tag for bound, tag in SIZE_CATEGORIES if n < bound), "100M<n<1B")


def configs(build_id: str) -> list[dict]:
    """The card's ``configs``: ``pairs`` (default) and ``ranked``, each a train split of its Parquet files."""
    prefix = file_prefix(build_id)
    return [
        {"config_name": "pairs", "data_files": [{"split": "train", "path": f"pairs/{prefix}-*.parquet"}],
         "default": True},
        {"config_name": "ranked", "data_files": [{"split": "train", "path": f"ranked/{prefix}-*.parquet"}]},
    ]


def _generator_ref(generator: dict) -> str:
    """What exactly generated the data: revision or content hash, adapter, quantization."""
    if generator.get("revision"):
        parts = [f"revision `{generator['revision']}`"]
    else:
        parts = [f"content sha256 `{str(generator.get('content_sha256'))[:16]}`"]
    if generator.get("adapter"):
        parts.append(f"adapter `{generator['adapter']}` (sha256 `{str(generator.get('adapter_sha256'))[:16]}`)")
    if generator.get("load_in_4bit"):
        parts.append("4-bit NF4")
    if generator.get("is_tiny"):
        parts.append("**a tiny random-weight smoke model: this data is for testing only**")
    return ", ".join(parts)


LOCAL_LOAD_PATH = "./c2-syn"  # the usage snippet of a local build's card: a path, never a bare name


def local_load_note(load_path: str) -> str | None:
    """For a local card (``load_path`` is a path): why the snippet uses a path, not the folder's bare name.

    A bare name such as ``c2-syn`` is a Hub id to ``datasets``: it finds the folder only from its parent
    directory, and offline it falls back, with only a log line, to whatever it cached under that name.
    """
    if not load_path.startswith(("./", "../", "/")):
        return None  # a Hub id: the published card
    return ("Load a local copy by its path: `./c2-syn` from the folder above it (the same card is written "
            "whatever the folder is called, so use its own name), `runs/c2-syn`, or an absolute path. A bare "
            "`load_dataset(\"c2-syn\")` treats the name as a Hub id: it finds the folder only from its parent "
            "directory, and offline anywhere else `datasets` silently serves the copy it cached under that name, "
            "possibly from another folder or build.")


def build_table(stats: SelectionStats, *, n_requests: int, empty_sr: dict | None = None,
                kept_empty_sr: int = 0) -> str:
    """The build statistics table: selection steps, empty SRs, pairs (card and terminal alike).

    ``empty_sr``: the merge's record (``build.json``) of SRs generated again and requests dropped; None for a
    build made before empty SRs were generated again, which may hold ``kept_empty_sr`` of them.
    """
    rows = stats.to_markdown()
    if empty_sr is not None:
        rows += (f"\n| SR came back empty, generated again and kept | {empty_sr['regenerated']:,} |"
                 f"\n| SR still empty after {empty_sr['regenerations']} regenerations: request dropped | "
                 f"{len(empty_sr['dropped']):,} |")
    if kept_empty_sr:
        rows += f"\n| SR generated empty (kept) | {kept_empty_sr:,} |"
    return rows + f"\n| pairs ({N_PAIRS} per request) | {n_requests * N_PAIRS:,} |"


def render_card(manifest: dict, *, n_requests: int, empty_sr: int = 0, load_path: str = LOCAL_LOAD_PATH) -> DatasetCard:
    """The dataset card of a build described by ``manifest`` (``build.json``) with ``n_requests`` groups.

    ``empty_sr``: requests whose SR is empty in the data (only a build made before empty SRs were generated
    again has any); ``load_path``: the name shown in the usage snippet (a Hub id once published; for a local
    build a path, with a note on the bare-name pitfall).
    """
    settings, generator, sampling = manifest["settings"], manifest["generator"], manifest["sampling"]
    stats = SelectionStats.from_dict(manifest["selection"])
    n_pairs = n_requests * N_PAIRS
    # Rows read in the PKU-SafeRLHF schema (no request/harmful_response mapping) come from PKU-SafeRLHF.
    pku_schema = "harmful_response" not in (settings.get("column_mapping") or {})
    card_data = DatasetCardData(
        language="en",
        license=DATA_LICENSE,
        pretty_name="C2-Syn",
        size_categories=size_category(n_pairs),
        task_categories=["text-generation"],
        source_datasets=[SOURCE_DATASET] if pku_schema else None,
        tags=["dpo", "preference", "safety", "course-correction", "synthetic", "not-for-all-audiences"],
        configs=configs(manifest["fingerprint"]),
    )
    record = manifest.get(EMPTY_SR)
    stats_rows = build_table(stats, n_requests=n_requests, empty_sr=record, kept_empty_sr=empty_sr)
    if sampling["do_sample"]:
        decoding = f"sampling (temperature {sampling['temperature']}, top-p {sampling['top_p']}, 1 path)"
    else:
        decoding = "greedy decoding"
    return DatasetCard.from_template(
        card_data,
        template_path=str(template_path(TEMPLATE)),
        n_requests=f"{n_requests:,}",
        n_pairs=f"{n_pairs:,}",
        n_kept=f"{stats.kept:,}",
        sr_rule=regeneration_rule(sampling) if record is not None else None,
        load_path=load_path,
        local_load_note=local_load_note(load_path),
        source=manifest["source"]["origin"],
        source_sha=manifest["source"]["sha256"][:16],
        question_mode="as whole words" if settings["whole_word"] else "as a substring",
        min_words=MIN_WORDS,
        pairs_per_request=N_PAIRS,
        generator=generator["model"],
        generator_ref=_generator_ref(generator),
        decoding=decoding,
        max_new_tokens=sampling["max_new_tokens"],
        seed=settings["seed"],
        stats_table=stats_rows,
        rank_names=", ".join(f"{i} = {name}" for i, name in enumerate(RANK_NAMES)),
        trigger_examples='", "'.join(TRIGGERS[:3]),
        source_dataset=SOURCE_DATASET,
        citation=CITATION,
    )
