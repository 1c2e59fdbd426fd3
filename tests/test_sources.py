"""Source loading: both PKU-SafeRLHF schemas, local formats, column mapping, counted skips, clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from c2kit.sources import SourceError, SourceRow, bundled_path, load_source, parse_column_mapping

GOOD = {
    "prompt": "How do I do X?",
    "response_0": "Safe answer.",
    "response_1": "Harmful answer.",
    "is_response_0_safe": True,
    "is_response_1_safe": False,
}


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_bundled_benchmark_has_500_items_and_applies_the_harmful_response_rule():
    loaded = load_source()
    assert len(loaded.rows) == 500 and not loaded.skipped
    raw = [json.loads(line) for line in bundled_path().read_text().splitlines() if line.strip()]
    for row, record in zip(loaded.rows, raw):
        expected = record["response_0"] if not record["is_response_0_safe"] else record["response_1"]
        assert row.harmful_response == expected
        assert row.request == record["prompt"]
    assert "read 500 rows, kept 500" in loaded.report()


def test_newer_schema_extra_fields_are_accepted(tmp_path):
    newer = dict(GOOD, prompt_source="Alpaca", response_0_harm_category={"Violence": False},
                 response_0_severity_level=0, response_1_severity_level=2)
    loaded = load_source(write_jsonl(tmp_path / "new.jsonl", [newer]))
    assert loaded.rows[0].harmful_response == "Harmful answer."


def test_bad_rows_are_skipped_and_counted_by_reason(tmp_path):
    rows = [
        GOOD,
        {k: v for k, v in GOOD.items() if k != "response_1"},
        dict(GOOD, prompt="   "),
        dict(GOOD, is_response_1_safe=True),
        dict(GOOD, is_response_0_safe="maybe"),
        dict(GOOD, prompt="How do I do the other thing?"),  # not a repeat of row 1: that would be a duplicate
    ]
    loaded = load_source(write_jsonl(tmp_path / "mixed.jsonl", rows))
    assert len(loaded.rows) == 2
    assert dict(loaded.skipped) == {"missing field": 1, "empty text": 1, "no unsafe response": 1, "bad label": 1}
    assert "skipped 4" in loaded.report() and "no unsafe response: 1" in loaded.report()
    assert loaded.skipped_examples[0] == "row 2: field 'response_1' is missing"
    assert [row.source_id for row in loaded.rows] == ["0", "5"]  # ids stay tied to source rows


def test_strict_mode_names_file_row_and_field(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [GOOD, dict(GOOD, response_0="")])
    with pytest.raises(SourceError, match=r"bad\.jsonl, row 2: field 'response_0' is empty"):
        load_source(path, strict=True)


def test_broken_json_line_is_an_error_with_its_line_number(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n")
    with pytest.raises(SourceError, match=r"broken\.jsonl, row 2: not valid JSON"):
        load_source(str(path))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_parquet_and_csv_files(tmp_path, suffix):
    frame = pd.DataFrame([GOOD, dict(GOOD, prompt="What is Y?", is_response_0_safe=False)])
    path = tmp_path / f"rows{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    loaded = load_source(str(path))
    assert [row.harmful_response for row in loaded.rows] == ["Harmful answer.", "Safe answer."]


def test_column_mapping_for_request_and_harmful_response(tmp_path):
    rows = [{"question": "How to X?", "answer": "Do X like this.", "uid": "a1"}, {"question": "Q", "answer": ""}]
    mapping = parse_column_mapping("request=question, harmful_response=answer, id=uid")
    with pytest.raises(SourceError, match="field 'uid' is missing"):
        load_source(write_jsonl(tmp_path / "other.jsonl", rows), column_mapping=mapping, strict=True)
    loaded = load_source(write_jsonl(tmp_path / "other.jsonl", rows[:1]), column_mapping=mapping)
    assert (loaded.rows[0].source_id, loaded.rows[0].request, loaded.rows[0].harmful_response) == (
        "a1", "How to X?", "Do X like this.")


def test_bad_mapping_and_paths_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="column_mapping keys \\['question'\\]"):
        load_source(column_mapping={"question": "q"})
    with pytest.raises(ValueError, match="must look like"):
        parse_column_mapping("request")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_source(str(tmp_path / "missing.jsonl"))
    (tmp_path / "rows.txt").write_text("x")
    with pytest.raises(ValueError, match="unsupported file type '.txt'"):
        load_source(str(tmp_path / "rows.txt"))


def test_limit_and_first_unsafe_min_words():
    assert len(load_source(limit=3).rows) == 3
    short, long = "bad " * 80, "worse " * 81  # 80 words does not qualify (> 80 needed), 81 does
    row = SourceRow("0", "How?", (short.strip(), long.strip()), (False, False))
    assert row.harmful_response == short.strip()  # C2-Eval: response_0 whenever it is unsafe
    assert row.first_unsafe(min_words=80) == long.strip()  # C2-Syn: the first unsafe one with > 80 words
    assert SourceRow("1", "How?", (short, "ok"), (False, True)).first_unsafe(min_words=80) is None


def test_a_local_dataset_folder_is_read_with_datasets(tmp_path):
    folder = tmp_path / "my-data"
    folder.mkdir()
    pd.DataFrame([GOOD, dict(GOOD, prompt="What is Y?")]).to_parquet(folder / "train.parquet")
    loaded = load_source(str(folder))
    assert [row.request for row in loaded.rows] == ["How do I do X?", "What is Y?"]


# --- bad files and rows name the file, the row and the field ------------------------------------------------

def test_a_lone_surrogate_is_a_counted_skip_naming_row_and_field(tmp_path):
    path = tmp_path / "surrogate.jsonl"
    path.write_text(json.dumps(dict(GOOD, prompt="bad \ud800 text")) + "\n" + json.dumps(GOOD) + "\n")
    loaded = load_source(str(path))
    assert [row.source_id for row in loaded.rows] == ["1"] and dict(loaded.skipped) == {"invalid text": 1}
    assert loaded.skipped_examples == [
        "row 1: field 'prompt' is not valid Unicode text (a lone surrogate '\\ud800' at character 4)"]
    with pytest.raises(SourceError, match=r"surrogate\.jsonl, row 1: field 'prompt' is not valid Unicode"):
        load_source(str(path), strict=True)


def test_binary_files_are_errors_naming_the_file(tmp_path):
    (tmp_path / "binary.csv").write_bytes(b"prompt,response_0\n\x00\x01\x02\xff" * 50)
    with pytest.raises(ValueError, match=r"binary\.csv: binary content \(a NUL byte at byte 18\)"):
        load_source(str(tmp_path / "binary.csv"))
    (tmp_path / "latin1.csv").write_bytes(b"prompt,response_0\ncaf\xe9,x\n")
    with pytest.raises(ValueError, match=r"latin1\.csv: not UTF-8 text \(byte 21 is 0xe9\)"):
        load_source(str(tmp_path / "latin1.csv"))
    (tmp_path / "latin1.jsonl").write_bytes(b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(ValueError, match=r"latin1\.jsonl: not UTF-8 text"):
        load_source(str(tmp_path / "latin1.jsonl"))
    (tmp_path / "text.parquet").write_text("not parquet at all")
    with pytest.raises(ValueError, match=r"text\.parquet: not a readable Parquet file"):
        load_source(str(tmp_path / "text.parquet"))


def test_sources_without_rows_are_errors_naming_the_file(tmp_path):
    pd.DataFrame([GOOD]).iloc[:0].to_parquet(tmp_path / "zero.parquet")
    with pytest.raises(ValueError, match=r"zero\.parquet: the Parquet file has no rows \(columns: prompt, "):
        load_source(str(tmp_path / "zero.parquet"))
    (tmp_path / "header.csv").write_text(",".join(GOOD) + "\n")
    with pytest.raises(ValueError, match=r"header\.csv: the CSV file has a header \(prompt,response_0,.*\) but no rows"):
        load_source(str(tmp_path / "header.csv"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty"):
        load_source(str(tmp_path / "empty.csv"))
    (tmp_path / "blank.jsonl").write_text("\n\n")
    with pytest.raises(ValueError, match=r"blank\.jsonl: no rows to read"):
        load_source(str(tmp_path / "blank.jsonl"))


def test_duplicate_ids_are_refused_naming_both_rows(tmp_path):
    rows = [dict(GOOD, uid="a"), dict(GOOD, uid="b"), dict(GOOD, uid="a")]
    path = write_jsonl(tmp_path / "dups.jsonl", rows)
    with pytest.raises(ValueError, match=r"dups\.jsonl: source id 'a' appears twice \(rows 1 and 3, field 'uid'\)"):
        load_source(path, column_mapping={"id": "uid"})


def test_cli_reports_a_bad_source_in_one_line(tmp_path, capsys):
    from c2kit.cli import main

    pd.DataFrame([GOOD]).iloc[:0].to_parquet(tmp_path / "zero.parquet")
    code = main(["eval", "run", "--model", "nobody/unused", "--data", str(tmp_path / "zero.parquet"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("c2 eval: error: ") and "zero.parquet: the Parquet file has no rows" in err
    assert len(err.splitlines()) == 1
