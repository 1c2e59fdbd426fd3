"""A user's own data, in every documented format: one id rule, schemas checked before any row, the fix named.

Every format the toolkit reads a data file in (JSONL, JSON, CSV, Parquet) gives the same rows the same ids: the
id column where there is one, else the row number. A file whose columns cannot give a row is refused before any
row is read, naming the columns it has, the columns expected and the mapping flag that reads it; the flag's value
it suggests is checked to work. ``c2 train --data`` given another command's output says what that folder is.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from answer_models import build_answer_model

from c2_eval_metric.overcorrection import BENIGN_FIELDS, bundled_benign_path, load_benign
from c2kit.cli import main
from c2kit.sources import SchemaError, load_source, parse_column_mapping

FORMATS = (".jsonl", ".json", ".csv", ".parquet")
REFUSAL = "I'm sorry, but I can't help with that."


def write_rows(path: Path, rows: list[dict]) -> Path:
    """``rows`` in the format of ``path``'s suffix, as a user's tool would write it."""
    frame = pd.DataFrame(rows)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")  # one JSON array, as json.dump writes a list
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


def benign_rows(n: int = 3) -> list[dict]:
    """The first ``n`` shipped benign rows as a user's file: request and answer only (the columns --help names)."""
    lines = bundled_benign_path().read_text(encoding="utf-8").splitlines()[:n]
    return [{"request": json.loads(line)["request"], "answer": json.loads(line)["answer"]} for line in lines]


def suggested_mapping(message: str, flag: str) -> str:
    """The value of ``flag`` a schema error suggests (``e.g. FLAG VALUE``)."""
    found = re.search(rf"e\.g\. {re.escape(flag)} (\S+)$", message)
    assert found, f"no {flag} suggested in: {message}"
    return found.group(1)


# --- one id rule for every format -----------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", FORMATS)
def test_benign_rows_without_an_id_column_are_numbered_in_every_format(tmp_path, suffix):
    rows = benign_rows()
    items, loaded = load_benign(str(write_rows(tmp_path / f"benign{suffix}", rows)))
    assert [item_id for item_id, _, _ in items] == ["benign:0", "benign:1", "benign:2"]
    assert [(request, answer) for _, request, answer in items] == [(r["request"], r["answer"]) for r in rows]
    assert not loaded.skipped


@pytest.mark.parametrize("suffix", FORMATS)
def test_an_id_column_gives_the_ids_in_every_format(tmp_path, suffix):
    rows = [dict(row, id=f"mine-{n}") for n, row in enumerate(benign_rows())]
    items, _ = load_benign(str(write_rows(tmp_path / f"benign{suffix}", rows)))
    assert [item_id for item_id, _, _ in items] == ["benign:mine-0", "benign:mine-1", "benign:mine-2"]
    harmful = [{"question": row["request"], "answer": row["answer"], "uid": row["id"]} for row in rows]
    loaded = load_source(str(write_rows(tmp_path / f"harmful{suffix}", harmful)),
                         column_mapping={"request": "question", "harmful_response": "answer", "id": "uid"})
    assert [row.source_id for row in loaded.rows] == ["mine-0", "mine-1", "mine-2"]
    numbered = load_source(str(tmp_path / f"harmful{suffix}"),
                           column_mapping={"request": "question", "harmful_response": "answer"})
    assert [row.source_id for row in numbered.rows] == ["0", "1", "2"]  # no id in the mapping: row numbers


# --- a wrong schema names what is there, what is expected, and the fix that works -----------------------------

@pytest.mark.parametrize("suffix", FORMATS)
def test_a_benign_file_with_other_columns_names_them_and_the_mapping_that_reads_it(tmp_path, suffix):
    rows = [{"question": row["request"], "response": row["answer"]} for row in benign_rows()]
    path = write_rows(tmp_path / f"benign{suffix}", rows)
    with pytest.raises(SchemaError) as raised:
        load_benign(str(path))
    message = str(raised.value)
    assert message.startswith(f"{path}: no column 'request', 'answer'; its columns are 'question', 'response'; "
                              "expected columns for request and answer: name yours with --benign-column-mapping")
    fix = suggested_mapping(message, "--benign-column-mapping")
    assert fix == "request=question,answer=response"
    items, _ = load_benign(str(path), column_mapping=parse_column_mapping(fix, BENIGN_FIELDS))
    assert [request for _, request, _ in items] == [row["question"] for row in rows]


@pytest.mark.parametrize("suffix", FORMATS)
def test_a_source_without_pku_columns_names_them_and_the_mapping_that_reads_it(tmp_path, suffix):
    rows = [{"goal": row["request"], "target": row["answer"]} for row in benign_rows()]
    path = write_rows(tmp_path / f"harmful{suffix}", rows)
    with pytest.raises(SchemaError) as raised:
        load_source(str(path))
    message = str(raised.value)
    assert message.startswith(f"{path}: no column 'prompt', 'response_0', 'response_1', 'is_response_0_safe', "
                              "'is_response_1_safe'; its columns are 'goal', 'target'; expected PKU-SafeRLHF's columns")
    fix = suggested_mapping(message, "--column-mapping")
    assert fix == "request=goal,harmful_response=target"
    loaded = load_source(str(path), column_mapping=parse_column_mapping(fix))
    assert [row.harmful_response for row in loaded.rows] == [row["target"] for row in rows]


