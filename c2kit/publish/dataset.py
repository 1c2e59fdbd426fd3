"""``c2 publish dataset``: a C2-Syn build directory (Parquet configs + card) as a gated Hub dataset.

The directory is what ``c2 syn build`` writes: ``README.md`` whose YAML ``configs`` list ``pairs`` and
``ranked``, their Parquet files, and the build manifest ``build.json``. Before upload the Parquet files are
checked against the configs and the C2-Syn schema, and the card is rendered again by the builder's own
``render_card`` from ``build.json`` and the row counts of the files being uploaded (so its statistics are the
build's), with the Hub id in its usage snippet and gated-access metadata added.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from c2_syn_dataset.card import render_card as render_syn_card
from c2_syn_dataset.schema import CONFIG_SCHEMAS, N_PAIRS
from c2_syn_dataset.shards import MANIFEST, read_manifest

from .cards import GATED_FIELDS, GATED_PROMPT, parse_card
from .hub import FileSource, PublishError, PublishResult, check_repo_id, publish_files
from .local_paths import collect_local_paths

README = "README.md"
REQUIRED_CONFIGS = ("pairs", "ranked")


@dataclass(frozen=True)
class SynDir:
    """A checked C2-Syn directory."""

    path: Path
    manifest: dict
    data_files: dict[str, list[str]]  # config -> Parquet paths relative to ``path``
    rows: dict[str, int]  # config -> rows over its files


def read_syn_dir(path: str | Path) -> SynDir:
    """Check a C2-Syn directory for publishing; ``PublishError`` names the file, config or field at fault."""
    from huggingface_hub import DatasetCard

    folder = Path(path)
    if not folder.is_dir():
        raise PublishError(f"{folder}: not a directory (expected the --out directory of 'c2 syn build')")
    readme = folder / README
    if not readme.is_file():
        raise PublishError(f"{folder}: no {README} (the dataset card with the configs); run 'c2 syn build' to write it")
    try:
        card = parse_card(DatasetCard, readme.read_text(encoding="utf-8"), source=str(readme))
    except ValueError as error:
        raise PublishError(str(error)) from None
    configs = card.data.to_dict().get("configs") or []
    names = [config.get("config_name") for config in configs if isinstance(config, dict)]
    missing = [name for name in REQUIRED_CONFIGS if name not in names]
    if missing:
        raise PublishError(f"{readme}: YAML 'configs' lacks {missing} (a C2-Syn card lists {list(REQUIRED_CONFIGS)})")
    try:
        manifest = read_manifest(folder)
    except (FileNotFoundError, ValueError) as error:  # each names the file; a permission is said by the CLI
        raise PublishError(str(error)) from None

    data_files, rows = {}, {}
    for config in configs:
        name = config["config_name"]
        data_files[name] = _config_files(folder, readme, config)
        rows[name] = sum(_checked_rows(folder / file, name) for file in data_files[name])
    if rows["pairs"] != rows["ranked"] * N_PAIRS:
        raise PublishError(
            f"{folder}: config 'pairs' has {rows['pairs']} rows but 'ranked' has {rows['ranked']} requests "
            f"({N_PAIRS} pairs each = {rows['ranked'] * N_PAIRS}); the files come from different builds"
        )
    return SynDir(folder, manifest, data_files, rows)


def _config_files(folder: Path, readme: Path, config: dict) -> list[str]:
    """The Parquet files a config's ``data_files`` patterns match, relative to ``folder``.

    Only files inside ``folder`` are published: a pattern that is absolute or climbs out with ``..``, and a
    match that is a symlink (or lies under one) leading outside the folder, are refused. Otherwise the
    upload (and a ``--out`` preview) would write outside its own folder and the secret scan would miss it.
    """
    name = config["config_name"]
    entries = config.get("data_files")
    if not isinstance(entries, list) or not entries:
        raise PublishError(f"{readme}: config {name!r} has no data_files list")
    root = folder.resolve()
    files: list[str] = []
    for entry in entries:
        patterns = entry.get("path") if isinstance(entry, dict) else None
        for pattern in [patterns] if isinstance(patterns, str) else patterns or []:
            if not isinstance(pattern, str) or not pattern.strip():
                raise PublishError(f"{readme}: config {name!r}: data file {pattern!r} is not a path")
            if Path(pattern).is_absolute() or Path(pattern).drive or ".." in Path(pattern.replace("\\", "/")).parts:
                raise PublishError(f"{readme}: config {name!r}: data file {pattern!r} points outside the dataset "
                                   f"folder {folder}; data_files must be relative paths inside it")
            matches = sorted(glob.glob(str(folder / pattern)))
            if not matches:
                raise PublishError(f"{readme}: config {name!r}: data file {pattern!r} matches nothing in {folder}")
            for match in matches:
                resolved = Path(match).resolve()
                if not resolved.is_relative_to(root):
                    raise PublishError(f"{match}: config {name!r}: a symlink to {resolved}, outside the dataset "
                                       f"folder {folder}; copy the file into the folder instead")
                files.append(str(Path(match).relative_to(folder)))
    for file in files:
        if not file.endswith(".parquet"):
            raise PublishError(f"{folder / file}: config {name!r} must be Parquet")
    return files


def _checked_rows(path: Path, config: str) -> int:
    """Rows of a Parquet file (from its footer), after checking its columns against the C2-Syn schema."""
    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises ArrowInvalid & co. for a broken file
        raise PublishError(f"{path}: not a readable Parquet file ({error})") from None
    expected = CONFIG_SCHEMAS.get(config)
    if expected is not None:
        missing = [name for name in expected.names if name not in parquet.schema_arrow.names]
        if missing:
            raise PublishError(f"{path}: config {config!r} lacks field(s) {missing} (expected {expected.names})")
    return parquet.metadata.num_rows


def _empty_sr(syn: SynDir) -> int:
    """Requests whose SR (rank 0 response) is empty: the builder's card reports them."""
    total = 0
    for file in syn.data_files["ranked"]:
        responses = pq.read_table(syn.path / file, columns=["responses"]).column("responses")
        total += pc.sum(pc.equal(pc.list_element(responses, 0), "")).as_py() or 0
    return total


