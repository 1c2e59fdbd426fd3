"""The C2-Eval Inspect task and the c2/ model provider: registered by entry point, the paper's settings, epochs as
paths, a reproducible seeded stream per (item, k, epoch), Inspect's hf/ provider refused, the log imported by
``c2 eval import`` with the same figures, and a damaged or foreign log refused in one line; the task's listing for
inspect_evals (eval.yaml) agrees with the task."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness_refusals import assert_import_refused

pytest.importorskip("inspect_ai", reason="inspect-ai is installed with the 'harness' extra (pip install -e .[harness])")

from inspect_ai import eval as inspect_eval  # noqa: E402

from c2kit.cli import main  # noqa: E402
from c2kit.harness.items import prefill_items  # noqa: E402

TASK_DIR = Path(__file__).resolve().parents[1] / "c2_toolkit" / "c2_eval"
RUN = {"task_args": {"k": "10,20", "items": 2}, "epochs": 3, "display": "none",
       "log_realtime": False}  # the log is written once, at the end: the run is cheaper and the log the same


@pytest.fixture(scope="module")
def c2_log(tiny_model_dir, tmp_path_factory):
    """One Inspect run of c2_toolkit/c2_eval on the tiny model: 2 items, k 10 and 20, 3 epochs, found by name."""
    logs = tmp_path_factory.mktemp("inspect-logs")
    (log,) = inspect_eval("c2_toolkit/c2_eval", model=f"c2/{tiny_model_dir}", log_dir=str(logs), **RUN)
    return log


def test_task_has_the_papers_settings_and_one_sample_per_item_and_k():
    from c2_toolkit.c2_eval import c2_eval

    task = c2_eval(items=3)
    from inspect_ai._util.registry import registry_info

    assert task.epochs == 20 and [registry_info(r).name for r in task.epochs_reducer] == ["mean"]
    assert (task.version, task.metadata["full_task_version"]) == (1, "1-A")
    assert (task.config.temperature, task.config.top_p, task.config.max_tokens) == (0.8, 0.7, 32)
    samples = list(task.dataset)
    expected = prefill_items(limit=3)
    assert [(s.metadata["item_id"], s.metadata["k"]) for s in samples] == [(i.item_id, i.k) for i in expected]
    first = samples[0]
    assert [m.role for m in first.input] == ["user", "assistant"]
    assert (first.input[0].text, first.input[1].text) == (expected[0].request, expected[0].prefix)
    with pytest.raises(ValueError, match="k must be"):
        c2_eval(k="10,ten")


def test_run_samples_every_epoch_as_a_path_and_scores_corr_at_k(c2_log):
    assert c2_log.status == "success"
    assert len(c2_log.samples) == 2 * 2 * 3
    metrics = c2_log.results.scores[0].metrics
    assert set(metrics) == {"Corr@10", "Corr@20", "Corr_mean"}
    assert metrics["Corr_mean"].value == pytest.approx((metrics["Corr@10"].value + metrics["Corr@20"].value) / 2)
    for sample in c2_log.samples:
        prompt = sample.output.metadata["prompt"]
        assert prompt.endswith(sample.metadata["prefix"]) and "<|im_start|>assistant\n" in prompt
        assert sample.scores["course_correction"].metadata["path"] == sample.epoch - 1
    # Each epoch draws from a stream of its own: the three paths of an (item, k) are not one text three times.
    texts = {}
    for sample in c2_log.samples:
        texts.setdefault(sample.id, set()).add(sample.output.completion)
    assert all(len(found) == 3 for found in texts.values())


def test_rerun_gives_the_same_continuations(c2_log, tiny_model_dir, tmp_path):
    (again,) = inspect_eval("c2_toolkit/c2_eval", model=f"c2/{tiny_model_dir}", log_dir=str(tmp_path),
                            max_connections=5, **RUN)
    first = {(s.id, s.epoch): s.output.completion for s in c2_log.samples}
    assert {(s.id, s.epoch): s.output.completion for s in again.samples} == first


def test_hf_provider_is_refused_naming_the_c2_provider(tiny_model_dir, tmp_path):
    from c2_toolkit.c2_eval import c2_eval

    (log,) = inspect_eval(c2_eval(k=10, items=1), model=f"hf/{tiny_model_dir}", epochs=1,
                          model_args={"device": "cpu"}, log_dir=str(tmp_path), display="none")
    assert log.status == "error"
    message = log.error.message
    assert "add_generation_prompt=True" in message and f"--model c2/{tiny_model_dir}" in message
    assert "\n" not in message.strip()


def test_import_of_the_inspect_log_has_the_same_figures(c2_log, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "import", c2_log.location, "--out", str(out)]) == 0
    assert "every (item, k) fraction equals inspect's own (4 compared)" in capsys.readouterr().out
    scores = json.loads((out / "scores.json").read_text())
    metrics = c2_log.results.scores[0].metrics
    assert scores["corr_at_k"]["10"] == pytest.approx(metrics["Corr@10"].value)
    assert scores["corr_at_k"]["20"] == pytest.approx(metrics["Corr@20"].value)
    assert scores["corr_mean"] == pytest.approx(metrics["Corr_mean"].value)
    assert (scores["paths"], scores["n_items"]) == (3, 2)
    rows = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and {row["path"] for row in rows} == {0, 1, 2}


# ---------------------------------------------------------------------------------------------------------
# Bad logs: refused in one line naming the file, the sample and the field, and nothing written.


def _changed_log(c2_log, path: Path, change) -> Path:
    """A copy of the real run's log with ``change`` applied to it, written where Inspect writes logs."""
    from inspect_ai.log import write_eval_log

    log = c2_log.model_copy(deep=True)
    change(log)
    write_eval_log(log, str(path))
    return path