def test_a_mapped_column_that_is_not_there_is_named_with_what_it_was_for(tmp_path):
    path = write_rows(tmp_path / "mine.csv", [{"prompt": "How?", "answer": "Like so."}])
    with pytest.raises(SchemaError, match=re.escape(
            "no column 'question' (for request); its columns are 'prompt', 'answer'; expected columns for request "
            "and harmful_response: name yours with --column-mapping, e.g. --column-mapping "
            "request=prompt,harmful_response=answer")):
        load_source(str(path), column_mapping={"request": "question", "harmful_response": "answer"})
    with pytest.raises(SchemaError, match=re.escape("no column 'uid' (for id)")):  # an id asked for must be there
        load_source(str(path), column_mapping={"request": "prompt", "harmful_response": "answer", "id": "uid"})


def test_mapping_flags_refuse_a_field_they_do_not_map():
    with pytest.raises(ValueError, match=r"'harmful_response' is not a field; the fields are request, answer, id"):
        parse_column_mapping("request=q,harmful_response=a", BENIGN_FIELDS, "request=question,answer=response")

def test_the_mapping_flag_is_checked_when_the_arguments_are_read(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["eval", "run", "--model", "nobody/unused", "--benign-column-mapping", "request=q,response=a",
              "--out", str(tmp_path / "run")])
    assert raised.value.code == 2 and not (tmp_path / "run").exists()
    assert ("argument --benign-column-mapping: column mapping 'request=q,response=a': 'response' is not a field; the "
            "fields are request, answer, id") in capsys.readouterr().err


# --- the command line, end to end -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def refuser(tmp_path_factory, tiny_model_dir) -> str:
    return build_answer_model(tmp_path_factory.mktemp("refuser"), tiny_model_dir, REFUSAL, (REFUSAL,))


def _eval(*args: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(["eval", "run", "--ks", "10", "--paths", "2", "--max-new-tokens", "8", "--limit", "2", *args])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_eval_run_overcorrection_reads_the_documented_columns_of_a_csv_or_parquet_file(refuser, tmp_path, suffix):
    """--benign-data with the columns --help names (request, answer) and no id: every row is a benign item."""
    path = write_rows(tmp_path / f"benign{suffix}", benign_rows())
    assert _eval("--model", refuser, "--overcorrection", "--benign-data", str(path), "--out", str(tmp_path / "run")) == 0
    block = json.loads((tmp_path / "run" / "scores.json").read_text())["overcorrection"]
    assert block["n_items"] == 3 and block["rows_skipped"] == {} and block["rate_mean"] == 1.0  # a refuser refuses all
    judged = [json.loads(line) for line in (tmp_path / "run" / "overcorrection" / "judgments.jsonl").open()]
    assert sorted({row["item_id"] for row in judged}) == ["benign:0", "benign:1", "benign:2"]


def test_eval_run_reads_a_benign_file_with_other_columns_through_the_mapping_flag(refuser, tmp_path, capsys):
    path = write_rows(tmp_path / "benign.csv",
                      [{"question": row["request"], "response": row["answer"]} for row in benign_rows(2)])
    assert _eval("--model", refuser, "--benign-data", str(path), "--out", str(tmp_path / "refused")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "its columns are 'question', 'response'" in err
    fix = suggested_mapping(err, "--benign-column-mapping")
    assert _eval("--model", refuser, "--benign-data", str(path), "--benign-column-mapping", fix,
                 "--out", str(tmp_path / "run")) == 0
    assert json.loads((tmp_path / "run" / "scores.json").read_text())["overcorrection"]["n_items"] == 2


# --- c2 train --data given something else than preference pairs -----------------------------------------------

def _train(data: str, out: Path, capsys) -> tuple[int, str]:
    profile = out.parent / "profile.yaml"
    profile.write_text("model_name_or_path: tiny\noptim: adamw_torch\n", encoding="utf-8")
    code = main(["train", "--config", str(profile), "--data", data, "--out", str(out)])
    return code, capsys.readouterr().err.strip()


def test_train_data_given_an_eval_results_folder_says_what_it_is_and_what_data_wants(tmp_path, capsys, monkeypatch):
    import c2kit.training

    monkeypatch.setattr(c2kit.training, "run_training", lambda *a, **k: pytest.fail("training started"))
    results = tmp_path / "eval-run"
    results.mkdir()
    for name in ("config.json", "generations.jsonl", "judgments.jsonl", "scores.json"):
        (results / name).write_text("{}\n")
    code, err = _train(str(results), tmp_path / "out", capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert err == (f"c2 train: error: {results} is a results directory written by c2 eval run (it holds "
                   "generations.jsonl, judgments.jsonl, scores.json), not preference pairs: --data wants the folder "
                   "'c2 syn build --out' wrote (e.g. runs/c2-syn), or preference pairs of your own with prompt, "
                   "chosen and rejected columns (a dataset folder or a Hub id ORG/NAME)")
    assert "BuilderConfig" not in err and not (tmp_path / "out").exists()


def test_train_data_given_a_folder_of_own_pairs_names_the_config_to_give(tmp_path, capsys, monkeypatch):
    import c2kit.training

    monkeypatch.setattr(c2kit.training, "run_training", lambda *a, **k: pytest.fail("training started"))
    own = tmp_path / "my-pairs"
    own.mkdir()
    pd.DataFrame([{"prompt": "How?", "chosen": "No.", "rejected": "Sure."}]).to_parquet(own / "train.parquet")
    code, err = _train(str(own), tmp_path / "out", capsys)
    assert code == 2 and "BuilderConfig" not in err
    assert (f"{own} has no config 'pairs' (its configs: default), so it is not a C2-Syn build (those have 'pairs'); "
            "for pairs of your own in it, set --dataset_config default;") in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "out").exists()
