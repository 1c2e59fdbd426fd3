"""Comparing results directories: one table, one JSON file, one plot."""

from __future__ import annotations

import json
import re

import pytest

from c2_eval_metric.compare import compare_runs
from c2_eval_metric.results import write_scored_results
from c2kit.cli import main


def _run_dir(path, rates: dict[int, list[int]], *, config: dict | None, judge: str = "keyword-v1", paths: int = 4):
    """A results directory where item i at k has ``rates[k][i]`` of ``paths`` paths corrected."""
    judgments = [
        {"item_id": f"item{i}", "k": k, "path": p, "judge": judge, "corrected": p < corrected}
        for k, per_item in rates.items() for i, corrected in enumerate(per_item) for p in range(paths)
    ]
    write_scored_results(path, judgments, judge=judge, config=config)
    return path


@pytest.fixture
def two_runs(tmp_path):
    # base: k=10 items 1/4, 3/4 -> 50.0; k=20 items 0/4, 1/4 -> 12.5; mean 31.25 (shown 31.2)
    base = _run_dir(tmp_path / "base", {10: [1, 3], 20: [0, 1]}, config={"model": "org/base-chat"})
    # adapter: k=10 4/4, 3/4 -> 87.5; k=20 2/4, 2/4 -> 50.0; k=30 1/4, 1/4 -> 25.0; mean 54.17
    tuned = _run_dir(tmp_path / "tuned", {10: [4, 3], 20: [2, 2], 30: [1, 1]},
                     config={"model": "org/base-chat", "adapter": "org/c2-dpo-adapter"})
    return base, tuned


