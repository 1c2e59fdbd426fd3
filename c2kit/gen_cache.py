"""Append-only, resumable cache of generated continuations.

One directory per cache key: ``<cache dir>/<key hash>/key.json`` holds the key (model identity, chat-template
hash, prefix mode, sampling parameters, seed) and ``rows.jsonl`` the rows, one per path, keyed by
``(item_id, k, path)``. A different key gets a different directory, so it can never be served stale rows.
Each row also carries a fingerprint of the exact prompt token ids: item ids are only row numbers of a
source, so a row is served only when the prompt it was generated from is the one asked for now.

Rows are appended and flushed (and fsynced) after every finished batch, so a killed run loses at most the
batch in flight; a line cut short by a kill mid-write is dropped on the next load.

Integrity: each row carries a checksum of its fields, so a row whose text was edited by hand (or damaged on
disk) is not served: it is dropped with a warning and generated again, like any other damaged line; the
other rows are kept and the damaged file is set aside as ``rows.jsonl.damaged``. ``key.json`` is written
atomically; since the directory's name is the key's hash, a damaged key file is rewritten from the key and
loses no rows.

One writer at a time: a cache directory is locked (``fcntl.flock`` on ``lock``) for as long as a
:class:`GenerationCache` on it is open, so a second process on the same cache stops with a message instead of
doing all the work twice. The lock dies with its process, so a killed run never leaves a stale one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c2kit.errors import UserError
from c2kit.jsonio import set_aside, write_json
from c2kit.locks import DirectoryLock

logger = logging.getLogger(__name__)

KEY_FILE = "key.json"
ROWS_FILE = "rows.jsonl"
LOCK_FILE = "lock"
ROW_FIELDS = {"item_id": str, "k": int, "path": int, "prompt_sha256": str, "text": str}


class CacheError(UserError):
    """The cache on disk is inconsistent (wrong key file or a corrupt row); the message names the file."""


@dataclass(frozen=True)
class CachedRow:
    """One generated path of one (item, k) prompt."""

    item_id: str
    k: int
    path: int
    prompt_sha256: str
    text: str

    def checksum(self) -> str:
        """Short hash of every field, stored with the row so an edited or damaged row is never served."""
        return row_checksum([self.item_id, self.k, self.path, self.prompt_sha256, self.text])

    def to_line(self) -> str:
        return json.dumps({**self.__dict__, "sha256": self.checksum()}, ensure_ascii=False) + "\n"


def row_checksum(fields: Any) -> str:
    """Short hash of a cache row's fields (JSON types; dict keys in sorted order), stored with the row so that a
    row edited by hand or damaged on disk is recognised and never served. Shared with the judge answer cache."""
    material = json.dumps(fields, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def key_hash(key: dict) -> str:
    """Stable short hash of a cache key (canonical JSON)."""
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def prompt_sha256(prompt_ids: Sequence[int]) -> str:
    """sha256 of the exact token ids a prompt sends (the hash ``generations.jsonl`` records per row).

    It does not depend on the engine: the toolkit renders and tokenizes every prompt itself, and every engine
    receives these ids.
    """
    return hashlib.sha256(",".join(map(str, prompt_ids)).encode()).hexdigest()


def prompt_fingerprint(prompt_ids: Sequence[int]) -> str:
    """The first 16 hex digits of :func:`prompt_sha256`: cache rows of a changed prompt are never served."""
    return prompt_sha256(prompt_ids)[:16]


class GenerationCache:
    """JSONL-backed cache of continuations for one key, under the directory ``path``."""

    def __init__(self, path: str | Path, key: dict) -> None:
        self.key = json.loads(json.dumps(key, sort_keys=True, default=str))  # canonical, JSON-only
        self.dir = Path(path) / key_hash(self.key)
        self.file = self.dir / ROWS_FILE
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = DirectoryLock(self.dir, "generation cache", name=LOCK_FILE,
                                   advice=" (this run would then reuse its work) or give another --cache-dir")
        self._check_key_file()
        self._rows: dict[tuple[str, int, int], CachedRow] = {}
        self._load()

    def close(self) -> None:
        """Release this cache's hold on the directory lock (also done when the object is collected)."""
        self._lock.release()


    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, item_id: str, k: int, prompt_sha256: str, num_paths: int) -> list[str] | None:
        """Texts of paths ``0..num_paths-1`` if all are cached for this exact prompt, else None."""
        texts = [self.get(item_id, k, path, prompt_sha256) for path in range(num_paths)]
        return None if None in texts else texts

    def get(self, item_id: str, k: int, path: int, prompt_sha256: str) -> str | None:
        """Text of one path if it is cached for this exact prompt (paths with prompts of their own), else None."""
        row = self._rows.get((item_id, k, path))
        return None if row is None or row.prompt_sha256 != prompt_sha256 else row.text

    def add(self, rows: Iterable[CachedRow]) -> None:
        """Append rows and make them durable before returning (later rows win over earlier ones)."""
        rows = list(rows)
        lines = "".join(row.to_line() for row in rows)
        with open(self.file, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())
        for row in rows:
            self._rows[(row.item_id, row.k, row.path)] = row

    def _check_key_file(self) -> None:
        key_file = self.dir / KEY_FILE
        if key_file.exists():
            try:
                stored = json.loads(key_file.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as error:  # e.g. empty after a kill mid-write (older versions)
                logger.warning("%s: damaged key file (%s) rewritten; the directory name is the key's hash, so "
                               "its rows are kept", key_file, error)
                write_json(key_file, self.key, sort_keys=True)
                return
            if stored != self.key:
                raise CacheError(f"{key_file}: stored key differs from the requested one (hash collision?)")
        else:
            write_json(key_file, self.key, sort_keys=True)  # atomic: a kill never leaves it empty

    def _load(self) -> None:
        if not self.file.exists():
            return
        data = self.file.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            # The last line was cut short by a kill mid-write; drop it so the next append starts clean.
            with open(self.file, "r+b") as handle:
                handle.truncate(complete)
        damaged: list[str] = []
        for line_number, line in enumerate(data[:complete].split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                row = _parse_row(line.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as error:
                damaged.append(f"line {line_number}: {error}")
                continue
            self._rows[(row.item_id, row.k, row.path)] = row
        if damaged:
            self._repair(damaged)

    def _repair(self, damaged: list[str]) -> None:
        """Drop damaged or edited rows (they are generated again), keep the rest, keep a copy of the old file."""
        aside = set_aside(self.file)
        logger.warning("%s: %d damaged or edited row(s) will be generated again (%s%s); %d good rows kept; the "
                       "old file is kept as %s", self.file, len(damaged), damaged[0],
                       f" and {len(damaged) - 1} more" if len(damaged) > 1 else "", len(self._rows), aside)
        temporary = self.file.with_name(ROWS_FILE + ".repair")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write("".join(row.to_line() for row in self._rows.values()))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.file)  # one atomic step: never a moment without the good rows


def _parse_row(line: str) -> CachedRow:
    """One cache row, or ValueError saying what is wrong with it (bad JSON, a field, its checksum)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise UserError(f"not valid JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise UserError("not a JSON object")
    for name, kind in ROW_FIELDS.items():
        if not isinstance(record.get(name), kind) or isinstance(record.get(name), bool):
            raise UserError(f"field {name!r} is missing or not {kind.__name__}")
    row = CachedRow(**{name: record[name] for name in ROW_FIELDS})
    if record.get("sha256") != row.checksum():
        raise UserError("checksum mismatch (the row was edited or damaged)")
    return row
