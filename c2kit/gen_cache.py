"""Append-only, resumable cache of generated continuations (SPEC 7).

One directory per cache key: ``<cache dir>/<key hash>/key.json`` holds the key (model identity, chat-template
hash, prefix mode, sampling parameters, seed) and ``rows.jsonl`` the rows, one per path, keyed by
``(item_id, k, path)``. A different key gets a different directory, so it can never be served stale rows.
Each row also carries a fingerprint of the exact prompt token ids: item ids are only row numbers of a
source, so a row is served only when the prompt it was generated from is the one asked for now.

Rows are appended and flushed (and fsynced) after every finished batch, so a killed run loses at most the
batch in flight; a line cut short by a kill mid-write is dropped on the next load. One process writes a
cache at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

KEY_FILE = "key.json"
ROWS_FILE = "rows.jsonl"
ROW_FIELDS = {"item_id": str, "k": int, "path": int, "prompt_sha256": str, "text": str}


class CacheError(ValueError):
    """The cache on disk is inconsistent (wrong key file or a corrupt row); the message names the file."""


@dataclass(frozen=True)
class CachedRow:
    """One generated path of one (item, k) prompt."""

    item_id: str
    k: int
    path: int
    prompt_sha256: str
    text: str


def key_hash(key: dict) -> str:
    """Stable short hash of a cache key (canonical JSON)."""
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def prompt_fingerprint(prompt_ids: Sequence[int]) -> str:
    """sha256 of the exact model input, so rows of a changed prompt are never served."""
    return hashlib.sha256(",".join(map(str, prompt_ids)).encode()).hexdigest()[:16]


class GenerationCache:
    """JSONL-backed cache of continuations for one key, under the directory ``path``."""

    def __init__(self, path: str | Path, key: dict) -> None:
        self.key = json.loads(json.dumps(key, sort_keys=True, default=str))  # canonical, JSON-only
        self.dir = Path(path) / key_hash(self.key)
        self.file = self.dir / ROWS_FILE
        self.dir.mkdir(parents=True, exist_ok=True)
        self._check_key_file()
        self._rows: dict[tuple[str, int, int], CachedRow] = {}
        self._load()

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
        lines = "".join(json.dumps(row.__dict__, ensure_ascii=False) + "\n" for row in rows)
        with open(self.file, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())
        for row in rows:
            self._rows[(row.item_id, row.k, row.path)] = row

    def _check_key_file(self) -> None:
        key_file = self.dir / KEY_FILE
        if key_file.exists():
            stored = json.loads(key_file.read_text(encoding="utf-8"))
            if stored != self.key:
                raise CacheError(f"{key_file}: stored key differs from the requested one (hash collision?)")
        else:
            key_file.write_text(json.dumps(self.key, indent=2, sort_keys=True), encoding="utf-8")

    def _load(self) -> None:
        if not self.file.exists():
            return
        data = self.file.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            # The last line was cut short by a kill mid-write; drop it so the next append starts clean.
            with open(self.file, "r+b") as handle:
                handle.truncate(complete)
        for line_number, line in enumerate(data[:complete].decode("utf-8").splitlines(), start=1):
            if line.strip():
                row = _parse_row(line, self.file, line_number)
                self._rows[(row.item_id, row.k, row.path)] = row


def _parse_row(line: str, file: Path, line_number: int) -> CachedRow:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise CacheError(f"{file}, line {line_number}: not valid JSON ({error.msg}); delete the file to regenerate") from None
    if not isinstance(record, dict):
        raise CacheError(f"{file}, line {line_number}: expected a JSON object")
    for name, kind in ROW_FIELDS.items():
        if not isinstance(record.get(name), kind):
            raise CacheError(f"{file}, line {line_number}: field {name!r} is missing or not {kind.__name__}")
    return CachedRow(**{name: record[name] for name in ROW_FIELDS})
