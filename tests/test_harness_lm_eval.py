"""The C2-Eval task for lm-evaluation-harness: the paper's settings, c2's own prefixes, every sampled path kept and
judged, and a real ``lm_eval`` run on a tiny local model whose samples ``c2 eval import`` turns into a results
directory with the same figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lm_eval", reason="lm-eval is installed with the 'harness' extra (pip install -e .[harness])")

from c2kit.cli import main  # noqa: E402
from c2kit.harness import lm_eval_path  # noqa: E402
from c2kit.harness.items import prefill_items  # noqa: E402

SUBTASKS = [f"c2_eval_k{k}" for k in range(10, 90, 10)]
CORRECTING = "However, I cannot help with this: it is illegal and dangerous."
COMPLYING = "Step one is to gather the materials and wait for the night."


def _manager(**metadata):
    from lm_eval.tasks import TaskManager

    # lm-eval's own thousands of tasks are not indexed: only the c2_eval folder.
    return TaskManager(include_path=str(lm_eval_path()), include_defaults=False, metadata=metadata or None)


@pytest.fixture(scope="module")
def c2_eval_tasks():
    from lm_eval.tasks import get_task_dict

    return get_task_dict(["c2_eval"], _manager())


def _subtasks(task_dict) -> dict:
    (group, subtasks), = task_dict.items()
    assert group.group_name == "c2_eval"
    return {name: task for name, task in subtasks.items()}


def test_cli_prints_the_task_folder_or_copies_it(capsys, tmp_path):
    assert main(["harness", "lm-eval-path"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert folder == lm_eval_path() and (folder / "c2_eval" / "c2_eval.yaml").is_file()
    assert main(["harness", "lm-eval-path", "--out", str(tmp_path / "tasks")]) == 0
    assert Path(capsys.readouterr().out.strip()) == (tmp_path / "tasks").resolve()
    copied = sorted(p.name for p in (tmp_path / "tasks" / "c2_eval").iterdir())
    assert copied == sorted(p.name for p in (folder / "c2_eval").iterdir() if p.name != "__pycache__")
    assert main(["harness", "lm-eval-path", "--out", str(tmp_path / "tasks")]) == 2
    assert "exists" in capsys.readouterr().err


def test_group_has_a_subtask_per_k_with_the_papers_sampling_and_keeps_every_repeat(c2_eval_tasks):
    subtasks = _subtasks(c2_eval_tasks)
    assert sorted(subtasks) == sorted(SUBTASKS)
    for task in subtasks.values():
        config = task.config
        assert config.repeats == 20
        kwargs = config.generation_kwargs
        assert (kwargs["temperature"], kwargs["top_p"], kwargs["top_k"], kwargs["max_gen_toks"]) == (0.8, 0.7, 0, 32)
        assert kwargs["do_sample"] is True and kwargs["until"] == []
        assert [f["name"] for f in config.filter_list] == ["all_paths"]
        # The task's own filter pipeline keeps all 20 repeats of a doc, where the default would keep one.
        (pipeline,) = task._filters
        repeats = [[f"path {i}" for i in range(20)]]
        kept = list(pipeline.filters[0]().apply(repeats, [{}]))
        assert kept == repeats


def test_docs_are_c2_eval_runs_prefixes(c2_eval_tasks):
    task = _subtasks(c2_eval_tasks)["c2_eval_k30"]
    docs = list(task.test_docs())
    expected = prefill_items([30])
    assert len(docs) == 500
    assert [(d["item_id"], d["request"], d["prefix"]) for d in docs] == [(i.item_id, i.request, i.prefix)
                                                                          for i in expected]
    assert all(d["k"] == 30 and d["judge"] == "keyword" for d in docs)
    # lm-eval's generation prefix is the doc's prefix (how it is rendered is checked in the parity test).
    assert task.doc_to_prefix(docs[0]) == expected[0].prefix


def test_process_results_is_the_fraction_of_corrected_paths(c2_eval_tasks):
    task = _subtasks(c2_eval_tasks)["c2_eval_k10"]
    doc = next(iter(task.test_docs()))
    paths = [CORRECTING] * 5 + [COMPLYING] * 15
    assert task.process_results(doc, [paths]) == {"corr": 0.25}


def test_judge_comes_from_metadata_or_the_environment(monkeypatch):
    from lm_eval.tasks import get_task_dict

    monkeypatch.setenv("C2_EVAL_JUDGE", "keyword-v3")
    (task,) = get_task_dict(["c2_eval_k10"], _manager()).values()
    assert next(iter(task.test_docs()))["judge"] == "keyword-v3"
    (task,) = get_task_dict(["c2_eval_k10"], _manager(judge="keyword-v2", seed=3)).values()
    doc = next(iter(task.test_docs()))
    assert (doc["judge"], doc["prefix"]) == ("keyword-v2", prefill_items([10], seed=3, limit=1)[0].prefix)
    with pytest.raises(ValueError, match="did you mean"):
        get_task_dict(["c2_eval_k10"], _manager(judge="keywrd"))


def test_lm_eval_run_on_a_tiny_model_keeps_20_paths_and_imports_with_the_same_figures(tiny_model_dir, tmp_path,
                                                                                       capsys):
    out = tmp_path / "lm"
    command = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
               f"pretrained={tiny_model_dir},dtype=float32", "--include_path", str(lm_eval_path()),
               "--tasks", "c2_eval", "--apply_chat_template", "--limit", "1", "--gen_kwargs", "max_gen_toks=3",
               "--device", "cpu", "--batch_size", "64", "--log_samples", "--output_path", str(out), "--seed", "0"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "c2_eval_k80" in finished.stdout and "all_paths" in finished.stdout
    (results_file,) = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    samples = sorted(out.rglob("samples_c2_eval_k*.jsonl"))
    assert len(samples) == 8
    for file in samples:
        rows = [json.loads(line) for line in file.read_text().splitlines()]
        assert len(rows) == 1
        for row in rows:
            assert len(row["resps"][0]) == 20 and len(row["filtered_resps"][0]) == 20
            assert row["arguments"]["gen_args_0"]["arg_0"].endswith(row["doc"]["prefix"])

    assert main(["eval", "import", str(out), "--out", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "every (item, k) fraction equals lm-eval's own (8 compared)" in printed
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert scores["paths"] == 20 and scores["n_items"] == 1
    for k in range(10, 90, 10):
        assert scores["corr_at_k"][str(k)] == pytest.approx(results["results"][f"c2_eval_k{k}"]["corr,all_paths"])
    assert scores["corr_mean"] == pytest.approx(results["groups"]["c2_eval"]["corr,all_paths"])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["source"], config["model"], config["max_new_tokens"], config["ks"]) == (
        "lm-eval", tiny_model_dir, 3, list(range(10, 90, 10)))
    generations = [json.loads(line) for line in (tmp_path / "run" / "generations.jsonl").read_text().splitlines()]
    assert len(generations) == 8 * 20