def test_compare_two_runs(two_runs, tmp_path):
    out = tmp_path / "cmp"
    table = compare_runs(two_runs, out_dir=out)
    lines = table.splitlines()
    assert lines[0] == "| k | org/base-chat | org/c2-dpo-adapter |"
    assert lines[2].startswith("| 10 | 50.0 [") and "| 87.5 [" in lines[2]
    assert lines[3].startswith("| 20 | 12.5 [") and "| 50.0 [" in lines[3]
    assert lines[4].startswith("| 30 | – | 25.0 [")  # k the base run did not evaluate
    assert lines[5].startswith("| **Corr_mean** | **31.2 [") and "| **54.2 [" in lines[5]
    assert lines[6] == "| judge | `keyword-v1` | `keyword-v1` |"
    assert lines[7] == "| items × paths | 2 × 4 | 2 × 4 |"
    # The base skipped k=30, so the two Corr_means average different k values: said, not hidden.
    assert ("**Warning:** the runs cover different k values (org/base-chat: 10, 20; org/c2-dpo-adapter: 10, 20, "
            "30)") in table
    assert "judged by different judges" not in table and "numbers of items" not in table

    assert (out / "comparison.md").read_text() == table + "\n"
    data = json.loads((out / "comparison.json").read_text())
    assert [run["label"] for run in data["runs"]] == ["org/base-chat", "org/c2-dpo-adapter"]
    assert data["runs"][0]["scores"] == json.loads((two_runs[0] / "scores.json").read_text())
    assert data["runs"][1]["scores"]["corr_at_k"]["30"] == 0.25
    assert (out / "corr_at_k.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_labels_and_judge_warning(tmp_path):
    # Same model twice (labels disambiguated by directory), no config at all (labelled by directory),
    # and different judges (warned about).
    a = _run_dir(tmp_path / "seed0", {10: [1]}, config={"model": "m"})
    b = _run_dir(tmp_path / "seed1", {10: [2]}, config={"model": "m"})
    c = _run_dir(tmp_path / "llm-judged", {10: [3]}, config=None, judge="openai:gpt-4o")
    table = compare_runs([a, b, c], out_dir=tmp_path / "cmp")
    assert table.splitlines()[0] == "| k | m (seed0) | m (seed1) | llm-judged |"
    assert "Warning:** the runs were judged by different judges (keyword-v1, openai:gpt-4o)" in table


def test_compare_warns_about_other_item_counts_and_never_writes_into_a_run(tmp_path):
    a = _run_dir(tmp_path / "a", {10: [1, 2]}, config={"model": "m1"})
    b = _run_dir(tmp_path / "b", {10: [1, 2, 3]}, config={"model": "m2"})
    table = compare_runs([a, b], out_dir=tmp_path / "cmp")
    assert "**Warning:** the runs stand on different numbers of items (m1: 2; m2: 3)" in table
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert any("different numbers of items" in warning for warning in data["warnings"])
    own_plot = (a / "corr_at_k.png").read_bytes()
    with pytest.raises(ValueError, match="is one of the compared runs"):
        compare_runs([a, b], out_dir=a)
    assert (a / "corr_at_k.png").read_bytes() == own_plot


def test_local_models_are_labelled_by_directory_name(tmp_path):
    from c2_eval_metric.results import run_label

    base_model = tmp_path / "models" / "base-model"
    base_model.mkdir(parents=True)
    adapter = tmp_path / "runs" / "llama2-c2"  # an absolute path need not exist here to count as local
    base = _run_dir(tmp_path / "base", {10: [1]}, config={"model": str(base_model)})
    tuned = _run_dir(tmp_path / "tuned", {10: [2]}, config={"model": str(base_model), "adapter": str(adapter)})
    table = compare_runs([base, tuned], out_dir=tmp_path / "cmp")
    assert table.splitlines()[0] == "| k | base-model | base-model + llama2-c2 |"
    assert str(tmp_path) not in table
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert [run["label"] for run in data["runs"]] == ["base-model", "base-model + llama2-c2"]
    summary = (tuned / "summary.md").read_text()
    assert run_label({"model": "org/base-chat", "adapter": str(adapter)}, tuned) == "org/base-chat + llama2-c2"
    assert run_label({"adapter": str(adapter) + "/"}, tuned) == "llama2-c2"
    assert run_label({"model": "/cache/hub/models--org--chat/snapshots/0123abc"}, tuned) == "org/chat"
    assert run_label({"model": "org/base-chat", "adapter": "org/c2-dpo-adapter"}, tuned) == "org/c2-dpo-adapter"
    assert "## Run settings" in summary  # the settings (with full paths) stay in the local summary


def test_compare_refuses_dirs_without_scores(two_runs, tmp_path):
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="not-a-run: no scores.json"):
        compare_runs([two_runs[0], empty], out_dir=tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists()  # nothing written


def test_cli_compare(two_runs, tmp_path, capsys):
    assert main(["eval", "compare", *map(str, two_runs), "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    assert "| k | org/base-chat | org/c2-dpo-adapter |" in printed
    assert f"comparison written to {tmp_path / 'cmp'}" in printed


def _edit(path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_hand_edited_scores_json_is_refused_in_one_line_and_nothing_is_written(two_runs, tmp_path, capsys):
    base, tuned = two_runs
    out = tmp_path / "cmp"

    def edit(data):  # Corr_mean 31.2 -> 90.0 with a degenerate interval, as a hand edit would leave it
        data["corr_mean"] = 0.9
        data["ci95"]["mean"] = [0.0, 0.0]

    _edit(tuned / "scores.json", edit)
    assert main(["eval", "compare", str(base), str(tuned), "--out", str(out)]) == 2
    printed = capsys.readouterr()
    [line] = printed.err.splitlines()
    assert line.startswith(f"c2 eval: error: {tuned / 'scores.json'}: field corr_mean is 0.9 but judgments.jsonl "
                           "gives 0.5416666666")
    assert f"--results {tuned} --judge keyword-v1" not in line  # no continuations there: score the verdicts again
    assert f"c2 eval score --judged {tuned / 'judgments.jsonl'}" in line
    assert "Corr_mean" not in printed.out and not out.exists()


@pytest.mark.parametrize("edit, field", [
    (lambda data: data["ci95"]["10"].__setitem__(0, 0.9), "ci95[10] is [0.9, "),  # the interval misses Corr@10
    (lambda data: data["ci95"]["mean"].__setitem__(1, 1.5), "ci95[mean] is ["),  # not a fraction
    (lambda data: data.__setitem__("n_items", 3), "n_items is 3 but judgments.jsonl gives 2"),
    (lambda data: data.__setitem__("paths", 5), "paths is 5 but judgments.jsonl gives 4"),
    (lambda data: data["n_items_at_k"].__setitem__("20", 1), "n_items_at_k[20] is 1 but judgments.jsonl gives 2"),
    (lambda data: data["corr_at_k"].pop("20"), "corr_at_k is for k [10] but judgments.jsonl gives k [10, 20]"),
    (lambda data: data.__setitem__("judge", "openai:gpt-4o"), "judgments.jsonl, row 1: field 'judge' is 'keyword-v1'"),
])
def test_each_figure_of_scores_json_is_checked(two_runs, tmp_path, edit, field):
    base = two_runs[0]
    if "corr_at_k" in field:  # the interval of the k that went goes too, so the file still reads as scores
        edit = (lambda first: lambda data: (first(data), data["ci95"].pop("20")))(edit)
    _edit(base / "scores.json", edit)
    with pytest.raises(ValueError, match=re.escape(field)):
        compare_runs(two_runs, out_dir=tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists()


def test_an_edited_verdict_is_refused_too(two_runs, tmp_path):
    tuned = two_runs[1]
    rows = (tuned / "judgments.jsonl").read_text().splitlines()
    rows[-1] = rows[-1].replace('"corrected": false', '"corrected": true')
    (tuned / "judgments.jsonl").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{tuned / 'scores.json'}: field corr_at_k[30] is 0.25 but "
                                                   "judgments.jsonl gives 0.375")):
        compare_runs(two_runs, out_dir=tmp_path / "cmp")


def test_scores_without_their_verdicts_are_compared_with_a_note(two_runs, tmp_path):
    # e.g. the eval/ folders of a published adapter, which carry scores.json but no judgments.jsonl
    (two_runs[1] / "judgments.jsonl").unlink()
    table = compare_runs(two_runs, out_dir=tmp_path / "cmp")
    note = ("org/c2-dpo-adapter: its scores.json is shown as stored, unchecked (no judgments.jsonl to check it "
            "against)")
    assert f"**Note:** {note}" in table
    assert note in json.loads((tmp_path / "cmp" / "comparison.json").read_text())["warnings"]
    _edit(two_runs[1] / "scores.json", lambda data: data["ci95"]["mean"].__setitem__(1, 0.1))
    with pytest.raises(ValueError, match=re.escape("ci95[mean] is [")):  # its intervals are still checked
        compare_runs(two_runs, out_dir=tmp_path / "cmp2")


def _trained_adapter(folder, objective: str | None):
    """A folder as c2 train leaves it, as far as compare reads it: train_config.yaml beside the adapter
    (``objective`` None: a config from before c2 train had objectives, without the key)."""
    folder.mkdir(parents=True)
    (folder / "train_config.yaml").write_text(
        "base_model: org/base-chat\n" + (f"objective: {objective}\n" if objective else ""), encoding="utf-8")
    return str(folder)


@pytest.mark.parametrize(("objective", "caveat", "says"), [
    (None, "c2-dpo", "trigger phrases"),
    ("c2-dpo", "c2-dpo", "trigger phrases"),
    ("recovery-sft", "recovery-sft", "trained to write a refusal"),
    ("derta", "derta", "trained to write a refusal"),
    ("backtrack", "backtrack", "trained to emit `[RESET]`"),
])
def test_a_keyword_judged_adapter_gets_the_caution_of_its_training_objective(tmp_path, monkeypatch, objective,
                                                                             caveat, says):
    import c2_eval_metric.compare as compare
    from c2kit.judges.caveats import KEYWORD_GAMING_CAVEAT, OBJECTIVE_CAVEATS

    footnotes = []
    monkeypatch.setattr(compare, "plot_corr_at_k", lambda *args, **kwargs: footnotes.append(kwargs["footnote"]))
    adapter = _trained_adapter(tmp_path / "my-adapter", objective)
    base = _run_dir(tmp_path / "base", {10: [1, 2]}, config={"model": "org/base-chat"})
    tuned = _run_dir(tmp_path / "tuned", {10: [3, 4]}, config={"model": "org/base-chat", "adapter": adapter})
    table = compare_runs([base, tuned], out_dir=tmp_path / "cmp")

    text = OBJECTIVE_CAVEATS[caveat].text
    assert says in text and f"**Caution (org/base-chat + my-adapter):** {text}" in table
    assert table.count("**Caution") == 1
    assert (KEYWORD_GAMING_CAVEAT in table) == (caveat == "c2-dpo")  # no trigger phrases for an SFT or reset model
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert data["caveats"] == [{"runs": ["org/base-chat + my-adapter"], "text": text}]
    assert footnotes == [f"Caution: {OBJECTIVE_CAVEATS[caveat].short()}"]
    if caveat == "c2-dpo":  # as it was before c2 train had other objectives
        assert footnotes == ["Caution: keyword judge on a C2-Syn-trained adapter: it can be gamed by the training "
                             "triggers; confirm with a model judge"]


def test_adapters_of_several_objectives_get_one_caution_per_objective_naming_its_runs(tmp_path, monkeypatch):
    import c2_eval_metric.compare as compare
    from c2kit.judges.caveats import OBJECTIVE_CAVEATS

    footnotes = []
    monkeypatch.setattr(compare, "plot_corr_at_k", lambda *args, **kwargs: footnotes.append(kwargs["footnote"]))
    runs = [_run_dir(tmp_path / "base", {10: [1, 2]}, config={"model": "m"})]
    for name in ("backtrack", "recovery-sft", "c2-dpo", "derta"):
        adapter = _trained_adapter(tmp_path / f"{name}-adapter", name)
        runs.append(_run_dir(tmp_path / name, {10: [3, 4]}, config={"model": "m", "adapter": adapter}))
    # A model judge's scores need none of these cautions.
    adapter = _trained_adapter(tmp_path / "judged-adapter", "backtrack")
    runs.append(_run_dir(tmp_path / "judged", {10: [3, 4]}, config={"model": "m", "adapter": adapter},
                         judge="openai:gpt-4o"))
    table = compare_runs(runs, out_dir=tmp_path / "cmp")

    reset, refusal, triggers = (OBJECTIVE_CAVEATS[name] for name in ("backtrack", "recovery-sft", "c2-dpo"))
    expected = [{"runs": ["m + backtrack-adapter"], "text": reset.text},
                {"runs": ["m + recovery-sft-adapter", "m + derta-adapter"], "text": refusal.text},
                {"runs": ["m + c2-dpo-adapter"], "text": triggers.text}]
    assert json.loads((tmp_path / "cmp" / "comparison.json").read_text())["caveats"] == expected
    assert re.findall(r"\*\*Caution \(([^)]*)\):\*\*", table) == [", ".join(entry["runs"]) for entry in expected]
    assert "judged-adapter" not in " ".join(re.findall(r"\*\*Caution \(([^)]*)\)", table))
    assert footnotes == ["Caution: the runs were judged by different judges (keyword-v1, openai:gpt-4o); "
                         "keyword judge on a backtracking adapter (m + backtrack-adapter): it counts [RESET] as a "
                         "correction, whatever follows; confirm with a model judge; "
                         "keyword judge on an adapter trained to write refusals (m + recovery-sft-adapter, "
                         "m + derta-adapter): a refusal phrase can score without a change of course; confirm with a "
                         "model judge; keyword judge on a C2-Syn-trained adapter (m + c2-dpo-adapter): it can be "
                         "gamed by the training triggers; confirm with a model judge"]


@pytest.mark.parametrize(("config", "error"), [
    ("objective: dpo-v9\n", "train_config.yaml: objective 'dpo-v9'; expected one of c2-dpo, recovery-sft"),
    ("- objective\n", "train_config.yaml: not a mapping of training settings; expected one of c2-dpo"),
    ("objective: [c2-dpo\n", "train_config.yaml: not a readable training config ("),
])
def test_an_adapter_whose_objective_cannot_be_read_is_refused_in_one_line(tmp_path, capsys, config, error):
    adapter = tmp_path / "my-adapter"
    adapter.mkdir()
    (adapter / "train_config.yaml").write_text(config, encoding="utf-8")
    base = _run_dir(tmp_path / "base", {10: [1, 2]}, config={"model": "m"})
    tuned = _run_dir(tmp_path / "tuned", {10: [3, 4]}, config={"model": "m", "adapter": str(adapter)})
    assert main(["eval", "compare", str(base), str(tuned), "--out", str(tmp_path / "cmp")]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and str(adapter / "train_config.yaml") in message and error in message
    assert not (tmp_path / "cmp").exists()


def test_every_objective_of_c2_train_has_one_caution_which_its_card_gives():
    from c2kit.judges.caveats import OBJECTIVE_CAVEATS
    from c2kit.publish.objective_cards import OBJECTIVE_CARDS
    from c2kit.training.objectives import DEFAULT_OBJECTIVE, OBJECTIVE_NAMES

    from c2_eval_metric.compare import OBJECTIVE_BEFORE_OBJECTIVES

    assert set(OBJECTIVE_CAVEATS) == set(OBJECTIVE_NAMES) and OBJECTIVE_BEFORE_OBJECTIVES == DEFAULT_OBJECTIVE
    for name in OBJECTIVE_NAMES:
        assert OBJECTIVE_CARDS[name].judge_caveat.startswith(OBJECTIVE_CAVEATS[name].text)
