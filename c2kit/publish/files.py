"""What a published file is made from, for every module that builds, scrubs or stages an artifact's files."""

from __future__ import annotations

from pathlib import Path

FileSource = Path | bytes  # a local file to copy, or generated content
