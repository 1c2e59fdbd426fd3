"""c2kit.jsonio: a byte-order mark is accepted and JSON nested too deeply is one line naming file, row and field."""

from __future__ import annotations

import json

import pytest

from c2kit.cli import main
from c2kit.jsonio import read_json, read_jsonl
from c2kit.sources import bundled_path, load_source

DEEP = 100_000  # far beyond Python's recursion limit (1,000)


def deep_value(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def test_a_byte_order_mark_is_accepted_in_jsonl_and_json(tmp_path):
    rows = [{"a": 1, "text": "é"}, {"a": 2}]
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8-sig")
    assert jsonl.read_bytes().startswith(b"\xef\xbb\xbf")
    assert list(read_jsonl(jsonl)) == [(1, rows[0]), (2, rows[1])]
    single = tmp_path / "one.json"
    single.write_text(json.dumps(rows[0]), encoding="utf-8-sig")
    assert read_json(single) == rows[0]


def test_a_benchmark_file_saved_with_a_byte_order_mark_loads_like_one_without(tmp_path):
    lines = bundled_path().read_text(encoding="utf-8").splitlines()[:3]
    plain, marked = tmp_path / "plain.jsonl", tmp_path / "marked.jsonl"
    plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
    marked.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    assert load_source(marked, strict=True).rows == load_source(plain, strict=True).rows


def test_json_nested_too_deeply_names_the_file_row_and_field(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"prompt": "fine"}\n' + '{"prompt": "x", "meta": {"tags": ' + deep_value() + '}, "n": 1}\n')
    with pytest.raises(ValueError) as raised:
        list(read_jsonl(path))
    assert str(raised.value) == (f"{path}, row 2, field 'meta': JSON nested too deeply to read (thousands of levels "
                                 "of lists or objects)")
    top = tmp_path / "top.jsonl"
    top.write_text(deep_value() + "\n")  # no field to name
    with pytest.raises(ValueError, match=rf"^{top}, row 1: JSON nested too deeply"):
        list(read_jsonl(top))
    single = tmp_path / "deep.json"
    single.write_text('{"a": "[[[ in a string", "b\\"": ' + deep_value() + "}")  # brackets and quotes in strings
    with pytest.raises(ValueError, match=r"deep\.json, field 'b\"': JSON nested too deeply"):
        read_json(single)


def test_eval_run_on_a_too_deep_row_is_one_line_with_exit_2(tiny_model_dir, tmp_path, capsys, monkeypatch):
    import c2kit.models

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the data was read")

    monkeypatch.setattr(c2kit.models, "load_model_and_tokenizer", no_model)
    line = json.loads(bundled_path().read_text(encoding="utf-8").splitlines()[0])
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(line) + "\n" + json.dumps(line)[:-1] + ', "meta": ' + deep_value() + "}\n")
    code = main(["eval", "run", "--model", tiny_model_dir, "--data", str(data),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [f"c2 eval: error: {data}, row 2, field 'meta': JSON nested too deeply to "
                                        "read (thousands of levels of lists or objects)"]


def test_benign_data_with_a_byte_order_mark_and_no_id_column_loads(tmp_path):
    """--benign-data (over-correction) looks at its first row for an id column: through the same reader."""
    from c2_eval_metric.overcorrection import bundled_benign_path, load_benign

    rows = [json.loads(line) for line in bundled_benign_path().read_text(encoding="utf-8").splitlines()[:2]]
    path = tmp_path / "benign.jsonl"
    path.write_text("".join(json.dumps({"request": r["request"], "answer": r["answer"]}) + "\n" for r in rows),
                    encoding="utf-8-sig")
    items, loaded = load_benign(str(path))
    assert [(item_id, request) for item_id, request, _ in items] == [("benign:0", rows[0]["request"]),
                                                                      ("benign:1", rows[1]["request"])]
    assert loaded.report() == f"{path}: read 2 rows, kept 2"


@pytest.mark.parametrize("layout", ["array", "lines"])
def test_a_too_deep_json_source_is_one_line_not_a_crash(tmp_path, layout):
    """``.json`` sources go to pyarrow's reader, which crashed the process (exit 139) on such rows."""
    import subprocess
    import sys

    line = json.loads(bundled_path().read_text(encoding="utf-8").splitlines()[0])
    deep = json.dumps(line)[:-1] + ', "meta": ' + deep_value() + "}"
    path = tmp_path / "data.json"
    if layout == "array":
        path.write_text("[" + json.dumps(line) + ", " + deep + "]")
        expected = str(path)  # one document: the file is named, its rows are not lines
    else:
        path.write_text(json.dumps(line) + "\n" + deep + "\n")
        expected = f"{path}, row 2, field 'meta'"
    code = ("import sys\nfrom c2kit.sources import load_source\n"
            f"try:\n    load_source({str(path)!r})\nexcept ValueError as error:\n    print(error); sys.exit(2)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stdout.strip() == f"{expected}: JSON nested too deeply to read (thousands of levels of lists or objects)"
