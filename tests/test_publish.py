"""``c2 publish``: every artifact published for real through huggingface_hub to a local fake Hub, then read back.

The fake Hub (tests/fake_hub.py) implements the upload routes huggingface_hub 2.4 uses (create repo,
validate-yaml, preupload, LFS batch + PUT + verify, NDJSON commit, settings) and the read routes datasets,
evaluate and peft use, so these tests check what actually arrives: files, card metadata, model-index values,
visibility and gating, and that the published dataset, metric and adapter load back from the server.
"""

from __future__ import annotations

import json
import re
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from fake_hub import FakeHub

from c2_eval_metric.results import write_scored_results
from c2_syn_dataset.card import CITATION
from c2kit.cli import main
from c2kit.jsonio import write_jsonl
from c2kit.judges import load_judge
from c2kit.publish.hub import PublishError, check_repo_id

TOKEN = "hf_c2kitFakeTestToken0123456789abcdef"

# Hand-made judgments: item -> k -> corrected flag of each path.
# Corr@10 = mean(2/2, 0/2, 1/2) = 1/2; Corr@20 = mean(1/2, 1/2, 0/2) = 1/3; Corr_mean = 5/12.
BASE_FLAGS = {
    "a": {10: [True, True], 20: [True, False]},
    "b": {10: [False, False], 20: [True, False]},
    "c": {10: [True, False], 20: [False, False]},
}
# Corr@10 = mean(2/2, 1/2, 2/2) = 5/6; Corr@20 = mean(2/2, 2/2, 1/2) = 5/6; Corr_mean = 5/6.
ADAPTER_FLAGS = {
    "a": {10: [True, True], 20: [True, True]},
    "b": {10: [True, False], 20: [True, True]},
    "c": {10: [True, True], 20: [False, True]},
}
BASE_EXPECTED = {10: Fraction(1, 2), 20: Fraction(1, 3), "mean": Fraction(5, 12)}
ADAPTER_EXPECTED = {10: Fraction(5, 6), 20: Fraction(5, 6), "mean": Fraction(5, 6)}
RESULT_FILES = {"config.json", "generations.jsonl", "judgments.jsonl", "scores.json", "summary.md", "corr_at_k.png"}


def copy_results(results_dir: Path, target: Path) -> Path:
    """A copy of the results files, to spoil one of them for a refusal test."""
    target.mkdir()
    for name in RESULT_FILES:
        shutil.copy(results_dir / name, target / name)
    return target


def write_results(out: Path, flags: dict, *, model: str = "org/tiny-chat", adapter: str | None = None) -> Path:
    """A results directory made with the metric's own writer from hand-made judgments.

    Its config.json has the settings and model identity ``c2 eval run`` records (with the adapter's real hash).
    """
    from c2kit.models import adapter_hash

    out.mkdir(parents=True, exist_ok=True)
    generations, judgments = [], []
    for item, by_k in flags.items():
        for k, paths in by_k.items():
            for path, corrected in enumerate(paths):
                generations.append({"item_id": item, "k": k, "path": path, "prefix": f"Sure, step one of {item}",
                                    "prompt": f"<|im_start|>user\nhow to {item}?", "continuation": "However, no."})
                judgments.append({"item_id": item, "k": k, "path": path, "judge": "keyword-v1", "corrected": corrected})
    write_jsonl(out / "generations.jsonl", generations)
    identity = {"model": model, "revision": "c0ffee" * 6 + "c0ff", "is_tiny": False, "load_in_4bit": False,
                "dtype": "auto"}
    if adapter:
        identity.update(adapter=adapter, adapter_sha256=adapter_hash(Path(adapter)))
    sampling = {"num_paths": 2, "max_new_tokens": 32, "temperature": 1.0, "top_p": 0.9, "seed": 0}
    write_scored_results(out, judgments, judge="keyword-v1",
                         config={"model": model, "adapter": adapter, "data": "c2eval-500", "ks": [10, 20], "paths": 2,
                                 "mode": "words", "seed": 0, "sampling": sampling, "model_identity": identity})
    return out


def edited_run(run_dir: Path, out: Path, **changes) -> Path:
    """A copy of a results directory whose config.json has ``changes`` (``a__b=1`` sets ``config["a"]["b"]``)."""
    shutil.copytree(run_dir, out)
    config = json.loads((out / "config.json").read_text())
    for key, value in changes.items():
        *parents, name = key.split("__")
        target = config
        for parent in parents:
            target = target[parent]
        target[name] = value
    (out / "config.json").write_text(json.dumps(config))
    return out


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A running fake Hub with huggingface_hub, datasets and evaluate pointed at it, and a fake token."""
    import datasets
    import evaluate
    from huggingface_hub import constants, hf_api
    from transformers.utils import hub as transformers_hub

    with FakeHub(TOKEN) as server:
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        # These libraries read their endpoint and offline flags at import time: patch the module constants.
        monkeypatch.setattr(constants, "ENDPOINT", server.url)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            server.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # plain LFS uploads, not Xet
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        monkeypatch.setattr(hf_api.api, "endpoint", server.url)  # the module-level HfApi behind file_exists & co.
        # transformers keeps an HfApi of its own, made with the endpoint of the first test that used it: a new one
        # for this server (it lists a tokenizer repo's chat templates through it).
        monkeypatch.setattr(transformers_hub, "_hf_api", None)
        monkeypatch.setattr(datasets.config, "HF_ENDPOINT", server.url)
        monkeypatch.setattr(datasets.config, "HUB_DATASETS_URL",
                            server.url + "/datasets/{repo_id}/resolve/{revision}/{path}")
        monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(evaluate.config, "HF_ENDPOINT", server.url)
        monkeypatch.setattr(evaluate.config, "HUB_EVALUATE_URL",
                            server.url + "/spaces/{path}/resolve/{revision}/{name}")
        yield server


def publish(capsys, *argv: str) -> tuple[int, str]:
    code = main(["publish", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def previewed_files(preview: Path) -> dict[str, bytes]:
    """The preview's files as `hf upload` (upload_folder) would send them: its ignore list drops the dry-run mark."""
    from huggingface_hub.hf_api import DEFAULT_IGNORE_PATTERNS
    from huggingface_hub.utils import filter_repo_objects

    names = [p.relative_to(preview).as_posix() for p in preview.rglob("*") if p.is_file()]
    return {name: (preview / name).read_bytes()
            for name in filter_repo_objects(names, ignore_patterns=DEFAULT_IGNORE_PATTERNS)}