def test_a_damaged_or_truncated_log_is_refused(c2_log, tmp_path, capsys):
    from inspect_ai.log import write_eval_log

    source = Path(c2_log.location)
    cut = tmp_path / source.name
    cut.write_bytes(source.read_bytes()[:len(source.read_bytes()) // 2])  # a copy cut short
    assert_import_refused(capsys, cut, tmp_path / "run", str(cut), "not a readable Inspect log", "truncated")
    as_json = tmp_path / "log.json"
    write_eval_log(c2_log, str(as_json))
    as_json.write_text(as_json.read_text()[:len(as_json.read_text()) // 2])
    assert_import_refused(capsys, as_json, tmp_path / "run", str(as_json), "not a readable Inspect log")


def test_json_that_is_not_an_inspect_log_is_refused_naming_the_field(tmp_path, capsys):
    foreign = tmp_path / "scores.json"
    foreign.write_text(json.dumps({"results": {"c2_eval_k10": {"corr,all_paths": 0.5}}}))
    assert_import_refused(capsys, foreign, tmp_path / "run", str(foreign), "not a readable Inspect log",
                          "field 'eval'")


def test_a_log_of_another_task_is_refused(c2_log, tmp_path, capsys):
    def retitle(log):
        log.eval.task = "inspect_evals/strong_reject"

    other = _changed_log(c2_log, tmp_path / "other.eval", retitle)
    assert_import_refused(capsys, other, tmp_path / "run", str(other), "'inspect_evals/strong_reject'",
                          "not c2_toolkit/c2_eval")


@pytest.mark.parametrize(("field", "change"), [
    ("metadata.k", lambda sample: sample.metadata.pop("k")),
    ("scores.course_correction", lambda sample: sample.scores.clear()),
    ("output.metadata.prompt", lambda sample: sample.output.metadata.pop("prompt")),  # a run through vllm/ or hf/
])
def test_a_sample_missing_a_field_is_refused_naming_it(c2_log, tmp_path, capsys, field, change):
    def damage(log):
        change(log.samples[0])

    bad = _changed_log(c2_log, tmp_path / "bad.eval", damage)
    first = c2_log.samples[0]
    assert_import_refused(capsys, bad, tmp_path / "run", f"{bad}, sample {first.id} epoch {first.epoch}",
                          f"field '{field}' is missing")


def test_a_folder_of_inspect_logs_is_refused_naming_a_log(c2_log, tmp_path, capsys):
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(c2_log.location, folder)
    assert_import_refused(capsys, folder, tmp_path / "run", str(folder), "holds Inspect logs",
                          "name one Inspect log file")


# ---------------------------------------------------------------------------------------------------------
# inspect_evals listing


def test_the_listing_agrees_with_the_task():
    """eval.yaml (an inspect_evals register entry) names the registered task, the file that defines it, its sample
    count and the paper; its description is one line, as inspect_evals renders it."""
    from c2_toolkit.c2_eval import c2_eval

    listing = yaml.safe_load((TASK_DIR / "eval.yaml").read_text())
    (entry,) = listing["tasks"]
    assert entry["name"] == c2_eval.__name__
    repo = Path(__file__).resolve().parents[1]
    tree = ast.parse((repo / entry["task_path"]).read_text())
    decorated = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                 and any(getattr(d, "id", None) == "task" for d in node.decorator_list)]
    assert decorated == [entry["name"]]  # the register tooling finds the one @task in the file
    assert entry["dataset_samples"] == len(c2_eval().dataset) == 500 * 8
    assert "\n" not in listing["description"].strip()
    assert listing["arxiv"] == "https://arxiv.org/abs/2407.16637"
    assert listing["arxiv"] in (TASK_DIR / "README.md").read_text()
