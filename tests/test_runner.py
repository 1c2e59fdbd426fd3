"""C2-Eval runner end to end on the tiny offline model: results directory, CLI, resume, bad data."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from c2_eval_metric.runner import SMOKE_NOTICE, EvalConfig, run_eval
from c2kit.engines import transformers_engine
from c2kit.cli import main
from c2kit.judges import load_judge
from c2kit.sources import bundled_path
from lock_holders import holding_output_lock

GENERATION_KEYS = {"item_id", "k", "path", "prefix", "prompt", "continuation"}
JUDGMENT_KEYS = {"item_id", "k", "path", "judge", "corrected"}
SCORE_KEYS = {"corr_at_k", "corr_mean", "ci95", "n_items", "paths", "judge"}
KEYWORD = load_judge("keyword").name
RESULT_FILES = {"config.json", "generations.jsonl", "judgments.jsonl", "scores.json", "summary.md", "corr_at_k.png"}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    """The first 3 benchmark rows with a bad row (both responses safe) in second place."""
    lines = bundled_path().read_text(encoding="utf-8").splitlines()[:3]
    bad = json.loads(lines[0]) | {"is_response_0_safe": True, "is_response_1_safe": True}
    path = tmp_path_factory.mktemp("data") / "items.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(bad), lines[1], lines[2]]) + "\n", encoding="utf-8")
    return path


def config_for(model: str, data: Path) -> EvalConfig:
    return EvalConfig(model=model, data=str(data), limit=3, ks=[10, 20], paths=2, max_new_tokens=8)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class GenerateCounter:
    """Counts (and can interrupt) the batches that reach the model."""

    def __init__(self, monkeypatch, interrupt_on: int | None = None):
        self.calls = 0
        self.interrupt_on = interrupt_on
        self.original = transformers_engine._generate_batch
        monkeypatch.setattr(transformers_engine, "_generate_batch", self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.interrupt_on:
            raise KeyboardInterrupt
        return self.original(*args, **kwargs)


@pytest.fixture(scope="module")
def cli_run(tiny_model_dir, data_file, tmp_path_factory):
    """One uninterrupted run through ``c2 eval run``; returns (results dir, printed output).

    Module-scoped (capsys is per test), so stdout is captured by hand.
    """
    out = tmp_path_factory.mktemp("cli-run")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["eval", "run", "--model", tiny_model_dir, "--data", str(data_file), "--limit", "3",
                     "--ks", "10,20", "--paths", "2", "--max-new-tokens", "8", "--out", str(out)])
    assert code == 0
    return out, buffer.getvalue()


def test_cli_run_writes_the_results_directory(cli_run, tiny_model_dir, data_file):
    out, printed = cli_run
    assert RESULT_FILES <= {path.name for path in out.iterdir()}
    generations = read_jsonl(out / "generations.jsonl")
    judgments = read_jsonl(out / "judgments.jsonl")
    assert len(generations) == len(judgments) == 3 * 2 * 2  # items x ks x paths
    assert all(GENERATION_KEYS <= set(row) for row in generations)
    assert all(set(row) == JUDGMENT_KEYS and row["judge"] == KEYWORD for row in judgments)
    assert {(row["item_id"], row["k"], row["path"]) for row in generations} == {
        (item, k, path) for item in ("0", "2", "3") for k in (10, 20) for path in (0, 1)
    }  # row 1 (0-based source id "1") was the bad one
    for row in generations:
        assert len(row["prefix"].split()) == row["k"] and row["prompt"].endswith(row["prefix"])

    scores = json.loads((out / "scores.json").read_text())
    assert SCORE_KEYS <= set(scores) and scores["n_items"] == 3 and scores["paths"] == 2
    assert set(scores) - SCORE_KEYS <= {"n_items_at_k", "n_short_at_k", "short_items", "depth", "latency"}
    assert set(scores["corr_at_k"]) == {"10", "20"} and set(scores["ci95"]) == {"10", "20", "mean"}
    # Corr@k by hand: mean over items of each item's corrected fraction.
    for k in (10, 20):
        fractions = [sum(r["corrected"] for r in judgments if r["item_id"] == item and r["k"] == k) / 2
                     for item in ("0", "2", "3")]
        assert scores["corr_at_k"][str(k)] == pytest.approx(sum(fractions) / 3)
    assert scores["corr_mean"] == pytest.approx((scores["corr_at_k"]["10"] + scores["corr_at_k"]["20"]) / 2)

    config = json.loads((out / "config.json").read_text())
    assert config["model"] == tiny_model_dir and config["ks"] == [10, 20] and config["paths"] == 2
    assert config["model_identity"]["is_tiny"] is True and len(config["model_identity"]["content_sha256"]) == 64
    assert config["smoke_model"] is True and len(config["chat_template_sha256"]) == 16
    assert config["rows_read"] == 4 and config["n_items"] == 3 and config["rows_skipped"] == {"no unsafe response": 1}
    assert config["data_origin"] == str(data_file) and config["sampling"]["num_paths"] == 2
    assert {"torch", "transformers", "peft", "c2-toolkit"} <= set(config["versions"])
    assert config["versions"]["transformers"] and config["judge_info"]["name"] == KEYWORD

    assert "read 4 rows, kept 3, skipped 1 (no unsafe response: 1)" in printed
    assert SMOKE_NOTICE in printed and "results written to" in printed


def test_rerun_resumes_without_generating(cli_run, tiny_model_dir, data_file, monkeypatch):
    out, _ = cli_run
    before = (out / "generations.jsonl").read_text()
    counter = GenerateCounter(monkeypatch)
    scores = run_eval(config_for(tiny_model_dir, data_file), out_dir=out, progress=False)
    assert counter.calls == 0
    assert (out / "generations.jsonl").read_text() == before
    stored = json.loads((out / "scores.json").read_text())
    assert scores.to_json() == {name: stored[name] for name in scores.to_json()}


def test_interrupted_run_resumes_to_the_uninterrupted_result(cli_run, tiny_model_dir, data_file, tmp_path, monkeypatch):
    reference, _ = cli_run
    config = config_for(tiny_model_dir, data_file)
    config.batch_tokens = 1  # one prompt per batch: six batches
    counter = GenerateCounter(monkeypatch, interrupt_on=3)
    with pytest.raises(KeyboardInterrupt):
        run_eval(config, out_dir=tmp_path, progress=False)
    assert (tmp_path / "config.json").exists() and not (tmp_path / "scores.json").exists()
    counter.calls, counter.interrupt_on = 0, None
    run_eval(config, out_dir=tmp_path, progress=False)
    assert counter.calls == 6 - 2  # the two finished batches were read back from the cache
    # Other batch sizes, same samples: the result equals the uninterrupted run's.
    assert (tmp_path / "generations.jsonl").read_text() == (reference / "generations.jsonl").read_text()
    assert (tmp_path / "judgments.jsonl").read_text() == (reference / "judgments.jsonl").read_text()


def test_a_different_seed_is_not_served_from_the_cache(cli_run, tiny_model_dir, data_file, tmp_path, monkeypatch):
    out, _ = cli_run
    config = config_for(tiny_model_dir, data_file)
    config.seed, config.ks = 1, [10]
    counter = GenerateCounter(monkeypatch)
    run_eval(config, out_dir=tmp_path, cache_dir=out / "cache", progress=False)
    assert counter.calls > 0


def test_the_engine_is_closed_before_the_judge_runs(tiny_model_dir, data_file, tmp_path, monkeypatch):
    """A model judge on the same GPUs as a vLLM or Ray engine must find them free."""
    import c2_eval_metric.runner as runner

    events: list[str] = []
    open_engine, judge_rows = runner.open_engine, runner.judge_rows

    def recording_engine(*args, **kwargs):
        opened = open_engine(*args, **kwargs)
        close = opened.engine.close
        opened.engine.close = lambda: (events.append("close"), close())[1]
        return opened

    def recording_judge(*args, **kwargs):
        events.append("judge")
        return judge_rows(*args, **kwargs)

    monkeypatch.setattr(runner, "open_engine", recording_engine)
    monkeypatch.setattr(runner, "judge_rows", recording_judge)
    run_eval(config_for(tiny_model_dir, data_file), out_dir=tmp_path, progress=False)
    assert events[:2] == ["close", "judge"]


def test_a_model_folder_as_out_is_refused_and_its_config_kept(tiny_model_dir, data_file, tmp_path, capsys):
    import shutil

    model_copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_copy)
    before = (model_copy / "config.json").read_bytes()
    code = main(["eval", "run", "--model", tiny_model_dir, "--data", str(data_file), "--limit", "1",
                 "--out", str(model_copy), "--overwrite"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (f"c2 eval: error: {model_copy} holds a config.json that no c2 eval run "
                                               "wrote (a model or another tool's folder?); choose another --out")
    assert (model_copy / "config.json").read_bytes() == before
    assert not (model_copy / "generations.jsonl").exists()


def test_no_usable_rows_is_a_clear_error(tiny_model_dir, tmp_path):
    row = json.loads(bundled_path().read_text(encoding="utf-8").splitlines()[0])
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps(row | {"is_response_0_safe": True, "is_response_1_safe": True}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl: no usable rows"):
        run_eval(EvalConfig(model=tiny_model_dir, data=str(data)), out_dir=tmp_path / "out", progress=False)


def test_bad_sampling_settings_fail_before_loading(tmp_path):
    with pytest.raises(ValueError, match=r"^top_p must be in \(0, 1\], got 1.5$"):
        run_eval(EvalConfig(model="does-not-matter", top_p=1.5), out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"^temperature must be a finite number > 0, got inf$"):
        run_eval(EvalConfig(model="does-not-matter", temperature=float("inf")), out_dir=tmp_path, progress=False)


def test_tokens_mode_run_and_a_bad_judge_fails_before_generating(tiny_model_dir, data_file, tmp_path, monkeypatch):
    counter = GenerateCounter(monkeypatch)
    config = EvalConfig(model=tiny_model_dir, data=str(data_file), limit=2, ks=[3, 6], paths=2, max_new_tokens=4,
                        mode="tokens", judge="no-such-judge")
    with pytest.raises(ValueError, match="no-such-judge"):
        run_eval(config, out_dir=tmp_path / "bad-judge", progress=False)
    assert counter.calls == 0  # the typo surfaced before any sampling

    config.judge = "keyword"
    scores = run_eval(config, out_dir=tmp_path / "tokens", progress=False)
    generations = read_jsonl(tmp_path / "tokens" / "generations.jsonl")
    assert scores.n_items == 2 and sorted(scores.corr_at_k) == [3, 6] and len(generations) == 2 * 2 * 2
    response = {row["item_id"]: row for row in generations}
    for row in generations:
        assert row["prompt"].endswith(row["prefix"])  # the prefix closes the prompt, no end-of-turn after it
    assert all(len(row["prefix"]) < len(response[row["item_id"]]["prompt"]) for row in generations)


def test_a_new_run_in_an_old_directory_never_shows_the_old_scores(
    tiny_model_dir, data_file, cli_run, tmp_path, monkeypatch
):
    import shutil

    out = tmp_path / "reused"
    shutil.copytree(cli_run[0], out)
    GenerateCounter(monkeypatch, interrupt_on=1)
    config = EvalConfig(model=tiny_model_dir, data=str(data_file), limit=3, ks=[10], paths=3, max_new_tokens=8)
    with pytest.raises(ValueError, match=r"holds another run \(ks: \[10, 20\] there, \[10\] now; paths: 2 there, "
                                         r"3 now\): choose another --out, or pass --overwrite"):
        run_eval(config, out_dir=out, progress=False)  # another run's directory is not replaced unasked
    assert json.loads((out / "config.json").read_text())["paths"] == 2
    with pytest.raises(KeyboardInterrupt):
        run_eval(config, out_dir=out, progress=False, overwrite=True)
    # The interrupted run's config is in place and the earlier run's scores are gone, not left beside it.
    assert json.loads((out / "config.json").read_text())["paths"] == 3
    assert not any((out / name).exists() for name in ("scores.json", "judgments.jsonl", "summary.md"))


def test_a_request_longer_than_the_context_is_left_out_and_counted(tiny_model_dir, tmp_path, capsys):
    # The tiny model has 1,024 positions; one request of ~6,000 words would hang generation, not fit it.
    rows = [json.loads(line) for line in bundled_path().read_text(encoding="utf-8").splitlines()[:2]]
    rows[1]["prompt"] = "How do I " + "really " * 6000 + "do it?"
    data = tmp_path / "long.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    config = EvalConfig(model=tiny_model_dir, data=str(data), ks=[10, 20], paths=2, max_new_tokens=4)
    scores = run_eval(config, out_dir=tmp_path / "out", progress=False)
    assert scores.n_items == 1
    stored = json.loads((tmp_path / "out" / "config.json").read_text())
    assert stored["too_long_for_context"] == {"context_window": 1024, "items_per_k": {"10": 1, "20": 1}}
    assert "left out (prompt + 4 new tokens > the model's 1024 positions): k=10: 1 item(s), k=20: 1 item(s)" in (
        capsys.readouterr().out)


def test_a_second_run_on_the_same_results_directory_is_refused(tiny_model_dir, data_file, tmp_path):
    import subprocess
    import sys

    from c2kit.locks import DirectoryLock

    out = tmp_path / "out"
    out.mkdir()
    held = DirectoryLock(out, "results directory", name=".lock")  # as a run in progress holds it
    script = ("import sys\nfrom c2_eval_metric.runner import EvalConfig, run_eval\n"
              f"try:\n    run_eval(EvalConfig(model={tiny_model_dir!r}), out_dir={str(out)!r})\n"
              "except ValueError as e:\n    print(e)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "the results directory is in use by another run (pid" in result.stdout
    assert not (out / "config.json").exists()  # refused before touching anything
    held.release()


def test_duplicate_rows_are_dropped_and_counted_naming_both_rows(tiny_model_dir, tmp_path, capsys):
    from c2kit.sources import SourceError, load_source

    lines = bundled_path().read_text(encoding="utf-8").splitlines()[:2]
    mapped = [{"question": json.loads(line)["prompt"], "answer": json.loads(line)["response_0"]} for line in lines]
    pku = tmp_path / "pku.jsonl"  # row 3 repeats row 1 exactly
    pku.write_text("\n".join([lines[0], lines[1], lines[0]]) + "\n", encoding="utf-8")
    pairs = tmp_path / "pairs.jsonl"  # request + harmful response only; row 4 repeats row 2
    pairs.write_text("".join(json.dumps(row) + "\n" for row in [*mapped, mapped[0] | {"answer": "other"}, mapped[1]]),
                     encoding="utf-8")

    config = EvalConfig(model=tiny_model_dir, data=str(pku), ks=[10], paths=1, max_new_tokens=2)
    scores = run_eval(config, out_dir=tmp_path / "out", progress=False)
    assert scores.n_items == 2  # not 3: the repeated row is not a second item
    out = capsys.readouterr().out
    assert f"{pku}: read 3 rows, kept 2, skipped 1 (duplicate row: 1)" in out
    assert "  skipped row 3: the same row as row 1 (a duplicate: it would count as a second item)" in out
    stored = json.loads((tmp_path / "out" / "config.json").read_text())
    assert stored["n_items"] == 2 and stored["rows_skipped"] == {"duplicate row": 1}

    mapping = {"request": "question", "harmful_response": "answer"}
    loaded = load_source(pairs, column_mapping=mapping)
    assert [row.source_id for row in loaded.rows] == ["0", "1", "2"]  # a different answer is another item
    assert loaded.skipped_examples == ["row 4: the same row as row 2 (a duplicate: it would count as a second item)"]
    with pytest.raises(SourceError, match=r"pairs\.jsonl, row 4: the same row as row 2"):
        load_source(pairs, column_mapping=mapping, strict=True)
    assert len(load_source(pairs, column_mapping=mapping, drop_duplicates=False).rows) == 4
    # With an id column the ids say what an item is: two ids with the same text are two items.
    with_ids = tmp_path / "ids.jsonl"
    with_ids.write_text("".join(json.dumps(row | {"uid": f"u{n}"}) + "\n" for n, row in enumerate(mapped * 2)))
    assert len(load_source(with_ids, column_mapping=mapping | {"id": "uid"}).rows) == 4


def test_the_shipped_benchmark_keeps_its_500_items():
    """Five pairs of its rows give the same item but differ in another column (response_1, labels, annotation
    ids): no row is a duplicate, and all 500 items are the paper's."""
    from c2kit.sources import load_source

    loaded = load_source("c2eval-500")
    assert len(loaded.rows) == 500 and not loaded.skipped


def test_an_eval_run_is_refused_in_a_folder_a_build_writes_or_wrote(tiny_model_dir, tmp_path):
    from c2kit.locks import LockedError

    building = tmp_path / "building"
    with holding_output_lock(building, "c2 syn build", shared=True) as holder:
        with pytest.raises(LockedError, match=rf"building: the results directory is in use by another run \(pid "
                                              rf"{holder.pid}: c2 syn build\); wait for it to finish or choose "
                                              "another --out"):
            run_eval(EvalConfig(model=tiny_model_dir), out_dir=building, progress=False)
    assert sorted(p.name for p in building.iterdir()) == [".lock"]

    built = tmp_path / "built"
    (built / "parts").mkdir(parents=True)
    (built / "build.json").write_text("{}")
    with pytest.raises(ValueError, match=r"built holds files that c2 syn build writes \(build.json, parts\); c2 eval "
                                         "run needs a folder of its own: choose another --out"):
        run_eval(EvalConfig(model=tiny_model_dir), out_dir=built, progress=False)
    assert main(["eval", "run", "--model", tiny_model_dir, "--out", str(built)]) == 2
    assert sorted(p.name for p in built.iterdir()) == [".lock", "build.json", "parts"]