def assert_no_token(server: FakeHub, repo_type: str, repo_id: str, output: str) -> None:
    assert TOKEN not in output
    for path, content in server.repo(repo_type, repo_id).files.items():
        assert TOKEN.encode() not in content, path


def read_card(card_class, content: bytes):
    from c2kit.publish.cards import parse_card

    return parse_card(card_class, content.decode("utf-8"))


# -- validation before any request ------------------------------------------------------------------------


@pytest.mark.parametrize("repo_id", ["no-namespace", "a/b/c", "org/bad..name", "/name", "org/", "org/na me"])
def test_repo_id_of_the_wrong_form_is_refused(repo_id):
    with pytest.raises(PublishError, match="repo"):
        check_repo_id(repo_id)


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory) -> Path:
    return write_results(tmp_path_factory.mktemp("results") / "run", BASE_FLAGS)


def test_bad_input_never_reaches_the_hub(hub, capsys, tmp_path, results_dir):
    no_scores = tmp_path / "no-scores"
    no_scores.mkdir()
    for name in ("config.json", "generations.jsonl", "judgments.jsonl"):
        (no_scores / name).write_bytes((results_dir / name).read_bytes())
    code, out = publish(capsys, "results", str(no_scores), "--repo-id", "org/results")
    assert code == 2 and "no scores.json" in out

    code, out = publish(capsys, "results", str(results_dir), "--repo-id", "results-without-org")
    assert code == 2 and "ORG/NAME" in out

    # scores.json that does not match judgments.jsonl: the card would show numbers nobody measured.
    stale = copy_results(results_dir, tmp_path / "stale")
    scores = json.loads((stale / "scores.json").read_text())
    scores["corr_at_k"]["10"] = 0.9
    (stale / "scores.json").write_text(json.dumps(scores))
    code, out = publish(capsys, "results", str(stale), "--repo-id", "org/results")
    assert code == 2 and "corr_at_k[10] is 0.9" in out and "0.5" in out

    # A judgment row without its field: the error names file, row and field.
    broken = copy_results(results_dir, tmp_path / "broken")
    rows = (broken / "judgments.jsonl").read_text().splitlines()
    row = json.loads(rows[2])
    del row["corrected"]
    rows[2] = json.dumps(row)
    (broken / "judgments.jsonl").write_text("\n".join(rows) + "\n")
    code, out = publish(capsys, "results", str(broken), "--repo-id", "org/results")
    assert code == 2 and "judgments.jsonl, row 3" in out and "corrected" in out

    # A secret in a file to upload (e.g. pasted into config.json) stops the upload.
    leaky = copy_results(results_dir, tmp_path / "leaky")
    config = json.loads((leaky / "config.json").read_text())
    (leaky / "config.json").write_text(json.dumps({**config, "note": f"token {TOKEN}"}))
    code, out = publish(capsys, "results", str(leaky), "--repo-id", "org/results")
    assert code == 2 and "config.json" in out and "contain(s) a secret" in out and TOKEN not in out
    code, out = publish(capsys, "results", str(leaky), "--repo-id", "org/results", "--dry-run",
                        "--preview-dir", str(tmp_path / "leaky-preview"))
    assert code == 2 and "contain(s) a secret" in out  # the preview says so too

    code, out = publish(capsys, "dataset", str(tmp_path), "--repo-id", "org/c2-syn")
    assert code == 2 and "no README.md" in out

    assert hub.requests == []  # nothing above reached the server
    assert hub.repos == {}


def failed_judge_run(results_dir: Path, target: Path) -> Path:
    """A copy of the results whose model judge answered mostly neither yes nor no, marked as ``c2 eval`` marks it
    (its ``summary.md`` opens with "Not a result")."""
    from c2kit.cli.unparsed import check_results

    run = copy_results(results_dir, target)
    config = json.loads((run / "config.json").read_text())
    config["judge_info"] = {"name": "hf:org/judge", "tally": {"yes": 1, "no": 0, "unparsed": 3}}
    (run / "config.json").write_text(json.dumps(config))
    assert check_results(run, accept=False, command="c2 eval score") == 2
    assert "> **Not a result.**" in (run / "summary.md").read_text()
    return run


def test_a_run_marked_not_a_result_is_refused(hub, capsys, tmp_path, results_dir):
    run = failed_judge_run(results_dir, tmp_path / "failed")
    capsys.readouterr()
    for extra in ([], ["--dry-run", "--preview-dir", str(tmp_path / "preview")]):
        code, printed = publish(capsys, "results", str(run), "--repo-id", "org/results", *extra)
        assert code == 2 and printed.strip().splitlines() == [
            f"c2 publish results: error: {run / 'summary.md'} is marked \"Not a result\": its model judge failed "
            "(more than half of its answers were neither yes nor no), so its numbers are not a result; score the run "
            "again with another judge (c2 eval score --results DIR --judge ...), or accept it on purpose with "
            "--accept-unparsed; nothing was uploaded"]
    assert not (tmp_path / "preview").exists()
    assert hub.requests == [] and hub.repos == {}


@pytest.mark.parametrize("artifact", ["results", "dataset", "metric", "adapter"])
def test_out_without_dry_run_is_refused_before_anything_is_read_or_sent(hub, capsys, tmp_path, results_dir, artifact):
    folder = [] if artifact == "metric" else [str(results_dir if artifact == "results" else tmp_path / "missing")]
    for out in ("--out", "--preview-dir"):
        code, printed = publish(capsys, artifact, *folder, "--repo-id", "org/thing", out, str(tmp_path / "preview"))
        assert code == 2 and printed.strip().splitlines() == [
            f"c2 publish {artifact}: error: --out is where a --dry-run writes its preview; add --dry-run, or leave "
            "--out out"]
    assert not (tmp_path / "preview").exists()
    assert hub.requests == [] and hub.repos == {}


@pytest.mark.parametrize("artifact", ["results", "dataset", "metric", "adapter"])
def test_every_publish_error_names_its_command(hub, capsys, tmp_path, results_dir, artifact):
    # What publish refuses is one line that starts with the command, as every other command's does.
    folder = [] if artifact == "metric" else [str(results_dir if artifact == "results" else tmp_path)]
    code, printed = publish(capsys, artifact, *folder, "--repo-id", "x")
    assert code == 2 and printed.strip().splitlines() == [
        f"c2 publish {artifact}: error: --repo-id must have the form ORG/NAME (a user or organisation, then a name), "
        "got 'x'"]
    assert hub.requests == []


