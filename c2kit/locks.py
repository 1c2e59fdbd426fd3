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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from c2kit.errors import UserError

logger = logging.getLogger(__name__)

_HELD: dict[Path, list] = {}  # lock file -> [fd, holders in this process, what to do before the last lets go]
_TURNS: dict[Path, threading.Lock] = {}  # lock file of one_at_a_time -> its lock between threads of this process
_UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


class LockedError(UserError):
    """Another process holds the lock (a UserError, so the CLI shows it as one line)."""


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
            if not _is_file_of(fd, lock_file):  # its holder removed it (an empty output folder) as this one opened it
                raise FileNotFoundError(errno.ENOENT, "the lock file was removed by its holder", str(lock_file))
        except BlockingIOError:
            pid, _, command = os.read(fd, 200).decode(errors="replace").strip().partition(" ")
            os.close(fd)
            raise LockedError(f"{Path(folder)}: the {what} is in use by another run (pid {pid or 'unknown'}"
                              f"{': ' + command if command else ''}); wait for it to finish{advice}") from None
        except OSError as error:
            os.close(fd)
            if isinstance(error, FileNotFoundError) or error.errno not in _UNSUPPORTED:
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
        _HELD[lock_file] = [fd, 1, None]
        self.file = lock_file

    def release(self) -> None:
        lock_file, self.file = self.file, None
        held = _HELD.get(lock_file) if lock_file is not None else None
        if held is not None:
            held[1] -= 1
            if held[1] == 0:
                if held[2] is not None:
                    held[2](held[0])
                os.close(held[0])  # closing the descriptor releases the flock
                del _HELD[lock_file]

    def before_last_release(self, action: Callable[[int], None]) -> None:
        """Call ``action(fd)`` when the last holder in this process releases the lock, before it lets go (``fd``
        still holds it); the first holder's action counts."""
        held = _HELD.get(self.file) if self.file is not None else None
        if held is not None and held[2] is None:
            held[2] = action

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
TRAIN_CONFIG_FILE = "train_config.yaml"  # c2 train's: the settings of a training run, beside its adapter
TINY_MODEL_MARKER = "c2kit-tiny-model.json"  # c2kit.tiny's: beside a tiny model's weights, moved in last of its files
OUTPUT_KINDS = {
    "c2 eval run": RESULTS_DIRECTORY,
    "c2 eval score": RESULTS_DIRECTORY,  # which of the two wrote a results directory: c2_eval_metric.results
    "c2 syn build": OutputKind("C2-Syn build directory", ("build.json", "parts"), marker="build.json"),
    "c2 train": OutputKind("training run directory", (TRAIN_CONFIG_FILE, "train_data.json")),
    # No signs: other commands keep their own message for a model folder (an eval run's names its config.json).
    "c2 tiny-model": OutputKind("tiny model folder", (), marker=TINY_MODEL_MARKER),
}


def lock_output_folder(folder: str | Path, command: str, *, shared: bool = False) -> DirectoryLock:
    """Lock ``folder`` (created if needed) as the ``--out`` of ``command`` (a key of :data:`OUTPUT_KINDS`).

    Refused, in one line, while another run holds it (the other command included), and when it holds another
    command's outputs. Release the returned lock when done: a folder that holds nothing but the lock file then (a
    start that failed before writing) loses the lock file, and is removed if this call made it, with the folders
    above it that it made, so that a failed start leaves nothing behind.
    """
    folder = Path(folder)
    for attempt in range(3):  # again if another run removed the folder as this one came (see _remove_if_unused)
        made = _first_missing(folder)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            lock = DirectoryLock(folder, OUTPUT_KINDS[command].what, name=OUTPUT_LOCK,
                                 advice=" or choose another --out", shared=shared, holder=command)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    lock.before_last_release(lambda fd: _remove_if_unused(folder, made, fd, shared))
    kind = OUTPUT_KINDS[command]
    other = output_of(folder, ignore=kind)
    if other is not None:
        lock.release()
        raise UserError(f"{folder} holds files that {other[0]} writes ({', '.join(other[1])}); {command} needs a "
                        "folder of its own: choose another --out")
    # Hidden names do not count: the lock file, and a shard's temporary file while it writes the marker.
    present = sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))
    if kind.marker is not None and present and kind.marker not in present:
        lock.release()
        shown = ", ".join(present[:3]) + (", ..." if len(present) > 3 else "")
        raise UserError(f"{folder} is not empty ({shown}) and is not a {kind.what} (it has no {kind.marker}); "
                        f"{command} needs a folder of its own: choose another --out")
    return lock


def output_of(folder: str | Path, *, ignore: OutputKind | None = None) -> tuple[str, list[str]] | None:
    """``(command, signs found)`` of the first command of :data:`OUTPUT_KINDS` whose output ``folder`` holds (by the
    files only that command writes), else None; ``ignore``: a kind not to look for (the asking command's own)."""
    for command, kind in OUTPUT_KINDS.items():
        found = [sign for sign in kind.signs if (Path(folder) / sign).exists()] if kind != ignore else []
        if found:
            return command, found
    return None


def _first_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and the folders above it that do not exist (what ``mkdir -p`` makes), or None."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _remove_if_unused(folder: Path, made: Path | None, fd: int, shared: bool) -> None:
    """While ``fd`` still locks ``folder``'s lock file: if the folder holds nothing else, remove the lock file, and
    the folders up to ``made`` that this run created. A shared holder does so only when no other process shares
    the lock (it can make it exclusive)."""
    try:
        if shared:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if [path.name for path in folder.iterdir()] != [OUTPUT_LOCK]:
            return
        (folder / OUTPUT_LOCK).unlink()
        if made is None:
            return
        for candidate in (folder, *folder.parents):
            candidate.rmdir()  # only while empty: an OSError stops the climb
            if candidate == made:
                break
    except OSError:  # another holder, another file, a folder not empty: it stays as it is
        return


def _is_file_of(fd: int, path: Path) -> bool:
    """Whether the open descriptor ``fd`` is the file now at ``path`` (not one unlinked since it was opened)."""
    try:
        now, locked = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (locked.st_dev, locked.st_ino)
