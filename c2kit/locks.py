"""One writer at a time for a folder (a generation cache, a results directory), across processes.

``DirectoryLock(folder, what)`` takes an exclusive ``fcntl.flock`` on ``folder/<name>`` and keeps it until
:meth:`release` (or garbage collection). Holders in one process share the lock (a resumed run, several caches
on one folder), so only another process is refused, with a message naming the holder's pid. The lock dies with
its process: a killed run never leaves a stale one. Filesystems without ``flock`` (some NFS, Lustre or FUSE
mounts) get a warning and no lock, rather than an unusable tool.

:func:`lock_output_folder` is the lock of a command's ``--out`` folder. ``c2 eval run``, ``c2 eval score``,
``c2 syn build`` and ``c2 train`` take the same lock file there (``.lock``): an eval run, a scoring and a training
run hold it alone, the shards of one build share it (they may write into one folder), so no command can start in a
folder another is writing. A folder that already holds another command's files is refused too: their caches,
configs and cards would mix; and so is, for ``c2 syn build``, any other folder with files in it but no
``build.json`` (a model folder, say), whose README.md the dataset card would replace.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_HELD: dict[Path, list] = {}  # lock file -> [fd, holders in this process]
_TURNS: dict[Path, threading.Lock] = {}  # lock file of one_at_a_time -> its lock between threads of this process
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
        try:
            os.ftruncate(fd, 0)  # a shared holder overwrites another's pid: naming one of them is enough
            os.write(fd, f"{os.getpid()} {holder}".strip().encode())
        except OSError as error:  # a full disk: let the lock go, or this process could never take it again
            os.close(fd)
            raise OSError(error.errno, error.strerror, str(lock_file)) from None
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


@contextmanager
def one_at_a_time(folder: str | Path, name: str, what: str) -> Iterator[None]:
    """Do a step (``what``, e.g. "merge") in ``folder`` alone: wait while another thread or process does it.

    Unlike :class:`DirectoryLock` it waits rather than refuses, and holders in one process do not share it: the
    lock file ``folder/<name>`` is flocked exclusively (across processes) inside a lock of its own (across
    threads), so the step never runs twice at once on the same files.
    """
    lock_file = (Path(folder) / name).resolve()
    with _TURNS.setdefault(lock_file, threading.Lock()):  # dict.setdefault is atomic: one Lock per file
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.read(fd, 200).decode(errors="replace").strip() or "unknown"
                logger.info("%s: waiting for the %s of another run (pid %s) to finish", folder, what, pid)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as error:
                if error.errno not in _UNSUPPORTED:
                    raise
                logger.warning("%s: this filesystem cannot lock files (%s); two runs finishing together may %s at "
                               "once", folder, error.strerror, what)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock


OUTPUT_LOCK = ".lock"


@dataclass(frozen=True)
class OutputKind:
    what: str  # how messages name the folder
    signs: tuple[str, ...]  # files (or folders) only this command writes: a folder holding one is its output
    # Written before anything else but hidden files: a non-empty folder without it is not this command's (None:
    # no such file, e.g. an eval run's config.json is also a model's, and its judge cache may come first).
    marker: str | None = None


# Names only, so this module imports neither package: c2_eval_metric.results and c2_syn_dataset.shards.
RESULTS_DIRECTORY = OutputKind("results directory", ("generations.jsonl", "judgments.jsonl", "scores.json"))
TINY_MODEL_MARKER = "c2kit-tiny-model.json"  # c2kit.tiny's: beside a tiny model's weights, moved in last of its files
OUTPUT_KINDS = {
    "c2 eval run": RESULTS_DIRECTORY,
    "c2 eval score": RESULTS_DIRECTORY,  # which of the two wrote a results directory: c2_eval_metric.results
    "c2 syn build": OutputKind("C2-Syn build directory", ("build.json", "parts"), marker="build.json"),
    "c2 train": OutputKind("training run directory", ("train_config.yaml", "train_data.json")),
    # No signs: other commands keep their own message for a model folder (an eval run's names its config.json).
    "c2 tiny-model": OutputKind("tiny model folder", (), marker=TINY_MODEL_MARKER),
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
        found = [sign for sign in kind.signs if (folder / sign).exists()] if kind != OUTPUT_KINDS[command] else []
        if found:
            lock.release()
            raise ValueError(f"{folder} holds files that {other} writes ({', '.join(found)}); {command} needs a "
                             "folder of its own: choose another --out")
    kind = OUTPUT_KINDS[command]
    # Hidden names do not count: the lock file, and a shard's temporary file while it writes the marker.
    present = sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))
    if kind.marker is not None and present and kind.marker not in present:
        lock.release()
        shown = ", ".join(present[:3]) + (", ..." if len(present) > 3 else "")
        raise ValueError(f"{folder} is not empty ({shown}) and is not a {kind.what} (it has no {kind.marker}); "
                         f"{command} needs a folder of its own: choose another --out")
    return lock