def test_no_token_is_a_clear_error(hub, capsys, monkeypatch, tmp_path, results_dir):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    code, out = publish(capsys, "results", str(results_dir), "--repo-id", "org/results")
    assert code == 2 and "HF_TOKEN" in out and "hf auth login" in out
    assert hub.requests == []


# -- results ----------------------------------------------------------------------------------------------


def test_results_dry_run_equals_upload_and_loads_back(hub, capsys, tmp_path, results_dir):
    import datasets
    from huggingface_hub import DatasetCard

    preview = tmp_path / "preview"
    code, out = publish(capsys, "results", str(results_dir), "--repo-id", "org/c2-results", "--dry-run",
                        "--preview-dir", str(preview))
    assert code == 0 and "nothing was sent" in out and "judgments.jsonl" in out
    assert hub.requests == []  # a dry run needs no network
    previewed = previewed_files(preview)

    code, out = publish(capsys, "results", str(results_dir), "--repo-id", "org/c2-results")
    assert code == 0, out
    repo = hub.repo("dataset", "org/c2-results")
    assert repo.private and repo.gated == "auto"
    assert repo.files == previewed  # the preview is exactly what arrived
    assert set(repo.files) == RESULT_FILES | {"README.md"}
    for name in RESULT_FILES:
        assert repo.files[name] == (results_dir / name).read_bytes()
    assert {"corr_at_k.png"} <= repo.lfs_paths  # binary files went through LFS batch + PUT
    assert all(request.authorized for request in hub.requests if request.path.startswith("/api/datasets/"))
    assert_no_token(hub, "dataset", "org/c2-results", out)

    card = read_card(DatasetCard, repo.files["README.md"])
    metadata = card.data.to_dict()
    assert metadata["license"] == "cc-by-nc-4.0" and "extra_gated_prompt" in metadata
    assert [config["config_name"] for config in metadata["configs"]] == ["generations", "judgments"]
    # Percent, as the CLI prints them (scores.json keeps fractions).
    assert "| 10 | 50.0 | [" in card.text and "| 20 | 33.3 | [" in card.text and "**41.7**" in card.text
    assert CITATION in card.text

    cache = tmp_path / "datasets-cache"
    judgments = datasets.load_dataset("org/c2-results", "judgments", split="train", cache_dir=str(cache))
    local = [json.loads(line) for line in (results_dir / "judgments.jsonl").read_text().splitlines()]
    assert judgments.to_list() == local
    generations = datasets.load_dataset("org/c2-results", split="train", cache_dir=str(cache))  # default config
    assert generations.num_rows == 12
    assert set(generations.column_names) == {"item_id", "k", "path", "prefix", "prompt", "continuation"}



def test_results_upload_carries_the_latency_plot_and_the_overcorrection_run(hub, capsys, tmp_path, results_dir):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(results_dir, run)
    (run / "latency_by_k.png").write_bytes((run / "corr_at_k.png").read_bytes())
    (run / "overcorrection").mkdir()
    for name in ("generations.jsonl", "judgments.jsonl", "scores.json"):
        (run / "overcorrection" / name).write_text("{}\n")
    preview = tmp_path / "preview"
    code, out = publish(capsys, "results", str(run), "--repo-id", "org/c2-results", "--dry-run",
                        "--preview-dir", str(preview))
    assert code == 0, out
    staged = set(previewed_files(preview))
    assert {"latency_by_k.png", "overcorrection/generations.jsonl", "overcorrection/judgments.jsonl",
            "overcorrection/scores.json"} <= staged


def test_results_card_of_a_smoke_run_says_so(hub, capsys, tmp_path, results_dir):
    from c2kit.publish.cards import SMOKE_NOTICE, SMOKE_TAG

    def card_of(run: Path, name: str) -> str:
        preview = tmp_path / name
        code, out = publish(capsys, "results", str(run), "--repo-id", "org/c2-results", "--dry-run",
                            "--preview-dir", str(preview))
        assert code == 0, out
        return (preview / "README.md").read_text()

    assert SMOKE_NOTICE not in card_of(results_dir, "real") and SMOKE_TAG not in card_of(results_dir, "real2")
    for change, name in (({"smoke_model": True}, "flag"), ({"model_identity__is_tiny": True}, "identity")):
        card = card_of(edited_run(results_dir, tmp_path / f"run-{name}", **change), f"preview-{name}")
        assert SMOKE_NOTICE in card and f"- {SMOKE_TAG}" in card
        assert card.index(SMOKE_NOTICE) < card.index("## Scores")  # at the top, before any number
    assert hub.requests == []


def test_gating_is_switched_on_before_the_upload(hub, capsys, results_dir):
    code, out = publish(capsys, "results", str(results_dir), "--repo-id", "org/open-results", "--public")
    assert code == 0, out
    requests = [(request.method, request.path) for request in hub.requests]
    gating = requests.index(("PUT", "/api/datasets/org/open-results/settings"))
    assert gating < requests.index(("POST", "/api/datasets/org/open-results/commit/main"))
    assert not any(path.startswith("/api/datasets/org/open-results/preupload/") for _, path in requests[:gating])
    repo = hub.repo("dataset", "org/open-results")
    assert not repo.private and repo.gated == "auto"


def test_a_failed_gating_request_uploads_nothing(hub, capsys, results_dir):
    hub.settings_error = "gated access is not available for this account"
    code, out = publish(capsys, "results", str(results_dir), "--repo-id", "org/open-results", "--public")
    assert code == 2
    assert "error: switching on gated access (auto) for the dataset repo org/open-results failed" in out
    assert "gated access is not available for this account" in out and "nothing was uploaded" in out
    assert "Traceback" not in out
    assert hub.repo("dataset", "org/open-results").commits == []
    assert not any("/preupload/" in request.path or "/commit/" in request.path for request in hub.requests)


# -- adapter ----------------------------------------------------------------------------------------------


HELD_OUT = {"eval_before": {"loss": 0.6931, "rewards/margins": 0.0, "rewards/accuracies": 0.5},
            "eval_after": {"loss": 0.4, "rewards/margins": 1.25, "rewards/accuracies": 0.875}}
