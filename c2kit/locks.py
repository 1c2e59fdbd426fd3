"""One writer at a time for a folder (a generation cache, a results directory), across processes.

``DirectoryLock(folder, what)`` takes an exclusive ``fcntl.flock`` on ``folder/<name>`` and keeps it until
:meth:`release` (or garbage collection). Holders in one process share the lock (a resumed run, several caches
on one folder), so only another process is refused, with a message naming the holder's pid. The lock dies with
its process: a killed run never leaves a stale one. Filesystems without ``flock`` (some NFS, Lustre or FUSE
mounts) get a warning and no lock, rather than an unusable tool.

:func:`lock_output_folder` is the lock of a command's ``--out`` folder. ``c2 eval run`` and ``c2 syn build``
take the same lock file there (``.lock``): an eval run holds it alone, the shards of one build share it (they
may write into one folder), so neither command can start in a folder the other is writing. A folder that
already holds the other command's files is refused too: their caches, configs and cards would mix.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_HELD: dict[Path, list] = {}  # lock file -> [fd, holders in this process]
_UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


class LockedError(ValueError):
    """Another process holds the lock (a ValueError, so the CLI shows it as one line)."""


class DirectoryLock:
    """``shared``: several processes may hold it together (shards of one build), none while one holds it alone.
    ``holder`` names the command in the lock file, so a refused run is told what holds the folder."""

    def __init__(self, folder: str | Path, what: str, *, name: str = "lock", advice: str = "",
                 shared: bool = False, holder: str = "") -> None:
        self.file: Path | None = None
        lock_file = (Path(folder) / name).resolve()
        if lock_file in _HELD:
            _HELD[lock_file][1] += 1
            self.file = lock_file
            return
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, _, command = os.read(fd, 200).decode(errors="replace").strip().partition(" ")
            os.close(fd)
            raise LockedError(f"{Path(folder)}: the {what} is in use by another run (pid {pid or 'unknown'}"
                              f"{': ' + command if command else ''}); wait for it to finish{advice}") from None
        except OSError as error:
            os.close(fd)
            if error.errno not in _UNSUPPORTED:
                raise
            logger.warning("%s: this filesystem cannot lock files (%s); two runs on it at once would each do all "
                           "the work", folder, error.strerror)
            return
        os.ftruncate(fd, 0)  # a shared holder overwrites another's pid: naming one of them is enough
        os.write(fd, f"{os.getpid()} {holder}".strip().encode())
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


OUTPUT_LOCK = ".lock"


@dataclass(frozen=True)
class OutputKind:
    what: str  # how messages name the folder
    signs: tuple[str, ...]  # files (or folders) that show a folder holds this command's outputs


# Names only, so this module imports neither package: c2_eval_metric.results and c2_syn_dataset.shards.
OUTPUT_KINDS = {
    "c2 eval run": OutputKind("results directory", ("config.json", "generations.jsonl", "scores.json")),
    "c2 syn build": OutputKind("C2-Syn build directory", ("build.json", "parts")),
}


def lock_output_folder(folder: str | Path, command: str, *, shared: bool = False) -> DirectoryLock:
    """Lock ``folder`` (created if needed) as the ``--out`` of ``command`` (a key of :data:`OUTPUT_KINDS`).

    Refused, in one line, while another run holds it (the other command included), and when it holds another
    command's outputs. Release the returned lock when done.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = DirectoryLock(folder, OUTPUT_KINDS[command].what, name=OUTPUT_LOCK, advice=" or choose another --out",
                         shared=shared, holder=command)
    for other, kind in OUTPUT_KINDS.items():
        found = [sign for sign in kind.signs if (folder / sign).exists()] if other != command else []
        if found:
            lock.release()
            raise ValueError(f"{folder} holds files that {other} writes ({', '.join(found)}); {command} needs a "
                             "folder of its own: choose another --out")
    return lock
