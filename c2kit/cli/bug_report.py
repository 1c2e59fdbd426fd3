"""What ``c2`` says when a command fails for a reason that is not the user's: a bug in c2-toolkit.

The user gets one line: that it is a bug, where to report it, and the file holding the full traceback (or that
``C2_TRACEBACK=1`` prints it, when no file could be written). The file lives in the user's cache, readable by
them alone, with the values of secret-looking environment variables (tokens, keys, passwords) blanked out.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path

from c2kit import __version__
from c2kit.http_client import redact
from c2kit.paths import cache_root

ISSUES_URL = "https://github.com/c2-toolkit/c2-toolkit/issues"
TRACEBACK_ENV = "C2_TRACEBACK"
SECRET_NAME_PARTS = ("TOKEN", "KEY", "SECRET", "PASSWORD")
MIN_SECRET_LENGTH = 6  # shorter values (a flag such as "1") would blank out unrelated text


def traceback_folder() -> Path:
    return cache_root() / "tracebacks"


def bug_line(error: BaseException, argv: list[str]) -> str:
    """The one line for an unexpected ``error``, after writing its traceback to a file when possible."""
    path = write_traceback(error, argv)
    where = (f"the full traceback is in {path} ({TRACEBACK_ENV}=1 prints it)" if path
             else f"run it again with {TRACEBACK_ENV}=1 to see the full traceback")
    summary = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    return (f"this is a bug in c2-toolkit, not a mistake of yours ({redact(summary, _secrets())}); please report "
            f"it at {ISSUES_URL} with the command you ran; {where}")


def write_traceback(error: BaseException, argv: list[str]) -> Path | None:
    """Write the version, the command line and the traceback of ``error`` to a new file; None if none could be."""
    text = "".join([f"c2-toolkit {__version__}\n", f"command: c2 {' '.join(argv)}\n\n",
                    *traceback.format_exception(type(error), error, error.__traceback__)])
    text = redact(text, _secrets())
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    for folder in (traceback_folder(), Path(tempfile.gettempdir()) / "c2-toolkit-tracebacks"):
        path = folder / f"{stamp}-{os.getpid()}.txt"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as file:
                file.write(text)
        except OSError:
            continue
        return path
    return None


def _secrets() -> list[str]:
    return [value for name, value in os.environ.items()
            if any(part in name.upper() for part in SECRET_NAME_PARTS) and len(value) >= MIN_SECRET_LENGTH]