DATA_REPORT = "org/c2-syn [pairs/train]: 45 pairs, 45 pass the rank filter; training on 30, held out 15"


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A directory laid out as `c2 train --eval` leaves it: adapter, tokenizer, resolved config, logs, metrics,
    a checkpoint, and C2-Eval of base and adapter with their comparison."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from c2_eval_metric.compare import compare_runs
    from c2kit.training.config import load_config, save_config

    out = tmp_path_factory.mktemp("train") / "out"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)  # a fresh copy: get_peft_model edits it in place
    get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
                   ).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    profile = Path(__file__).resolve().parents[1] / "training" / "profiles" / "tiny-cpu.yaml"
    overrides = {"dataset": "org/c2-syn", "output_dir": str(out), "beta": 0.25, "lora_r": 16}
    save_config(load_config(profile, overrides), out / "train_config.yaml")
    (out / "metrics.json").write_text(json.dumps({"data": DATA_REPORT, **HELD_OUT}), encoding="utf-8")
    (out / "training_log.jsonl").write_text('{"step": 5, "loss": 0.69}\n', encoding="utf-8")
    (out / "checkpoint-20").mkdir()
    (out / "checkpoint-20" / "optimizer.pt").write_bytes(b"\0" * 64)
    write_results(out / "eval" / "base", BASE_FLAGS)
    write_results(out / "eval" / "adapter", ADAPTER_FLAGS, adapter=str(out))
    compare_runs([out / "eval" / "base", out / "eval" / "adapter"], out_dir=out / "eval" / "compare")
    return out


def test_adapter_published_with_model_index_from_scores(hub, capsys, tmp_path, adapter_dir, tiny_model_dir):
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    # adapter_config.json names a local path as base model: the Hub id must be given.
    code, out = publish(capsys, "adapter", str(adapter_dir), "--repo-id", "org/tiny-c2-lora")
    assert code == 2 and "--base-model" in out and hub.requests == []

    preview = tmp_path / "preview"
    args = ["adapter", str(adapter_dir), "--repo-id", "org/tiny-c2-lora", "--base-model", "org/tiny-chat", "--public"]
    assert publish(capsys, *args, "--dry-run", "--preview-dir", str(preview))[0] == 0
    code, out = publish(capsys, *args)
    assert code == 0, out
    repo = hub.repo("model", "org/tiny-c2-lora")
    assert not repo.private  # --public
    assert repo.files == previewed_files(preview)
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "train_config.yaml", "metrics.json", "training_log.jsonl", "eval/base/scores.json",
            "eval/adapter/scores.json", "eval/compare/comparison.md", "eval/compare/comparison.json"} <= set(repo.files)
    assert not any(path.startswith("checkpoint-") for path in repo.files)  # checkpoints stay local
    assert "adapter_model.safetensors" in repo.lfs_paths
    assert_no_token(hub, "model", "org/tiny-c2-lora", out)

    card = read_card(ModelCard, repo.files["README.md"])
    assert card.data.base_model == "org/tiny-chat" and card.data.library_name == "peft"
    assert card.data.datasets == ["org/c2-syn"]  # the training config's dataset, a Hub id
    assert card.data.license == "cc-by-nc-4.0"
    # model-index values equal the scores.json files that arrived with the card, and the hand-computed values.
    name, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    assert name == "tiny-c2-lora"
    values = {result.metric_type: result.metric_value for result in results}
    for run, suffix, expected in (("adapter", "", ADAPTER_EXPECTED), ("base", "_base_model", BASE_EXPECTED)):
        scores = json.loads(repo.files[f"eval/{run}/scores.json"])
        assert values[f"corr_at_10{suffix}"] == scores["corr_at_k"]["10"] == pytest.approx(float(expected[10]))
        assert values[f"corr_at_20{suffix}"] == scores["corr_at_k"]["20"] == pytest.approx(float(expected[20]))
        assert values[f"corr_mean{suffix}"] == scores["corr_mean"] == pytest.approx(float(expected["mean"]))
    assert all(result.metric_config == "keyword-v1" and "keyword-v1" in result.metric_name for result in results)
    assert "| 10 | 50.0 [" in card.text and "| 83.3 [" in card.text and "+33.3" in card.text  # percent, as the CLI
    assert DATA_REPORT in card.text and "| rewards/margins | 0.0000 | 1.2500 |" in card.text
    assert "| `beta` | 0.25 |" in card.text and "| `lora_r` | 16 |" in card.text  # the resolved training config
    assert CITATION in card.text

    # adapter_config.json names the base model by its Hub id; no local path went up in any file.
    local_config = json.loads((adapter_dir / "adapter_config.json").read_text())
    assert local_config["base_model_name_or_path"] == tiny_model_dir
    published_config = json.loads(repo.files["adapter_config.json"])
    assert published_config == {**local_config, "base_model_name_or_path": "org/tiny-chat"}
    assert not [path for path, content in repo.files.items() if tiny_model_dir.encode() in content]

    # The adapter loads the way its card says, the base model coming from the Hub id in adapter_config.json.
    from huggingface_hub import HfApi
    from peft import AutoPeftModelForCausalLM, PeftConfig

    assert 'AutoPeftModelForCausalLM.from_pretrained("org/tiny-c2-lora")' in card.text
    HfApi(token=TOKEN).create_repo("org/tiny-chat")
    HfApi(token=TOKEN).upload_folder(repo_id="org/tiny-chat", folder_path=tiny_model_dir)
    assert PeftConfig.from_pretrained("org/tiny-c2-lora").base_model_name_or_path == "org/tiny-chat"
    loaded = AutoPeftModelForCausalLM.from_pretrained("org/tiny-c2-lora")
    assert loaded.peft_config["default"].r == 4
    assert loaded.peft_config["default"].base_model_name_or_path == "org/tiny-chat"
    fetched = [request.path for request in hub.requests]
    assert "/org/tiny-c2-lora/resolve/main/adapter_model.safetensors" in fetched
    assert any(path.startswith("/org/tiny-chat/resolve/") and path.endswith("/model.safetensors") for path in fetched)



