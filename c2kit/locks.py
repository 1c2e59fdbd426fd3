"""One writer at a time for a folder (a generation cache, a results directory), across processes.

``DirectoryLock(folder, what)`` takes an exclusive ``fcntl.flock`` on ``folder/<name>`` and keeps it until
:meth:`release` (or garbage collection). Holders in one process share the lock (a resumed run, several caches
on one folder), so only another process is refused, with a message naming the holder's pid. The lock dies with
its process: a killed run never leaves a stale one. Filesystems without ``flock`` (some NFS, Lustre or FUSE
mounts) get a warning and no lock, rather than an unusable tool.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

_HELD: dict[Path, list] = {}  # lock file -> [fd, holders in this process]
_UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


class LockedError(ValueError):
    """Another process holds the lock (a ValueError, so the CLI shows it as one line)."""


class DirectoryLock:
    def __init__(self, folder: str | Path, what: str, *, name: str = "lock", advice: str = "") -> None:
        self.file: Path | None = None
        lock_file = (Path(folder) / name).resolve()
        if lock_file in _HELD:
            _HELD[lock_file][1] += 1
            self.file = lock_file
            return
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(f"{Path(folder)}: the {what} is in use by another run (pid {holder}); "
                              f"wait for it to finish{advice}") from None
        except OSError as error:
            os.close(fd)
            if error.errno not in _UNSUPPORTED:
                raise
            logger.warning("%s: this filesystem cannot lock files (%s); two runs on it at once would each do all "
                           "the work", folder, error.strerror)
            return
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _HELD[lock_file] = [fd, 1]
        self.file = lock_file

    def release(self) -> None:
        lock_file, self.file = self.file, None
        held = _HELD.get(lock_file) if lock_file is not None else None
        if held is not None:
            held[1] -= 1
            if held[1] == 0:
                os.close(held[0])  # closing the descriptor releases the flock
                del _HELD[lock_file]

    def __del__(self) -> None:
        self.release()
