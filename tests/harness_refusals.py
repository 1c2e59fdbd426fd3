"""``c2 eval import`` of a bad harness log: exit 2, one line on stderr naming what is wrong, nothing written."""

from __future__ import annotations

from pathlib import Path

from c2kit.cli import main


def assert_import_refused(capsys, source: Path, out: Path, *named: str) -> str:
    """Import ``source`` into ``out``; the refusal is one line holding every string of ``named``."""
    assert main(["eval", "import", str(source), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("c2 eval: error: ") and "\n" not in error, error
    missing = [text for text in named if text not in error]
    assert not missing, f"{missing} not in: {error}"
    assert not out.exists(), "a refused import wrote its --out"
    return error