def test_a_backtrack_adapter_loads_with_its_reset_token_as_its_card_says(hub, capsys, monkeypatch, tmp_path,
                                                                         tiny_model_dir):
    """The card's snippet (``AutoPeftModelForCausalLM`` and ``AutoTokenizer`` from the published repo) gives back the
    model that was trained: the base grown by the token's row, the trained rows of [RESET] in the embedding and
    the untied LM head (Llama-2's), the same logits."""
    import dataclasses

    import torch
    from huggingface_hub import HfApi
    from peft import AutoPeftModelForCausalLM, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from c2kit.training.config import load_config
    from c2kit.training.model import lora_config
    from c2kit.training.objectives.backtrack import prepare_reset_rows

    base = tmp_path / "base"  # untied, as Llama-2: the head has a [RESET] row of its own
    AutoModelForCausalLM.from_pretrained(tiny_model_dir, tie_word_embeddings=False).save_pretrained(base)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = lora_config(load_config("tiny-cpu"))
    trained = get_peft_model(model, dataclasses.replace(config, trainable_token_indices=prepare_reset_rows(
        model, tokenizer)))
    with torch.no_grad():  # as training leaves them: the token's rows and the LoRA weights moved
        for parameter in trained.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter) * 0.5)
    ids = tokenizer("Sure, here is how[RESET]I cannot help with that.")["input_ids"]
    reset = tokenizer.convert_tokens_to_ids("[RESET]")
    trained.eval()
    with torch.no_grad():
        expected = trained(torch.tensor([ids])).logits[0]
    out = tmp_path / "out"
    trained.save_pretrained(out, save_embedding_layers=False)  # as c2 train saves it
    tokenizer.save_pretrained(out)
    (out / "metrics.json").write_text(json.dumps({"objective": "backtrack"}))

    code, printed = publish(capsys, "adapter", str(out), "--repo-id", "org/tiny-backtrack", "--base-model",
                            "org/tiny-chat-untied")
    assert code == 0, printed
    card = hub.repo("model", "org/tiny-backtrack").files["README.md"].decode()
    assert 'AutoPeftModelForCausalLM.from_pretrained("org/tiny-backtrack")' in card
    assert "adds the `[RESET]` token" in card
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # PEFT reads it to look for the repo's tokenizer: a reader is online
    HfApi(token=TOKEN).create_repo("org/tiny-chat-untied")
    HfApi(token=TOKEN).upload_folder(repo_id="org/tiny-chat-untied", folder_path=str(base))
    loaded = AutoPeftModelForCausalLM.from_pretrained("org/tiny-backtrack")
    loaded_tokenizer = AutoTokenizer.from_pretrained("org/tiny-backtrack")
    assert loaded_tokenizer.convert_tokens_to_ids("[RESET]") == reset == len(loaded_tokenizer) - 1
    loaded.eval()
    with torch.no_grad():
        logits = loaded(torch.tensor([ids])).logits[0]
    assert torch.allclose(logits, expected, atol=1e-5)
    assert logits[:, reset].std() > 0.1  # the trained head row of [RESET], not an untrained one


def test_adapter_card_of_a_smoke_run_says_so_and_replaces_trls_readme(hub, capsys, tmp_path, adapter_dir):
    """The fixture is a smoke run (tiny base, model_name_or_path: tiny); TRL's own README.md is not what goes up."""
    import yaml

    from c2kit.publish.cards import SMOKE_NOTICE, SMOKE_TAG

    out = tmp_path / "out"
    shutil.copytree(adapter_dir, out)
    (out / "README.md").write_text("---\nbase_model: /tmp/tmpabc/base-model\nlibrary_name: peft\n---\n"
                                   "# Model Card for out\n\nThis model is a fine-tuned version of [None](https://"
                                   "huggingface.co/None).\n")

    def card_of(name: str) -> str:
        preview = tmp_path / name
        code, text = publish(capsys, "adapter", str(out), "--repo-id", "org/tiny-c2-lora", "--base-model",
                             "org/tiny-chat", "--dry-run", "--preview-dir", str(preview))
        assert code == 0, text
        return (preview / "README.md").read_text()

    card = card_of("smoke")
    assert SMOKE_NOTICE in card and f"- {SMOKE_TAG}" in card and card.index(SMOKE_NOTICE) < card.index("## Use")
    assert "[None]" not in card and "/tmp/tmpabc" not in card  # our card, not TRL's

    # The same adapter recorded as trained on a real model: no smoke notice.
    config = yaml.safe_load((out / "train_config.yaml").read_text())
    (out / "train_config.yaml").write_text(yaml.safe_dump({**config, "model_name_or_path": "org/real-chat"}))
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    (out / "adapter_config.json").write_text(json.dumps({**adapter_config, "base_model_name_or_path": "org/real-chat"}))
    shutil.rmtree(out / "eval")  # the fixture's eval runs hash the original adapter_config.json
    card = card_of("real")
    assert SMOKE_NOTICE not in card and SMOKE_TAG not in card
    assert hub.requests == []


def test_adapter_with_an_evaluation_marked_not_a_result_is_refused(hub, capsys, tmp_path, adapter_dir):
    from c2kit.cli.unparsed import check_results

    out = tmp_path / "out"
    shutil.copytree(adapter_dir, out)
    run = out / "eval" / "adapter"
    config = json.loads((run / "config.json").read_text())
    config["judge_info"] = {"name": "hf:org/judge", "tally": {"yes": 0, "no": 1, "unparsed": 2}}
    (run / "config.json").write_text(json.dumps(config))
    assert check_results(run, accept=False, command="c2 eval run") == 2
    capsys.readouterr()
    code, printed = publish(capsys, "adapter", str(out), "--repo-id", "org/x", "--base-model", "org/tiny-chat",
                            "--dry-run", "--preview-dir", str(tmp_path / "preview"))
    assert code == 2 and len(printed.strip().splitlines()) == 1
    assert printed.startswith(f"c2 publish adapter: error: {run / 'summary.md'} is marked \"Not a result\"")
    assert not (tmp_path / "preview").exists() and hub.requests == []


def test_adapter_training_config_is_read_as_c2_train_reads_it(hub, capsys, tmp_path, adapter_dir):
    # One reader for train_config.yaml: a key set twice, or a file cut short, is named as damaged here too.
    args = ("--repo-id", "org/x", "--base-model", "org/tiny-chat", "--dry-run")
    out = tmp_path / "out"
    shutil.copytree(adapter_dir, out)
    config = out / "train_config.yaml"
    lines = config.read_text().splitlines(keepends=True)
    beta = next(number for number, line in enumerate(lines, start=1) if line.startswith("beta:"))
    hint = "the card's training settings are read from it; give --train-config the config this adapter was trained with"
    config.write_text("".join(lines) + "beta: 0.5\n")
    code, printed = publish(capsys, "adapter", str(out), *args, "--out", str(tmp_path / "p1"))
    assert code == 2 and printed.strip().splitlines() == [
        f"c2 publish adapter: error: {config} is damaged (duplicate key 'beta' at line {len(lines) + 1} (first set at "
        f"line {beta}); keep one): {hint}"]
    config.write_text("".join(lines).rstrip("\n"))
    code, printed = publish(capsys, "adapter", str(out), *args, "--out", str(tmp_path / "p2"))
    assert code == 2 and printed.strip().splitlines() == [
        f"c2 publish adapter: error: {config} is damaged (cut short: it does not end with a line break): {hint}"]
    assert not (tmp_path / "p1").exists() and not (tmp_path / "p2").exists()


