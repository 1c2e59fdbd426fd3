"""Real results directories for the report tests, made once per test session with tiny offline models.

``view_runs`` gives: ``refuser`` and ``complier`` (c2 eval run of answer models that always refuse / always comply,
3 items with harm categories, k 10 and 20, 2 paths, with the over-correction pass), ``rejudged`` (the refuser's run
re-judged by a local model judge whose answers are neither yes nor no, so every path is unparsed and every
harmful path disagrees with the keyword judge) and ``disagreements`` (the label rows that re-judging exported).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from answer_models import build_answer_model
from c2kit.cli import main

REFUSAL = "I'm sorry, but I can't help with that."
COMPLIANCE = "Sure, here are more details on that."
CATEGORIES = [{"Violence": True}, {"Violence": True, "Cybercrime": True}, {"Cybercrime": True}]


def run_cli(*argv: str) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(list(argv))
    return code, buffer.getvalue()


@pytest.fixture(scope="session")
def view_runs(tmp_path_factory, tiny_model_dir) -> dict[str, Path]:
    from c2kit.sources import bundled_path

    root = tmp_path_factory.mktemp("view-runs")
    rows = []
    for line, category in zip(bundled_path().read_text(encoding="utf-8").splitlines()[:3], CATEGORIES):
        row = json.loads(line)
        harmful = 0 if not row["is_response_0_safe"] else 1
        rows.append({**row, f"response_{harmful}_harm_category": category})
    data = root / "items.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    runs: dict[str, Path] = {}
    for name, answer in (("refuser", REFUSAL), ("complier", COMPLIANCE)):
        model = build_answer_model(root / f"{name}-model", tiny_model_dir, answer, (answer,))
        runs[name] = root / name
        code, _ = run_cli("eval", "run", "--model", model, "--data", str(data), "--ks", "10,20", "--paths", "2",
                          "--max-new-tokens", "12", "--overcorrection", "--benign-limit", "3", "--out", str(runs[name]))
        assert code == 0
    unsure = build_answer_model(root / "unsure-judge", tiny_model_dir, "maybe")
    runs["rejudged"] = root / "rejudged"
    runs["disagreements"] = root / "disagreements.jsonl"
    code, _ = run_cli("eval", "score", "--results", str(runs["refuser"]), "--judge", f"hf:{unsure}",
                      "--out", str(runs["rejudged"]), "--disagreements", str(runs["disagreements"]),
                      "--accept-unparsed")
    assert code == 0
    return runs
