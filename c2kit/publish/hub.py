"""Shared upload helper: validate a repo id, stage the exact folder to upload, preview it or push it.

Every ``c2 publish`` command builds a mapping ``path in repo -> local file or bytes``, then calls
:func:`publish_files`. The same staging function writes the ``--dry-run`` preview and the temporary folder
that is uploaded, so the preview is byte for byte what would arrive on the Hub. Local absolute paths in text
files are replaced by placeholders first (:mod:`c2kit.publish.local_paths`).

The token comes from ``HF_TOKEN`` or the local ``hf auth login`` (``huggingface_hub.get_token()``); it is
handed to ``HfApi`` in memory only, never written or printed, and the staged files are scanned for it (and for
``OPENAI_API_KEY``) before anything is sent.

Only files inside the folders an artifact is published from are staged: a file reached through a symlink that
leads out of them (``summary.md -> ~/notes.md``) is refused, for every artifact, before anything is read.
A dry run marks its preview folder (``.cache/huggingface/c2-publish-preview.json``, a place ``upload_folder``
and ``hf upload`` ignore), so a later dry run may replace that folder; any other non-empty folder is refused.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from c2kit.errors import UserError

from .files import FileSource
from .local_paths import scrub_files

REPO_TYPES = ("model", "dataset", "space")
GATED_CHOICES = ("auto", "manual", "none")
# Environment variables whose values must never be uploaded (besides the Hub token itself).
SECRET_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "OPENAI_API_KEY")

# Inside a dry run's preview: what marks it as one (Hub uploads skip .cache/huggingface/).
PREVIEW_MARKER = Path(".cache", "huggingface", "c2-publish-preview.json")

logger = logging.getLogger(__name__)


class PublishError(UserError):
    """``c2 publish`` cannot go on: bad input (raised before any request reaches the Hub) or a failed Hub request."""


@dataclass(frozen=True)
class PublishResult:
    repo_id: str
    repo_type: str
    files: tuple[str, ...]  # paths in the repo, sorted
    url: str | None = None  # repo URL after an upload; None for a dry run
    preview_dir: Path | None = None  # where a dry run wrote the folder


def check_repo_id(repo_id: str) -> str:
    """Accept only ``ORG/NAME`` ids that the Hub accepts; publishing under an implicit namespace is refused."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise PublishError(f"--repo-id {repo_id!r} is not a valid Hub repo id: {error}") from None
    namespace, _, name = repo_id.partition("/")
    if not namespace or not name:
        raise PublishError(
            f"--repo-id must have the form ORG/NAME (a user or organisation, then a name), got {repo_id!r}"
        )
    return repo_id


def stage_files(files: Mapping[str, FileSource], folder: Path, *, link: bool = False) -> list[str]:
    """Write ``files`` into ``folder`` (which must be empty or absent); return the sorted repo paths.

    ``link`` hard-links local files instead of copying them where the filesystem allows, so staging a large
    dataset for upload costs no disk; previews always get copies, which the user may edit safely.
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise PublishError(f"{folder} is not empty: remove it or choose another --out")
    for path_in_repo, source in files.items():
        target = folder / path_in_repo
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            target.write_bytes(source)
            continue
        if link:
            try:
                os.link(source, target)
                continue
            except OSError:  # another filesystem, or links not supported: copy
                pass
        shutil.copyfile(source, target)
    return sorted(files)


def check_inside(files: Mapping[str, FileSource], roots: Iterable[str | Path]) -> None:
    """Refuse a local file that resolves outside every folder in ``roots`` (a symlink leading out of the folder
    being published); a ``PublishError`` names the file and where it leads."""
    roots = list(roots)
    resolved = [Path(root).resolve() for root in roots]
    for source in files.values():
        if isinstance(source, bytes):
            continue
        target = Path(source).resolve()
        if not any(target.is_relative_to(root) for root in resolved):
            where = f"the folder{'s' if len(roots) > 1 else ''} being published ({', '.join(map(str, roots))})"
            raise PublishError(f"{source} leads through a symlink to {target}, outside {where}; publish follows "
                               "no link out: copy the file in instead (nothing was staged or uploaded)")


def _is_own_preview(folder: Path) -> bool:
    return not folder.is_symlink() and (folder / PREVIEW_MARKER).is_file()


def _prepare_preview(folder: Path) -> None:
    """Empty ``folder`` if an earlier dry run wrote it (with a notice); refuse any other non-empty folder."""
    if not folder.exists() or not any(folder.iterdir()):
        return
    if not _is_own_preview(folder):
        raise PublishError(f"{folder} is not empty and is not the preview of an earlier dry run: remove it or "
                           "choose another --out")
    shutil.rmtree(folder)
    logger.warning("%s: the preview of an earlier dry run, replaced", folder)


def _mark_preview(folder: Path, repo_id: str) -> None:
    marker = folder / PREVIEW_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"written_by": "c2 publish --dry-run", "repo_id": repo_id}) + "\n",
                      encoding="utf-8")


def format_tree(folder: Path) -> str:
    """A ``tree``-like listing of ``folder`` with file sizes, for the dry-run output (the preview mark left out)."""
    folder = Path(folder)
    lines = [f"{folder}/"]
    hidden = PREVIEW_MARKER.parts[:-1]
    paths = [path for path in folder.rglob("*") if path.relative_to(folder).parts[:len(hidden)] != hidden
             and path.relative_to(folder).parts != hidden[:1]]
    # Sorting by path parts lists every folder right before its content (a pre-order walk).
    for path in sorted(paths, key=lambda p: p.relative_to(folder).parts):
        relative = path.relative_to(folder)
        indent = "│   " * (len(relative.parts) - 1)
        label = f"{relative.name}/" if path.is_dir() else f"{relative.name}  ({_human_size(path.stat().st_size)})"
        lines.append(f"{indent}├── {label}")
    return "\n".join(lines)


def _human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def resolve_token() -> str:
    """The Hub token from ``HF_TOKEN`` or the local login; a clear error when there is none."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise PublishError(
            "no Hugging Face token: set HF_TOKEN in the environment or run `hf auth login` "
            "(a token with write access); use --dry-run to preview without one"
        )
    return token


