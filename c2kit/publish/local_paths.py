"""Keep the user's local paths out of published files.

Training configs, ``config.json`` of C2-Eval runs, summaries, comparison tables and build manifests record
absolute local paths (``/home/alice/runs/llama2-c2``, a local base model, data files). They are private and
mean nothing to a reader, so before staging, every text file of an artifact has each absolute path that the
artifact's own files mention replaced by ``<local>/NAME`` (``NAME`` = the path's last component; a path under
another one keeps the rest, e.g. ``<local>/llama2-c2/eval/base``), and any other path under the user's home
directory by ``~/...``. Binary files (weights, Parquet, PNG) are not edited; the Corr@k plots are drawn again
from ``scores.json`` with clean labels when the run's label would have been a local path (:func:`run_plot`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .files import FileSource

TEXT_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml", ".md", ".csv", ".txt")
PLACEHOLDER = "<local>"
# A path ends where the next character cannot continue a file name; a separator continues it as a parent.
_END = r"(?![\w.\-])"


def collect_local_paths(*values: Any) -> set[str]:
    """Absolute paths among ``values``: strings and ``Path`` objects, searched through dicts and lists."""
    found: set[str] = set()
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set)):
            stack.extend(value)
        elif isinstance(value, (str, Path)):
            text = str(value)
            if "\n" not in text and len(text) < 4096 and Path(text).is_absolute() and len(Path(text).parts) > 1:
                found.add(text)
    return found


def replacements(local_paths: Iterable[str | Path]) -> list[tuple[re.Pattern[str], str]]:
    """(pattern, placeholder) pairs, applied in order: shallow paths first, so a path under another one keeps
    its place below it, then the home directory as a catch-all."""
    names: dict[str, str] = {}
    for path in local_paths:
        text = str(path).rstrip("/\\") or str(path)
        if not Path(text).is_absolute() or len(Path(text).parts) < 2:
            continue
        placeholder = f"{PLACEHOLDER}/{Path(text).name}"
        for form in {text, os.path.realpath(text)}:
            names.setdefault(form, placeholder)
    ordered = sorted(names, key=lambda form: (len(Path(form).parts), form))
    pairs = [(re.compile(re.escape(form) + _END), names[form]) for form in ordered]
    home = os.path.expanduser("~").rstrip("/\\")
    if home and Path(home).is_absolute() and len(Path(home).parts) > 1:
        for form in dict.fromkeys((home, os.path.realpath(home))):
            pairs.append((re.compile(re.escape(form) + _END), "~"))
    return pairs


def scrub_text(text: str, pairs: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, placeholder in pairs:
        text = pattern.sub(placeholder, text)
    return text


def scrub_files(files: Mapping[str, FileSource], local_paths: Iterable[str | Path]) -> dict[str, FileSource]:
    """``files`` with local paths replaced in every text file (by suffix); other files are left as they are.

    Only changed files become bytes, so unchanged large files are still hard-linked when staged.
    """
    pairs = replacements(local_paths)
    scrubbed: dict[str, FileSource] = {}
    for path_in_repo, source in files.items():
        scrubbed[path_in_repo] = source
        if not path_in_repo.lower().endswith(TEXT_SUFFIXES):
            continue
        content = source if isinstance(source, bytes) else Path(source).read_bytes()
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            continue
        clean = scrub_text(text, pairs)
        if clean != text:
            scrubbed[path_in_repo] = clean.encode("utf-8")
    return scrubbed


def run_plot(run_dir: Path, config: Mapping[str, Any], scores) -> FileSource:
    """The run's ``corr_at_k.png``, drawn again from its scores when its label would have been a local path.

    Runs of local models made before labels were shortened carry the full path in the plot's legend; drawing
    with :func:`c2_eval_metric.results.run_label` (the directory's name) keeps it out. Runs of Hub models keep
    their file as it is.
    """
    from c2_eval_metric.results import PLOT_FILE, draw_run_plot, is_local_path

    named = [config.get(key) for key in ("adapter", "model")]
    if not any(isinstance(name, str) and name and is_local_path(name) for name in named):
        return run_dir / PLOT_FILE
    with tempfile.TemporaryDirectory(prefix="c2-plot-") as tmp:  # as the run drew it (its calibration too)
        return draw_run_plot(run_dir, Path(tmp) / PLOT_FILE, scores=scores).read_bytes()
