"""Another process holding a lock while a test runs, as a second run of the toolkit would."""

from __future__ import annotations

import contextlib
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

READY_TIMEOUT_S = 60  # to start Python, import the toolkit and take the lock, on a busy machine


@contextlib.contextmanager
def another_process(statement: str) -> Iterator[subprocess.Popen]:
    """Run ``statement`` (e.g. taking a lock) in a new Python process and keep it there until the block ends.

    The block starts once the process says it ran the statement; one that has not within ``READY_TIMEOUT_S`` (it
    waits on a lock, or failed) fails the test."""
    script = f"import sys\n{statement}\nprint('ready', flush=True)\nsys.stdin.read()\n"
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        said = select.select([holder.stdout], [], [], READY_TIMEOUT_S)[0]
        assert said, f"after {READY_TIMEOUT_S} s, the other process has not run {statement!r}"
        assert holder.stdout.readline().strip() == "ready", f"the other process failed to run {statement!r}"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def holding_output_lock(folder: Path, command: str, *, shared: bool):
    """Another process holding ``folder``'s output lock as ``command`` does."""
    return another_process("from c2kit.locks import lock_output_folder\n"
                           f"lock = lock_output_folder({str(folder)!r}, {command!r}, shared={shared})")