def assert_no_secrets(folder: Path, extra: tuple[str, ...] = ()) -> None:
    """Refuse to upload a staged folder that contains the Hub token or another known secret."""
    secrets = {value for name in SECRET_ENV_VARS if len(value := os.environ.get(name, "")) >= 8}
    secrets.update(value for value in extra if value and len(value) >= 8)
    if not secrets:
        return
    needles = [secret.encode() for secret in secrets]
    leaks = [
        str(path.relative_to(folder))
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file())
        if _contains_any(path, needles)
    ]
    if leaks:  # name the files, never the secret
        raise PublishError(f"{', '.join(leaks)} contain(s) a secret (a token or API key); nothing was uploaded")


def _contains_any(path: Path, needles: list[bytes], chunk_size: int = 1 << 23) -> bool:
    """Stream the file in chunks (Parquet files can be large), keeping an overlap so no match is split."""
    overlap = max(len(needle) for needle in needles) - 1
    tail = b""
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            window = tail + block
            if any(needle in window for needle in needles):
                return True
            tail = window[-overlap:] if overlap else b""
    return False


def publish_files(
    files: Mapping[str, FileSource],
    *,
    repo_id: str,
    repo_type: str,
    public: bool = False,
    dry_run: bool = False,
    preview_dir: str | Path | None = None,
    space_sdk: str | None = None,
    gated: str = "none",
    commit_message: str,
    roots: Iterable[str | Path],
    local_paths: Iterable[str | Path] = (),
) -> PublishResult:
    """Preview (``dry_run``) or upload ``files`` as one commit to ``repo_id``, creating the repo if needed.

    The repo is created private unless ``public``; an existing repo keeps its visibility. ``gated`` ("auto" or
    "manual") switches on gated access, whose form the card's ``extra_gated_*`` metadata describes, before any
    file is uploaded. A failed Hub request raises ``PublishError`` naming the step.

    ``local_paths`` are the absolute local paths the artifact's files mention: in every text file they (and any
    path under the home directory) are replaced by a placeholder (:mod:`c2kit.publish.local_paths`) before
    staging, for the preview and the upload alike.

    ``roots`` are the folders (or single files) the artifact is published from: a local file in ``files`` that
    resolves outside all of them is refused (:func:`check_inside`).
    """
    if repo_type not in REPO_TYPES:
        raise PublishError(f"unknown repo type {repo_type!r}; expected one of {REPO_TYPES}")
    if gated not in GATED_CHOICES:
        raise PublishError(f"--gated must be one of {GATED_CHOICES}, got {gated!r}")
    check_repo_id(repo_id)
    check_inside(files, roots)
    files = scrub_files(files, local_paths)
    if dry_run:
        from huggingface_hub import get_token

        preview = Path(preview_dir) if preview_dir else Path("publish-preview") / repo_id.replace("/", "__")
        _prepare_preview(preview)
        staged = stage_files(files, preview)
        _mark_preview(preview, repo_id)
        assert_no_secrets(preview, extra=(get_token() or "",))  # the real upload would refuse: say so now
        return PublishResult(repo_id, repo_type, tuple(staged), preview_dir=preview)

    token = resolve_token()
    from huggingface_hub import HfApi

    with tempfile.TemporaryDirectory(prefix="c2-publish-") as tmp:
        staged = stage_files(files, Path(tmp), link=True)
        assert_no_secrets(Path(tmp), extra=(token,))
        api = HfApi(token=token)
        where = f"{repo_type} repo {repo_id}"
        with _hub_errors(f"creating the {where}", "nothing was uploaded"):
            repo_url = api.create_repo(
                repo_id, repo_type=repo_type, private=not public, exist_ok=True, space_sdk=space_sdk
            )
        if gated != "none":  # before the upload: a harmful dataset must never be readable ungated, even briefly
            with _hub_errors(f"switching on gated access ({gated}) for the {where}",
                             "nothing was uploaded; the repo exists but is empty"):
                api.update_repo_settings(repo_id, repo_type=repo_type, gated=gated)
        with _hub_errors(f"uploading to the {where}", "run the same command again to retry"):
            api.upload_folder(repo_id=repo_id, repo_type=repo_type, folder_path=tmp, commit_message=commit_message)
    return PublishResult(repo_id, repo_type, tuple(staged), url=str(repo_url))


@contextmanager
def _hub_errors(action: str, outcome: str) -> Iterator[None]:
    """Turn an HTTP error of the Hub into a ``PublishError`` saying which step failed and what state is left."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except HfHubHTTPError as error:
        raise PublishError(f"{action} failed: {error}; {outcome}") from error
