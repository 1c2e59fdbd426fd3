"""Another process holding a lock while a test runs, as a second run of the toolkit would."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def another_process(statement: str) -> Iterator[subprocess.Popen]:
    """Run ``statement`` (e.g. taking a lock) in a new Python process and keep it there until the block ends."""
    script = f"import sys\n{statement}\nprint('ready', flush=True)\nsys.stdin.read()\n"
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def holding_output_lock(folder: Path, command: str, *, shared: bool):
    """Another process holding ``folder``'s output lock as ``command`` does."""
    return another_process("from c2kit.locks import lock_output_folder\n"
                           f"lock = lock_output_folder({str(folder)!r}, {command!r}, shared={shared})")
