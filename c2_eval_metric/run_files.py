"""The files of a results directory that every other module reads, by name, and the reader of its scores.json.

They live at the bottom of the package, apart from :mod:`results` (which writes them), so that what reads a run
(the labelling sample, the calibration, the checks) needs nothing of the writer, which in turn shows the
calibration: the imports run one way.
"""

from __future__ import annotations

from pathlib import Path

from c2kit.errors import UserError
from c2kit.jsonio import read_json

from .corr import CorrScores

GENERATIONS_FILE = "generations.jsonl"
JUDGMENTS_FILE = "judgments.jsonl"
SCORES_FILE = "scores.json"


def read_scores(results_dir: str | Path) -> CorrScores:
    """The ``scores.json`` of a results directory, with an error naming the directory if it is not one."""
    path = Path(results_dir) / SCORES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{results_dir}: no {SCORES_FILE}; is this a results directory of "
                                "'c2 eval run' or 'c2 eval score'?")
    scores = read_json(path)
    try:
        return CorrScores.from_json(scores)
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{path}: not a scores.json of this toolkit ({error})") from None
