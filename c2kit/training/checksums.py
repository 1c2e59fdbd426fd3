"""sha256 sums of the weights and states a training run saves, written beside them and checked before reuse.

A file cut short or overwritten with garbage fails to open (safetensors and ``torch.load`` check their headers),
but one whose bytes were changed in place still loads, and resuming from it, or reusing it as the finished
adapter, would go on silently with wrong weights. ``checksums.json`` records the sha256 of each file as it was
saved; :func:`checksum_problem` names the first file that no longer matches. A folder saved without the file (by
an earlier version of c2-toolkit) is not checked this way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from c2kit.errors import UserError
from c2kit.jsonio import read_json, write_json

CHECKSUMS_FILE = "checksums.json"


def write_checksums(folder: Path, names: Iterable[str]) -> None:
    """Record the sha256 of the files ``names`` of ``folder`` that exist (atomically)."""
    sums = {name: _sha256(folder / name) for name in names if (folder / name).is_file()}
    write_json(folder / CHECKSUMS_FILE, {"sha256": sums})


def checksum_problem(folder: Path) -> str | None:
    """The first file of ``folder`` whose sha256 is not the recorded one (or an unreadable record); None: all match."""
    path = folder / CHECKSUMS_FILE
    if not path.is_file():
        return None
    try:
        sums = read_json(path)["sha256"]
        if not isinstance(sums, dict):
            raise UserError("'sha256' is not an object")
    except (OSError, ValueError, KeyError) as error:
        return f"{CHECKSUMS_FILE} unreadable ({error})"
    for name, expected in sums.items():
        if not (folder / name).is_file():
            return f"missing {name}"
        if _sha256(folder / name) != expected:
            return f"{name} is not the file that was saved (its sha256 differs from {CHECKSUMS_FILE}'s)"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:  # in blocks: an optimizer state is several times the adapter's size
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