def dataset_card(syn: SynDir, repo_id: str, *, gated: str) -> str:
    """The builder's card for this build, pointing at ``repo_id``, with gated-access metadata when gated."""
    from huggingface_hub import DatasetCard

    card = render_syn_card(syn.manifest, n_requests=syn.rows["ranked"], empty_sr=_empty_sr(syn), load_path=repo_id)
    if gated != "none":
        card.data.extra_gated_prompt = GATED_PROMPT
        card.data.extra_gated_fields = GATED_FIELDS
    return str(parse_card(DatasetCard, str(card), source=f"card of {syn.path}"))


def publish_dataset(
    dataset_dir: str | Path,
    *,
    repo_id: str,
    public: bool = False,
    dry_run: bool = False,
    preview_dir: str | Path | None = None,
    gated: str = "auto",
) -> PublishResult:
    """Check, preview or upload a C2-Syn directory as the dataset ``repo_id`` (private and gated by default)."""
    check_repo_id(repo_id)
    syn = read_syn_dir(dataset_dir)
    files: dict[str, FileSource] = {
        file: syn.path / file for config_files in syn.data_files.values() for file in config_files
    }
    files[MANIFEST] = syn.path / MANIFEST
    files[README] = dataset_card(syn, repo_id, gated=gated).encode("utf-8")
    return publish_files(
        files,
        repo_id=repo_id,
        repo_type="dataset",
        public=public,
        dry_run=dry_run,
        preview_dir=preview_dir,
        gated=gated,
        commit_message=f"Publish C2-Syn ({syn.rows['pairs']} pairs) with c2-toolkit",
        roots=[syn.path],
        local_paths=collect_local_paths(syn.path, syn.path.resolve(), syn.manifest),
    )
