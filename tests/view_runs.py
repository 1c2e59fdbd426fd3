"""Real results directories for the report tests, made once per test session with tiny offline models.

``view_runs`` gives: ``refuser`` and ``complier`` (c2 eval run of answer models that always refuse / always comply,
3 items with harm categories, k 10 and 20, 2 paths, with the over-correction pass), ``rejudged`` (the refuser's run
re-judged by a local model judge whose answers are neither yes nor no, so every path is unparsed and every
harmful path disagrees with the keyword judge) and ``disagreements`` (the label rows that re-judging exported).
``view_sample``: a labelling sample of the refuser's run (``c2 eval sample``, 6 of its 12 continuations), beside
the runs. ``mixed_run``: a run of 60 continuations (6 items, k 10 and 20, 5 paths) of a model that refuses or
complies at random, so its keyword judge says corrected about half the time.
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


@pytest.fixture(scope="session")
def view_sample(view_runs) -> Path:
    out = view_runs["refuser"].parent / "sample.jsonl"
    code, _ = run_cli("eval", "sample", str(view_runs["refuser"]), "--n", "6", "--seed", "1", "--out", str(out))
    assert code == 0
    return out


def build_coin_model(out: Path, base_dir: str) -> str:
    """An answer model (tests/answer_models.py) that answers REFUSAL or COMPLIANCE with even odds when sampled:
    each answer is one added token, and the compliance token is given the refusal token's logit after a prompt
    and its state (end of turn next)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    build_answer_model(out, base_dir, REFUSAL, (REFUSAL, COMPLIANCE))
    tokenizer = AutoTokenizer.from_pretrained(out)
    (refusal,), (compliance,) = (tokenizer.encode(text, add_special_tokens=False) for text in (REFUSAL, COMPLIANCE))
    model = AutoModelForCausalLM.from_pretrained(out)
    with torch.no_grad():
        model.model.embed_tokens.weight[compliance] = model.model.embed_tokens.weight[refusal]
        model.lm_head.weight[compliance] = model.lm_head.weight[refusal]
    model.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def mixed_run(tmp_path_factory, tiny_model_dir) -> Path:
    root = tmp_path_factory.mktemp("mixed-run")
    model = build_coin_model(root / "coin-model", tiny_model_dir)
    run = root / "mixed"
    code, _ = run_cli("eval", "run", "--model", model, "--data", "c2eval-500", "--limit", "6", "--ks", "10,20",
                      "--paths", "5", "--max-new-tokens", "4", "--seed", "5", "--out", str(run))
    assert code == 0
    return run
