"""JSON and JSON-lines files: reading with errors that name the file and line, atomic writing.

Files are read as UTF-8 with or without a byte-order mark (``utf-8-sig``, as Windows editors save them), the
same as YAML files; a file that is not UTF-8 is a one-line error naming the file, the row and the byte offset of
the first byte that is not (a file saved in Latin-1 or UTF-16, or a binary file). JSON nested too deeply for Python's recursive decoder (thousands of levels, which no real
row has) is a one-line error naming the file, row and the top-level field it is under, not a RecursionError.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import shutil
import socket
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from c2kit.errors import UserError


ENCODING = "utf-8-sig"  # UTF-8; a leading byte-order mark is dropped
TOO_DEEP = "JSON nested too deeply to read (thousands of levels of lists or objects)"
TEMPORARY_MARK = ".tmp-"  # a file is written as .NAME.tmp-HOST-PID, then renamed onto NAME


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-empty line; errors name the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, encoding=ENCODING) as handle:
        for number, line in _lines(handle, path):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise UserError(f"{path}, row {number}: not valid JSON ({error.msg})") from None
            except RecursionError:
                raise UserError(f"{path}, row {number}{_deep_field(line)}: {TOO_DEEP}") from None
            if not isinstance(record, dict):
                raise UserError(f"{path}, row {number}: expected a JSON object, got {type(record).__name__}")
            yield number, record


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object from a file; a missing file, bad JSON or a non-object is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    except RecursionError:
        raise UserError(f"{path}{_deep_field(text)}: {TOO_DEEP}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def check_json_depth(path: str | Path) -> None:
    """Refuse a ``.json`` file (one document, or JSON lines) nested too deeply, before another reader sees it.

    pyarrow's JSON reader, which ``datasets`` uses for ``.json`` files, crashes the process on such input
    instead of raising; Python's decoder raises RecursionError, which this turns into one line naming the row.
    """
    path = Path(path)
    text = read_text(path)
    try:
        json.loads(text)
        return
    except RecursionError:
        raise UserError(f"{path}{_deep_field(text)}: {TOO_DEEP}") from None
    except ValueError:
        pass  # not one document: JSON lines, or broken, which the reader reports in its own words
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            json.loads(line)
        except RecursionError:
            raise UserError(f"{path}, row {number}{_deep_field(line)}: {TOO_DEEP}") from None
        except ValueError:
            continue


def read_text(path: str | Path) -> str:
    """The text of a UTF-8 file (a byte-order mark dropped); a file that is not UTF-8 is a ValueError naming it and
    the offset of its first bad byte."""
    try:
        return Path(path).read_text(encoding=ENCODING)
    except UnicodeDecodeError:
        raise UserError(not_utf8_message(path, "line")) from None


def _lines(handle, path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a text handle; a byte that is not UTF-8 is a ValueError naming file, row and offset
    (the decoder fails on a whole block of lines, so the file is scanned again to find the byte)."""
    try:
        yield from enumerate(handle, start=1)
    except UnicodeDecodeError:
        raise UserError(not_utf8_message(path)) from None


def not_utf8_message(path: str | Path, line: str = "row") -> str:
    """``PATH, row N: not UTF-8 text (byte OFFSET is 0xNN)`` for a file that failed to decode as UTF-8."""
    return first_non_utf8(path, line) or f"{path}: not UTF-8 text"


def first_non_utf8(path: str | Path, line: str = "row") -> str | None:
    """``PATH, row N: not UTF-8 text (byte OFFSET is 0xNN)`` for the first byte of the file that is not UTF-8, None
    when every byte is (``line``: what a line of the file is called, a row of JSON lines, a line of one document).

    The file is read in blocks, so a large one costs no more memory than a small one.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = newlines = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            pending = len(decoder.getstate()[0])  # the start of a character cut at the end of the last block
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                seen = error.object  # the pending bytes (never a newline), then the block
                where = newlines + seen[:error.start].count(b"\n") + 1
                return (f"{path}, {line} {where}: not UTF-8 text (byte {offset - pending + error.start} is "
                        f"{seen[error.start]:#04x})")
            offset += len(block)
            newlines += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return f"{path}, {line} {newlines + 1}: not UTF-8 text (it ends inside a character, at byte {offset})"
    return None


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
    with _replacing(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_json(path: str | Path, data: Any, *, sort_keys: bool = False) -> Path:
    """Write indented JSON atomically (creating the parent directory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _replacing(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    return path


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary file to write, renamed onto ``path`` when the block succeeds and deleted when it fails: a full
    disk leaves the old file whole and no half-written copy taking space."""
    temporary = _temporary(path)
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` atomically (creating the parent directory): a kill or a full disk leaves the old file whole
    and no temporary file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _replacing(path) as temporary:
        temporary.write_bytes(data)
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
    return path.with_name(f".{path.name}{TEMPORARY_MARK}{_HOST}-{os.getpid()}")


def written_file(path: str | Path) -> Path:
    """The file a temporary file of this module stands for (``.NAME.tmp-HOST-PID`` -> ``NAME``), else ``path``."""
    path = Path(path)
    name, mark, _ = path.name.partition(TEMPORARY_MARK)
    return path.with_name(name[1:]) if mark and name.startswith(".") else path


_HOST = socket.gethostname().replace("-", "_") or "host"


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files that killed processes of this host left next to ``path`` (their pid no longer
    runs); another host's are never touched (its processes cannot be seen from here)."""
    removed = []
    for temporary in path.parent.glob(f".{path.name}{TEMPORARY_MARK}{_HOST}-*"):
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