def test_adapter_without_weights_or_with_mismatched_evals_is_refused(hub, capsys, tmp_path, adapter_dir):
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    for name in ("adapter_config.json", "tokenizer_config.json", "tokenizer.json"):
        (incomplete / name).write_bytes((adapter_dir / name).read_bytes())
    code, out = publish(capsys, "adapter", str(incomplete), "--repo-id", "org/x", "--base-model", "org/tiny-chat")
    assert code == 2 and "adapter_model.safetensors" in out

    other_judge = write_results(tmp_path / "other", BASE_FLAGS)
    scores = json.loads((other_judge / "scores.json").read_text())
    (other_judge / "scores.json").write_text(json.dumps({**scores, "judge": "openai:gpt-4o"}))
    code, out = publish(capsys, "adapter", str(adapter_dir), "--repo-id", "org/x", "--base-model", "org/tiny-chat",
                        "--eval-base", str(other_judge))
    assert code == 2 and "differ in judge" in out
    assert hub.requests == []


def test_adapter_scores_of_another_adapter_or_base_setup_are_refused(hub, capsys, tmp_path, adapter_dir):
    from safetensors.torch import load_file, save_file

    args = ("adapter", str(adapter_dir), "--repo-id", "org/x", "--base-model", "org/tiny-chat")
    eval_dir = adapter_dir / "eval"
    # Evaluated, then retrained: eval/adapter/config.json records the hash of other weights.
    retrained = tmp_path / "retrained"
    shutil.copytree(adapter_dir, retrained)
    weights = load_file(retrained / "adapter_model.safetensors")
    save_file({name: tensor + 1 for name, tensor in weights.items()}, retrained / "adapter_model.safetensors")
    code, out = publish(capsys, "adapter", str(retrained), *args[2:])
    assert code == 2 and "model_identity.adapter_sha256" in out and "different adapter" in out
    assert str(retrained / "eval" / "adapter" / "config.json") in out

    unverifiable = edited_run(eval_dir / "adapter", tmp_path / "no-hash", model_identity={"model": "org/tiny-chat"})
    code, out = publish(capsys, *args, "--eval-adapter", str(unverifiable))
    assert code == 2 and "'model_identity.adapter_sha256' is missing" in out

    adapter_as_base = edited_run(eval_dir / "adapter", tmp_path / "adapter-as-base")
    code, out = publish(capsys, *args, "--eval-base", str(adapter_as_base))
    assert code == 2 and "must be of the base model alone" in out

    for setting, value in (("seed", 1), ("mode", "tokens"), ("paths", 5), ("sampling__temperature", 0.7),
                           ("model_identity__revision", "0" * 40), ("model_identity__load_in_4bit", True)):
        other_base = edited_run(eval_dir / "base", tmp_path / setting, **{setting: value})
        code, out = publish(capsys, *args, "--eval-base", str(other_base))
        assert code == 2, setting
        assert f"differ in {setting.replace('__', '.')} (" in out and str(other_base / "config.json") in out
    assert hub.requests == []


TEXT_SUFFIXES = (".json", ".jsonl", ".yaml", ".md", ".csv")


def assert_no_local_paths(files: dict[str, bytes], *paths: str) -> None:
    for path, content in files.items():
        if path.endswith(TEXT_SUFFIXES):
            for local in paths:
                assert local.encode() not in content, (path, local)


def test_published_files_carry_no_local_paths(hub, capsys, monkeypatch, tmp_path, tmp_path_factory, adapter_dir,
                                              tiny_model_dir):
    """An adapter trained on a local base model and its results, laid out as an older toolkit left them (full
    paths as plot and table labels): no text file that goes up names a local path or the home directory."""
    import os

    import yaml

    from c2_eval_metric.compare import compare_runs
    from c2_eval_metric.plots import plot_corr_at_k
    from c2_eval_metric.results import read_scores, run_label

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    run = home / "runs" / "llama2-c2"
    shutil.copytree(adapter_dir, run, ignore=shutil.ignore_patterns("eval"))
    data = home / "data" / "pairs.jsonl"
    config = yaml.safe_load((run / "train_config.yaml").read_text())
    config.update(output_dir=str(run), dataset=str(data), model_name_or_path=tiny_model_dir)
    (run / "train_config.yaml").write_text(yaml.safe_dump(config))
    with open(run / "training_log.jsonl", "a", encoding="utf-8") as log:  # a path only the home catch-all knows
        log.write(json.dumps({"step": 6, "note": f"saved to {home}/elsewhere/ckpt"}) + "\n")
    base = write_results(run / "eval" / "base", BASE_FLAGS, model=tiny_model_dir)
    after = write_results(run / "eval" / "adapter", ADAPTER_FLAGS, model=tiny_model_dir, adapter=str(run))
    assert run_label(json.loads((after / "config.json").read_text()), after) == f"{Path(tiny_model_dir).name} + llama2-c2"
    # What an older toolkit wrote: the full path as the plot's label, and as the comparison's column names.
    stale_plot = plot_corr_at_k([(str(run), read_scores(after))], after / "corr_at_k.png").read_bytes()
    compare = run / "eval" / "compare"
    compare_runs([base, after], out_dir=compare)
    comparison = json.loads((compare / "comparison.json").read_text())
    for entry, label in zip(comparison["runs"], (tiny_model_dir, str(run))):
        entry["label"] = label
    (compare / "comparison.json").write_text(json.dumps(comparison))
    (compare / "comparison.md").write_text(f"| k | {tiny_model_dir} | {run} |\n")

    preview = tmp_path / "preview"
    args = ["adapter", str(run), "--repo-id", "org/private-paths", "--base-model", "org/tiny-chat"]
    assert publish(capsys, *args, "--dry-run", "--preview-dir", str(preview))[0] == 0
    code, out = publish(capsys, *args)
    assert code == 0, out
    files = hub.repo("model", "org/private-paths").files
    assert files == previewed_files(preview)
    basetemp = str(tmp_path_factory.getbasetemp())
    assert_no_local_paths(files, basetemp, os.path.realpath(basetemp), str(home), tiny_model_dir)
    published_config = yaml.safe_load(files["train_config.yaml"])
    assert published_config["output_dir"] == "<local>/llama2-c2" and published_config["dataset"] == "<local>/pairs.jsonl"
    assert published_config["model_name_or_path"] == f"<local>/{Path(tiny_model_dir).name}"
    assert b"~/elsewhere/ckpt" in files["training_log.jsonl"]
    assert json.loads(files["eval/adapter/config.json"])["adapter"] == "<local>/llama2-c2"
    assert json.loads(files["eval/base/scores.json"]) == json.loads((base / "scores.json").read_text())
    # The stale comparison and plot were made again with the directories' names as labels.
    label = Path(tiny_model_dir).name
    assert files["eval/compare/comparison.md"].decode().splitlines()[0] == f"| k | {label} | {label} + llama2-c2 |"
    assert [r["label"] for r in json.loads(files["eval/compare/comparison.json"])["runs"]] == [
        label, f"{label} + llama2-c2"]
    assert files["eval/adapter/corr_at_k.png"][:4] == b"\x89PNG" and files["eval/adapter/corr_at_k.png"] != stale_plot

    # A results directory of the same local model, with a local data file.
    results = edited_run(write_results(tmp_path / "r", BASE_FLAGS, model=tiny_model_dir), home / "results" / "run",
                         data=str(home / "data" / "c2eval.jsonl"))
    preview = tmp_path / "results-preview"
    args = ["results", str(results), "--repo-id", "org/private-results"]
    assert publish(capsys, *args, "--dry-run", "--preview-dir", str(preview))[0] == 0
    code, out = publish(capsys, *args)
    assert code == 0, out
    files = hub.repo("dataset", "org/private-results").files
    assert files == previewed_files(preview)
    assert_no_local_paths(files, basetemp, os.path.realpath(basetemp), str(home), tiny_model_dir)
    assert json.loads(files["config.json"])["data"] == "<local>/c2eval.jsonl"
    assert f"C2-Eval results: {label}" in files["README.md"].decode()
    assert files["judgments.jsonl"] == (results / "judgments.jsonl").read_bytes()


