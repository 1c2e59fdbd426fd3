"""Checks on the directories a run writes to, made before any work so that a wrong path costs nothing."""

from __future__ import annotations

from pathlib import Path


def output_dir_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be (or become) a directory, or None: it, or a folder above it, is a file."""
    path = Path(path).expanduser()
    for candidate in (path, *path.parents):
        if candidate.exists():
            if candidate.is_dir():
                return None
            if candidate == path:
                return f"{str(path)!r} is a file, not a directory"
            return f"{str(path)!r} cannot be created: {str(candidate)!r} is a file, not a directory"
    return None
