"""On-disk answer cache for paid judges: one JSONL row per answered input, appended as answers arrive.

Each row carries a checksum of its fields (``sha256``, as the generation cache's rows do), so an answer edited
by hand or damaged on disk is never read as a verdict: it is dropped and its input is asked again. Rows
without a checksum (written by versions before checksums) cannot be told apart from edited ones, so they are
asked again too, once; the answers that replace them carry a checksum. Either way one warning names the file
and counts the rows, and the old file is kept beside it for inspection.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from c2kit.errors import UserError
from c2kit.gen_cache import row_checksum
from c2kit.jsonio import set_aside, write_jsonl
from c2kit.paths import cache_root

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/c2-toolkit/judge`` (``~/.cache/c2-toolkit/judge`` when unset)."""
    return cache_root() / "judge"


CHECKSUM_FIELD = "sha256"


def with_checksum(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` (without a checksum) as stored: with the checksum of its other fields."""
    return {**row, CHECKSUM_FIELD: row_checksum(row)}


class _Unchecked(ValueError):
    """A row without a checksum (an older version wrote it): not trusted, asked again."""


def _parse_row(line: str) -> dict[str, Any]:
    row = json.loads(line)  # JSONDecodeError is a ValueError
    if not isinstance(row, dict) or not isinstance(row.get("key"), str) or not isinstance(row.get("corrected"), bool):
        raise UserError("expected an object with a string 'key' and a boolean 'corrected'")
    stored = row.pop(CHECKSUM_FIELD, None)
    if stored is None:
        raise _Unchecked("no checksum")
    if stored != row_checksum(row):
        raise UserError("checksum mismatch (the row was edited or damaged)")
    return row


class AnswerCache:
    """Thread-safe JSONL cache mapping a request hash (``key``) to a stored row with ``corrected``.

    Rows are appended and flushed one by one, so an interrupted run keeps every answer it paid for;
    a half-written last line (the process was killed mid-write) is dropped with a warning. Damaged, edited and
    unchecked lines elsewhere (an edit gone wrong, disk trouble, an older version's rows) are repaired, not
    fatal: the good rows are kept and written back, and the old file is set aside as ``NAME.damaged`` (or
    ``NAME.unchecked`` when it only held rows without a checksum) for inspection.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._needs_newline = False
        self._truncate_to: int | None = None  # byte length without a half-written last line
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()  # bytes: offsets stay right even next to invalid UTF-8
        lines = data.split(b"\n")
        damaged: list[int] = []
        unchecked: list[int] = []
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                row = _parse_row(raw.decode("utf-8"))
            except _Unchecked:
                unchecked.append(number)
                continue
            except (ValueError, UnicodeDecodeError) as error:
                if number == len(lines):  # last line without newline: an interrupted write
                    logger.warning("%s: dropping a half-written last line (%s)", self.path, error)
                    self._truncate_to = len(data) - len(raw)
                    continue
                damaged.append(number)
                continue
            self._rows[row["key"]] = row
        if damaged or unchecked:
            self._repair(damaged, unchecked)
            return
        # Never glue a new row onto a complete last row that lacks its newline.
        self._needs_newline = self._truncate_to is None and bool(data) and not data.endswith(b"\n")

    def _repair(self, damaged: list[int], unchecked: list[int]) -> None:
        """Keep every good answer: the good rows replace the file in one atomic step, after the old file was
        copied aside (deleting the file would throw away answers that were paid for)."""
        aside = set_aside(self.path, ".damaged" if damaged else ".unchecked")
        found = []
        if damaged:
            found.append(f"{len(damaged)} damaged or edited line(s) (line {_shown(damaged)})")
        if unchecked:
            found.append(f"{len(unchecked)} line(s) without a checksum, written by an older version (line "
                         f"{_shown(unchecked)})")
        logger.warning("%s: %s dropped: their inputs are asked again; %d good answers kept; the old file is kept "
                       "as %s", self.path, " and ".join(found), len(self._rows), aside)
        write_jsonl(self.path, (with_checksum(row) for row in self._rows.values()))  # temporary file + os.replace
        self._truncate_to = None
        self._needs_newline = False

    def get(self, key: str) -> dict[str, Any] | None:
        return self._rows.get(key)

    def __len__(self) -> int:
        return len(self._rows)

    def put(self, row: dict[str, Any]) -> None:
        """Store ``row`` (must hold ``key`` and ``corrected``) in memory and append it, with its checksum, to the
        file."""
        row = {name: value for name, value in row.items() if name != CHECKSUM_FIELD}
        line = json.dumps(with_checksum(row), ensure_ascii=False)
        with self._lock:
            self._rows[row["key"]] = row
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._truncate_to is not None:  # the new row replaces the half-written one
                os.truncate(self.path, self._truncate_to)
                self._truncate_to = None
            with self.path.open("a", encoding="utf-8") as handle:
                if self._needs_newline:
                    handle.write("\n")
                    self._needs_newline = False
                handle.write(line + "\n")


def _shown(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:5])) + (" ..." if len(numbers) > 5 else "")