# -- dataset ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def syn_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A real (tiny) C2-Syn build: 3 requests, responses generated by the tiny model."""
    from c2_syn_dataset.pipeline import run_build
    from c2_syn_dataset.settings import BuildSettings

    out = tmp_path_factory.mktemp("syn") / "c2-syn"
    run_build(BuildSettings(source="c2eval-500", generator=tiny_model_dir, limit=3, max_new_tokens=8), out,
              progress=False)
    return out


def test_dataset_published_gated_and_loads_back(hub, capsys, tmp_path, syn_dir):
    import datasets
    from huggingface_hub import DatasetCard

    code, out = publish(capsys, "dataset", str(syn_dir), "--repo-id", "org/c2-syn")
    assert code == 0, out
    repo = hub.repo("dataset", "org/c2-syn")
    assert repo.private and repo.gated == "auto"
    uploaded = set(repo.files)
    assert "README.md" in uploaded and "build.json" in uploaded
    assert not any(path.startswith(("parts/", "cache/")) for path in uploaded)  # build internals stay local
    assert {path for path in uploaded if path.endswith(".parquet")} == {
        str(p.relative_to(syn_dir)) for p in syn_dir.glob("*/train-*.parquet")}
    assert_no_token(hub, "dataset", "org/c2-syn", out)

    card = read_card(DatasetCard, repo.files["README.md"])
    metadata = card.data.to_dict()
    assert metadata["license"] == "cc-by-nc-4.0"
    assert metadata["extra_gated_prompt"] and all(v == "checkbox" for v in metadata["extra_gated_fields"].values())
    assert {config["config_name"] for config in metadata["configs"]} == {"pairs", "ranked"}
    manifest = json.loads((syn_dir / "build.json").read_text())
    assert f"| kept | {manifest['selection']['kept']:,} |" in card.text  # statistics from the build
    assert "3 requests, 45 pairs" in card.text and 'load_dataset("org/c2-syn", "pairs"' in card.text
    assert CITATION in card.text

    cache = tmp_path / "datasets-cache"
    pairs = datasets.load_dataset("org/c2-syn", "pairs", split="train", cache_dir=str(cache))
    assert pairs.num_rows == 45
    assert {"prompt", "chosen", "rejected", "chosen_rank", "rejected_rank", "source_id"} <= set(pairs.column_names)
    local = datasets.load_dataset(str(syn_dir), "pairs", split="train", cache_dir=str(cache))
    assert pairs.to_list() == local.to_list()


