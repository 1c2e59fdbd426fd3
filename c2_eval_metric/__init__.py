"""C2-Eval metric and results: Corr@k math, the ``evaluate`` module, results files, scoring and comparison.

``evaluate.load(c2_eval_metric.METRIC_PATH)`` loads the metric module from this folder, from a clone or a
pip install alike. :data:`SPACE_FILES` lists the files that make up the module when it is published as a
Hub Space (see :func:`space_files`).
"""

from __future__ import annotations

import re
from pathlib import Path

from .corr import CorrScores, compute_corr
from c2kit.errors import UserError

METRIC_PATH: str = str(Path(__file__).resolve().parent)

# The module file, its one sibling import, the Space card and the Space's pip requirements. Nothing else
# in this folder (results, scoring, plots, runner) is part of the published metric.
SPACE_FILES: tuple[str, ...] = ("c2_eval_metric.py", "corr.py", "README.md", "requirements.txt")


def space_files(space_name: str) -> dict[str, Path]:
    """Files to upload for a metric Space called ``space_name``, as {path in the Space: local file}.

    ``evaluate.load("ORG/NAME")`` downloads ``NAME.py`` from the Space, so the module file is renamed to
    the Space's name; ``corr.py`` keeps its name because the module imports it as ``.corr``.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", space_name) or space_name == "corr":
        raise UserError(f"metric Space name {space_name!r} must be letters, digits, '_' or '-' and not 'corr' "
                        "(evaluate imports NAME.py as a module next to corr.py)")
    folder = Path(METRIC_PATH)
    files = {name: folder / name for name in SPACE_FILES}
    files[f"{space_name}.py"] = files.pop("c2_eval_metric.py")
    return files


__all__ = ["METRIC_PATH", "SPACE_FILES", "CorrScores", "compute_corr", "space_files"]
