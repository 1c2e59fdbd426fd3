"""The C2-Eval Inspect task and the c2/ model provider: registered by entry point, the paper's settings, epochs as
paths, a reproducible seeded stream per (item, k, epoch), Inspect's hf/ provider refused, and the log imported by
``c2 eval import`` with the same figures."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("inspect_ai", reason="inspect-ai is installed with the 'harness' extra (pip install -e .[harness])")

from inspect_ai import eval as inspect_eval  # noqa: E402

from c2kit.cli import main  # noqa: E402
from c2kit.harness.items import prefill_items  # noqa: E402


@pytest.fixture(scope="module")
def c2_log(tiny_model_dir, tmp_path_factory):
    """One Inspect run of c2_toolkit/c2_eval on the tiny model: 2 items, k 10 and 20, 3 epochs, found by name."""
    logs = tmp_path_factory.mktemp("inspect-logs")
    (log,) = inspect_eval("c2_toolkit/c2_eval", model=f"c2/{tiny_model_dir}", task_args={"k": "10,20", "items": 2,
                                                                                        "epochs": 3},
                          log_dir=str(logs), display="none")
    return log


def test_task_has_the_papers_settings_and_one_sample_per_item_and_k():
    from c2_toolkit.c2_eval import c2_eval

    task = c2_eval(items=3)
    from inspect_ai._util.registry import registry_info

    assert task.epochs == 20 and [registry_info(r).name for r in task.epochs_reducer] == ["mean"]
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
    (again,) = inspect_eval("c2_toolkit/c2_eval", model=f"c2/{tiny_model_dir}",
                            task_args={"k": "10,20", "items": 2, "epochs": 3}, log_dir=str(tmp_path),
                            display="none", max_connections=5)
    first = {(s.id, s.epoch): s.output.completion for s in c2_log.samples}
    assert {(s.id, s.epoch): s.output.completion for s in again.samples} == first


def test_hf_provider_is_refused_naming_the_c2_provider(tiny_model_dir, tmp_path):
    from c2_toolkit.c2_eval import c2_eval

    (log,) = inspect_eval(c2_eval(k=10, items=1, epochs=1), model=f"hf/{tiny_model_dir}",
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
