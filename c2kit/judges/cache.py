"""On-disk answer cache for paid judges: one JSONL row per answered input, appended as answers arrive."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from c2kit.jsonio import set_aside, write_jsonl

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/c2-toolkit/judge`` (``~/.cache/c2-toolkit/judge`` when unset)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "c2-toolkit" / "judge"


def _parse_row(line: str) -> dict[str, Any]:
    row = json.loads(line)  # JSONDecodeError is a ValueError
    if not isinstance(row, dict) or not isinstance(row.get("key"), str) or not isinstance(row.get("corrected"), bool):
        raise ValueError("expected an object with a string 'key' and a boolean 'corrected'")
    return row


class AnswerCache:
    """Thread-safe JSONL cache mapping a request hash (``key``) to a stored row with ``corrected``.

    Rows are appended and flushed one by one, so an interrupted run keeps every answer it paid for;
    a half-written last line (the process was killed mid-write) is dropped with a warning. Damaged lines
    elsewhere (an edit gone wrong, disk trouble) are repaired, not fatal: the good rows are kept and written
    back, and the damaged file is set aside as ``NAME.damaged`` for inspection.
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
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                row = _parse_row(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as error:
                if number == len(lines):  # last line without newline: an interrupted write
                    logger.warning("%s: dropping a half-written last line (%s)", self.path, error)
                    self._truncate_to = len(data) - len(raw)
                    continue
                damaged.append(number)
                continue
            self._rows[row["key"]] = row
        if damaged:
            self._repair(damaged)
            return
        # Never glue a new row onto a complete last row that lacks its newline.
        self._needs_newline = self._truncate_to is None and bool(data) and not data.endswith(b"\n")

    def _repair(self, damaged: list[int]) -> None:
        """Keep every good answer: the good rows replace the file in one atomic step, after the damaged file was
        copied aside (deleting the file would throw away answers that were paid for)."""
        aside = set_aside(self.path)
        shown = ", ".join(map(str, damaged[:5])) + (" ..." if len(damaged) > 5 else "")
        logger.warning("%s: %d damaged line(s) (line %s) dropped, %d good answers kept; the damaged file is "
                       "kept as %s", self.path, len(damaged), shown, len(self._rows), aside)
        write_jsonl(self.path, self._rows.values())  # temporary file + os.replace: never a moment without rows
        self._truncate_to = None
        self._needs_newline = False

    def get(self, key: str) -> dict[str, Any] | None:
        return self._rows.get(key)

    def __len__(self) -> int:
        return len(self._rows)

    def put(self, row: dict[str, Any]) -> None:
        """Store ``row`` (must hold ``key`` and ``corrected``) in memory and append it to the file."""
        line = json.dumps(row, ensure_ascii=False)
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