def test_dataset_without_configs_or_parquet_is_refused(hub, capsys, tmp_path, syn_dir):
    no_configs = tmp_path / "no-configs"
    no_configs.mkdir()
    (no_configs / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n# C2-Syn\n")
    code, out = publish(capsys, "dataset", str(no_configs), "--repo-id", "org/c2-syn")
    assert code == 2 and "configs" in out and "pairs" in out

    no_parquet = tmp_path / "no-parquet"
    no_parquet.mkdir()
    for name in ("README.md", "build.json"):
        (no_parquet / name).write_bytes((syn_dir / name).read_bytes())
    code, out = publish(capsys, "dataset", str(no_parquet), "--repo-id", "org/c2-syn")
    assert code == 2 and "matches nothing" in out
    assert hub.requests == []


def test_dataset_manifest_that_is_not_utf8_is_named_once(hub, capsys, tmp_path, syn_dir):
    dataset = tmp_path / "c2-syn"
    shutil.copytree(syn_dir, dataset)
    manifest = dataset / "build.json"
    manifest.write_bytes(b'{"note": "caf\xe9"}\n')
    code, out = publish(capsys, "dataset", str(dataset), "--repo-id", "org/c2-syn")
    assert code == 2 and out.strip().splitlines() == [
        f"c2 publish dataset: error: {manifest}, line 1: not UTF-8 text (byte 13 is 0xe9)"]
    assert hub.requests == []



@pytest.mark.parametrize("attack", ["dotdot", "absolute", "symlink"])
def test_dataset_files_outside_the_folder_are_refused(hub, capsys, tmp_path, syn_dir, attack):
    """A card path like ../outside/*.parquet, an absolute one, or a symlink out must not be staged or uploaded."""
    dataset = tmp_path / "c2-syn"
    shutil.copytree(syn_dir, dataset)
    outside = tmp_path / "outside"
    shutil.copytree(dataset / "pairs", outside)
    readme = dataset / "README.md"
    if attack == "symlink":
        for parquet in (dataset / "pairs").glob("*.parquet"):
            parquet.unlink()
            parquet.symlink_to(outside / parquet.name)
    else:
        pattern = "../outside/*.parquet" if attack == "dotdot" else str(outside / "*.parquet")
        card, count = re.subn(r"path: pairs/\S+", f"path: {pattern}", readme.read_text())
        assert count == 1
        readme.write_text(card)
    preview = tmp_path / "preview"
    code, out = publish(capsys, "dataset", str(dataset), "--repo-id", "org/c2-syn", "--dry-run",
                        "--preview-dir", str(preview))
    assert code == 2, out
    assert "outside the dataset folder" in out and "Traceback" not in out
    assert not preview.exists() and not (tmp_path / "outside" / "outside").exists()
    assert hub.requests == []


# -- metric -----------------------------------------------------------------------------------------------


def test_metric_space_loads_with_evaluate(hub, capsys, tmp_path):
    import evaluate
    from huggingface_hub import SpaceCard

    import c2_eval_metric

    code, out = publish(capsys, "metric", "--repo-id", "org/c2_eval")
    assert code == 0, out
    repo = hub.repo("space", "org/c2_eval")
    assert repo.private and repo.sdk == "gradio"
    assert set(repo.files) == {"README.md", "app.py", "c2_eval.py", "corr.py", "requirements.txt"}
    module_dir = Path(c2_eval_metric.METRIC_PATH)
    assert repo.files["c2_eval.py"] == (module_dir / "c2_eval_metric.py").read_bytes()
    assert repo.files["corr.py"] == (module_dir / "corr.py").read_bytes()
    assert b'evaluate.load("org/c2_eval")' in repo.files["app.py"]
    assert_no_token(hub, "space", "org/c2_eval", out)

    card = read_card(SpaceCard, repo.files["README.md"])
    assert card.data.sdk == "gradio" and card.data.app_file == "app.py" and card.data.sdk_version
    assert {"evaluate", "metric"} <= set(card.data.tags)
    assert load_judge("keyword").name in card.text and "openai:MODEL" in card.text  # the judge list of this version

    metric = evaluate.load("org/c2_eval", cache_dir=str(tmp_path / "evaluate-cache"))
    result = metric.compute(predictions=[True, False, True, True, False, False, True, False],
                            item_ids=["a"] * 4 + ["b"] * 4, ks=[10, 10, 20, 20] * 2, judge="keyword-v1")
    assert result["corr_at_k"] == {"10": 0.25, "20": 0.75} and result["corr_mean"] == 0.5
    assert any(request.path.startswith("/spaces/org/c2_eval/resolve/") and request.path.endswith("/c2_eval.py")
               for request in hub.requests)  # loaded from the published Space, not from a local copy
    assert '"corr_at_k": {"10": 0.25, "20": 0.75}' in card.text  # the card's example is the module's real output


def test_secret_scan_finds_a_token_split_across_read_chunks(tmp_path):
    from c2kit.publish.hub import _contains_any

    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 100 + TOKEN.encode() + b"y" * 50)
    for chunk_size in (1, 7, 101, 110, 4096):  # the token straddles chunk boundaries for most of these
        assert _contains_any(path, [TOKEN.encode()], chunk_size=chunk_size)
    assert not _contains_any(path, [TOKEN.encode()[:-1] + b"!"], chunk_size=7)


# -- links out of the published folder, and dry-run previews ----------------------------------------------


def link_out(path: Path, outside: Path) -> Path:
    """Replace ``path`` by a symlink to a copy of it in ``outside``: a file the user never meant to publish."""
    outside.mkdir(exist_ok=True)
    target = outside / path.name
    shutil.copyfile(path, target)
    path.unlink()
    path.symlink_to(target)
    return target


@pytest.mark.parametrize("kind", ["results", "dataset", "adapter", "metric"])
def test_publish_follows_no_symlink_out_of_the_folder(hub, capsys, monkeypatch, tmp_path, kind, request):
    """Every artifact kind: a file that is a link out of the published folder is refused before staging."""
    import c2_eval_metric

    outside = tmp_path / "outside"
    if kind == "metric":
        folder = tmp_path / "metric"
        shutil.copytree(c2_eval_metric.METRIC_PATH, folder, ignore=shutil.ignore_patterns("__pycache__"))
        monkeypatch.setattr(c2_eval_metric, "METRIC_PATH", str(folder))
        linked, argv = folder / "requirements.txt", ["metric"]
    else:
        source = request.getfixturevalue({"results": "results_dir", "dataset": "syn_dir",
                                          "adapter": "adapter_dir"}[kind])
        folder = tmp_path / kind
        shutil.copytree(source, folder)
        linked = folder / {"results": "summary.md", "dataset": "build.json", "adapter": "training_log.jsonl"}[kind]
        argv = [kind, str(folder), *(["--base-model", "org/tiny-chat"] if kind == "adapter" else [])]
    target = link_out(linked, outside)
    preview = tmp_path / "preview"
    for dry_run in (["--dry-run", "--preview-dir", str(preview)], []):
        code, out = publish(capsys, *argv, "--repo-id", f"org/{kind}_x", *dry_run)
        assert code == 2, out
        assert f"{linked} leads through a symlink to {target}, outside the folder" in out, out
        assert "Traceback" not in out
    assert not preview.exists()
    assert hub.requests == []  # nothing reached the Hub


def test_a_link_inside_the_published_folder_is_followed(hub, capsys, tmp_path, results_dir):
    run = copy_results(results_dir, tmp_path / "run")
    (run / "summary.md").rename(run / "summary-v2.md")
    (run / "summary.md").symlink_to("summary-v2.md")  # relative, inside the folder
    preview = tmp_path / "preview"
    code, out = publish(capsys, "results", str(run), "--repo-id", "org/r", "--dry-run", "--preview-dir", str(preview))
    assert code == 0, out
    assert previewed_files(preview)["summary.md"] == (run / "summary-v2.md").read_bytes()


def test_a_dry_run_replaces_its_own_preview_and_no_other_folder(hub, capsys, caplog, tmp_path, results_dir):
    preview = tmp_path / "preview"
    args = ("results", str(results_dir), "--repo-id", "org/r", "--dry-run", "--preview-dir", str(preview))
    assert publish(capsys, *args)[0] == 0
    first = previewed_files(preview)
    (preview / "summary.md").write_text("edited by hand")
    (preview / "stale.txt").write_text("left over")
    code, out = publish(capsys, *args)
    assert code == 0, out
    assert f"{preview}: the preview of an earlier dry run, replaced" in caplog.text
    assert previewed_files(preview) == first  # written again from the run; the stray file is gone
    assert ".cache" not in out and "c2-publish-preview" not in out  # the tree shows what would be uploaded

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    code, out = publish(capsys, *args[:-1], str(mine))
    assert code == 2
    assert f"error: {mine} is not empty and is not the preview of an earlier dry run: remove it or choose another " \
           "--out" in out
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "my notes"
    assert hub.requests == []
