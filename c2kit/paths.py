"""Checks on the directories a run writes to, made before any work so that a wrong path costs nothing, and what
keeps this user from a path the system refused."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/c2-toolkit`` (``~/.cache/c2-toolkit`` when unset): where c2 keeps what it may rebuild."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "c2-toolkit"


def output_dir_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be (or become) a directory, or None: it, or a folder above it, is a file, or a folder
    above it cannot be entered by this user."""
    path = Path(path).expanduser()
    blocked = blocked_folder(path)
    if blocked is not None:
        return f"{str(path)!r} cannot be created: permission denied entering folder {str(blocked)!r}"
    for candidate in (path, *path.parents):
        if candidate.exists():
            if candidate.is_dir():
                return None
            if candidate == path:
                return f"{str(path)!r} is a file, not a directory"
            return f"{str(path)!r} cannot be created: {str(candidate)!r} is a file, not a directory"
    return None


def blocked_folder(path: str | Path) -> Path | None:
    """The first folder on the way to ``path`` that this user may not enter (no search permission), or None.

    Nothing below such a folder can be looked at, so whether ``path`` exists cannot even be told.
    """
    for folder in reversed(Path(path).expanduser().parents):
        if not os.path.isdir(folder):
            return None
        if not os.access(folder, os.X_OK):
            return folder
    return None


def permission_problem(path: str | Path) -> str:
    """What this user may not do at ``path``, for a 'permission denied' from the system: ``permission denied
    reading 'FILE'``, ``writing``, ``creating`` (the folder it goes in is not writable) or ``entering folder``.

    Told from the permissions as they are now, since the system's error does not say what was attempted.
    """
    path = Path(path)
    blocked = blocked_folder(path)
    if blocked is not None:
        doing = "entering" if os.access(blocked, os.R_OK) else "reading"
        return f"permission denied {doing} folder {str(blocked)!r} (on the way to {str(path)!r})"
    if os.path.lexists(path):
        if path.is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                return f"permission denied reading folder {str(path)!r}"
            if not os.access(path, os.W_OK):
                return f"permission denied writing in folder {str(path)!r}"
        else:
            if not os.access(path, os.R_OK):
                return f"permission denied reading {str(path)!r}"
            if not os.access(path, os.W_OK):
                return f"permission denied writing {str(path)!r}"
        return f"permission denied at {str(path)!r}"  # the mode allows it: an ACL, an immutable file, a mount option
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"permission denied creating {str(path)!r} (folder {str(folder)!r} is not writable by this user)"
    return f"permission denied creating {str(path)!r}"
