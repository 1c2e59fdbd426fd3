"""JSON and JSON-lines files: reading with errors that name the file and line, atomic writing.

Files are read as UTF-8 with or without a byte-order mark (``utf-8-sig``, as Windows editors save them), the
same as YAML files. JSON nested too deeply for Python's recursive decoder (thousands of levels, which no real
row has) is a one-line error naming the file, row and the top-level field it is under, not a RecursionError.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any


ENCODING = "utf-8-sig"  # UTF-8; a leading byte-order mark is dropped
TOO_DEEP = "JSON nested too deeply to read (thousands of levels of lists or objects)"


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-empty line; errors name the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, encoding=ENCODING) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, row {number}: not valid JSON ({error.msg})") from None
            except RecursionError:
                raise ValueError(f"{path}, row {number}{_deep_field(line)}: {TOO_DEEP}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}, row {number}: expected a JSON object, got {type(record).__name__}")
            yield number, record


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object from a file; a missing file, bad JSON or a non-object is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    text = path.read_text(encoding=ENCODING)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    except RecursionError:
        raise ValueError(f"{path}{_deep_field(text)}: {TOO_DEEP}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def check_json_depth(path: str | Path) -> None:
    """Refuse a ``.json`` file (one document, or JSON lines) nested too deeply, before another reader sees it.

    pyarrow's JSON reader, which ``datasets`` uses for ``.json`` files, crashes the process on such input
    instead of raising; Python's decoder raises RecursionError, which this turns into one line naming the row.
    """
    path = Path(path)
    text = path.read_text(encoding=ENCODING)
    try:
        json.loads(text)
        return
    except RecursionError:
        raise ValueError(f"{path}{_deep_field(text)}: {TOO_DEEP}") from None
    except ValueError:
        pass  # not one document: JSON lines, or broken, which the reader reports in its own words
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            json.loads(line)
        except RecursionError:
            raise ValueError(f"{path}, row {number}{_deep_field(line)}: {TOO_DEEP}") from None
        except ValueError:
            continue


def _deep_field(text: str) -> str:
    """``, field 'NAME'``: the top-level key whose value holds the deepest nesting of ``text`` ('' if none).

    A character scan, so it works where the recursive decoder does not (string contents are skipped).
    """
    depth = deepest = 0
    key = deepest_key = None
    in_string = escaped = False
    start = 0
    for position, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                if depth == 1 and text[position + 1:].lstrip().startswith(":"):
                    key = text[start:position + 1]
        elif char == '"':
            in_string, start = True, position
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_key = depth, key
        elif char in "]}":
            depth -= 1
    if deepest_key is None:
        return ""
    try:
        return f", field {json.loads(deepest_key)!r}"
    except ValueError:
        return ""


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write rows as JSON lines through a temporary file, so a crash never leaves half a file behind."""
    path = Path(path)
    temporary = _temporary(path)
    with open(temporary, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(temporary, path)
    return path


def write_json(path: str | Path, data: Any, *, sort_keys: bool = False) -> Path:
    """Write indented JSON atomically (creating the parent directory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    temporary.write_text(json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` atomically (creating the parent directory): a kill or a full disk leaves the old file whole
    and no temporary file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def set_aside(path: Path, suffix: str = ".damaged") -> Path:
    """Copy ``path`` to a free ``NAME.damaged`` (``.damaged-2``, ...) for inspection, before it is repaired."""
    aside = path.with_name(path.name + suffix)
    number = 2
    while aside.exists():
        aside = path.with_name(f"{path.name}{suffix}-{number}")
        number += 1
    shutil.copyfile(path, aside)
    return aside


def _temporary(path: Path) -> Path:
    # Per-host, per-process name: shards of one build may write the same file at the same time, from several
    # machines on a shared filesystem.
    remove_stale_temporaries(path)
    return path.with_name(f".{path.name}.tmp-{_HOST}-{os.getpid()}")


_HOST = socket.gethostname().replace("-", "_") or "host"


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files that killed processes of this host left next to ``path`` (their pid no longer
    runs); another host's are never touched (its processes cannot be seen from here)."""
    removed = []
    for temporary in path.parent.glob(f".{path.name}.tmp-{_HOST}-*"):
        pid = temporary.name.rpartition("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            temporary.unlink(missing_ok=True)
            removed.append(temporary)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
