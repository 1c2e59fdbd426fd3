"""One line for what the operating system refused a command: a path this user may not read or write, a full disk
or quota, a read-only file system; and for a text file that is not UTF-8.

These are the machine's state, not bugs, so ``c2`` says them in one line naming the path and what was attempted
(exit 2); every other error keeps its traceback. The system's error names the path when it has one. A write that
fails part-way through a file (a full disk) has none, so the file is found among the open files of the failing
call's frames.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType

from c2kit.jsonio import first_non_utf8, written_file
from c2kit.paths import permission_problem

PERMISSION = (errno.EACCES, errno.EPERM)
FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}
RESUME = ("; finished work is kept: free some space (or write elsewhere) and run the same command again, it "
          "resumes where it stopped")
# Writers that report a full disk without an OSError: safetensors' error names the OS error in its text;
# torch.save's zip writer only says that it could not write ("unexpected pos", "iostream error").
FULL_TEXT = {errno.ENOSPC: re.compile(r"No space left on device|os error 28\b"),
             errno.EDQUOT: re.compile(r"Disk quota exceeded|os error 122\b")}
TORCH_SAVE = os.path.join("torch", "serialization.py")
NEARLY_FULL = 1 << 20  # bytes free under which a failed torch.save is taken for a full disk
PATH_ARGUMENTS = ("filename", "f", "path", "file", "filepath", "where", "tmp", "temporary")  # the file a writer was given


def os_error_line(error: BaseException) -> str | None:
    """The one line for ``error``, or None when it is not a refusal of the system (then it shows as it is)."""
    traceback = error.__traceback__
    if isinstance(error, UnicodeDecodeError):
        path = _open_file(traceback, reading=True)
        return first_non_utf8(path, "line") if path else None
    if isinstance(error, OSError) and error.errno in PERMISSION:
        path = _named_file(error)
        return permission_problem(path) if path else f"permission denied ({error.strerror})"
    if isinstance(error, OSError) and error.errno == errno.EROFS:
        path = _named_file(error, written=True)
        return f"read-only file system: cannot write {path!r}" if path else "read-only file system"
    for cause in (error, *_causes(error)):  # a library's error raised while handling the system's
        if isinstance(cause, OSError) and cause.errno in FULL:
            return _full_line(cause.errno, _named_file(cause, written=True) or _written_file(traceback))
    for number, pattern in FULL_TEXT.items():
        if pattern.search(str(error)):
            return _full_line(number, _written_file(traceback))
    if isinstance(error, RuntimeError) and any(frame.f_code.co_filename.endswith(TORCH_SAVE)
                                               for frame in _frames(traceback)):
        path = _written_file(traceback)
        if path and _free_bytes(path) < NEARLY_FULL:
            return _full_line(errno.ENOSPC, path)
    return None


def _full_line(number: int, path: str | None) -> str:
    return (f"{FULL[number]} writing {path!r}" if path else FULL[number]) + RESUME


def _named_file(error: OSError, *, written: bool = False) -> str | None:
    """The file the system's error names (``written``: of a copy or rename, the one written), else the one being
    written; a temporary file is named by the file it was to become."""
    names = (error.filename2, error.filename) if written else (error.filename,)
    for name in names:
        if isinstance(name, (str, bytes, os.PathLike)):
            return str(written_file(os.fsdecode(name)))
    return _written_file(error.__traceback__)


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen = {id(error)}
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def _frames(traceback: TracebackType | None) -> list[FrameType]:
    """The frames of a traceback, innermost (where it was raised) first."""
    frames = []
    while traceback is not None:
        frames.append(traceback.tb_frame)
        traceback = traceback.tb_next
    return frames[::-1]


def _written_file(traceback: TracebackType | None) -> str | None:
    """The file the failing call was writing: an open file in its frames, else a path it was given (torch.save's
    ``f``, safetensors' ``filename``); a temporary file is named by the file it was to become."""
    found = _open_file(traceback, reading=False)
    if found is None:
        found = next((os.fspath(value) for frame in _frames(traceback) for name in PATH_ARGUMENTS
                      if isinstance(value := frame.f_locals.get(name), (str, os.PathLike))
                      and os.path.isdir(os.path.dirname(os.fspath(value)) or ".")), None)
    return str(written_file(found)) if found else None


def _open_file(traceback: TracebackType | None, *, reading: bool) -> str | None:
    """The name of the innermost open file (read, or written, as asked) among the frames' local variables."""
    for frame in _frames(traceback):
        for value in frame.f_locals.values():
            if not isinstance(value, io.IOBase):
                continue
            name, mode = getattr(value, "name", None), getattr(value, "mode", None)
            if isinstance(name, (str, os.PathLike)) and isinstance(mode, str) and mode:
                if reading == ("r" in mode and "+" not in mode):
                    return os.fspath(name)
    return None


def _free_bytes(path: str) -> int:
    folder = Path(path).parent
    while not os.path.isdir(folder) and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return NEARLY_FULL
