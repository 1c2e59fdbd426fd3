"""The judge answer cache keeps every good (paid-for) answer when its file is damaged, and never reads an edited
answer as a verdict."""

from __future__ import annotations

import json
import logging

import pytest

from c2kit.judges.cache import AnswerCache, with_checksum
from fake_openai import serving


def line(row: dict) -> bytes:
    """A cache row as the cache writes it (with its checksum)."""
    return json.dumps(with_checksum(row)).encode() + b"\n"


A, B = {"key": "a", "corrected": True}, {"key": "b", "corrected": False}


def test_damaged_lines_are_repaired_not_fatal(tmp_path, caplog):
    path = tmp_path / "openai_judge.jsonl"
    original = b'not json\n' + line(A) + b'\xff\xfe binary\n' + line(B) + b'{"no key": 1}\n'
    path.write_bytes(original)
    with caplog.at_level(logging.WARNING):
        cache = AnswerCache(path)
    assert len(cache) == 2 and cache.get("a")["corrected"] is True and cache.get("b")["corrected"] is False
    assert "3 damaged or edited line(s) (line 1, 3, 5) dropped: their inputs are asked again; 2 good answers kept" \
        in caplog.text
    assert path.with_name(path.name + ".damaged").read_bytes() == original  # set aside for inspection
    assert path.read_bytes() == line(A) + line(B)
    cache.put({"key": "c", "corrected": True})
    assert len(AnswerCache(path)) == 3  # the repaired file reads back cleanly, new answers appended


def test_an_edited_answer_is_dropped_and_reported_not_read_as_a_verdict(tmp_path, caplog):
    path = tmp_path / "openai_judge.jsonl"
    cache = AnswerCache(path)
    for key in "abc":
        cache.put({"key": key, "answer": "No", "corrected": False})
    rows = path.read_text().splitlines()
    assert all(json.loads(row)["sha256"] for row in rows)  # every row carries its checksum
    rows[1] = rows[1].replace('"No"', '"Yes."').replace("false", "true")  # a verdict edited by hand
    path.write_text("\n".join(rows) + "\n")
    with caplog.at_level(logging.WARNING):
        reloaded = AnswerCache(path)
    assert reloaded.get("b") is None and reloaded.get("a")["answer"] == reloaded.get("c")["answer"] == "No"
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning.startswith(f"{path}: 1 damaged or edited line(s) (line 2) dropped: their inputs are asked again")


def test_rows_without_a_checksum_are_asked_again_once_and_said_so(tmp_path, caplog):
    path = tmp_path / "openai_judge.jsonl"
    old = b'{"key": "a", "corrected": true}\n{"key": "b", "corrected": false}\n'  # an older version's rows
    path.write_bytes(old)
    with caplog.at_level(logging.WARNING):
        cache = AnswerCache(path)
    assert len(cache) == 0
    [warning] = [record.getMessage() for record in caplog.records]
    assert ("2 line(s) without a checksum, written by an older version (line 1, 2) dropped: their inputs are asked "
            "again; 0 good answers kept") in warning
    assert path.with_name(path.name + ".unchecked").read_bytes() == old
    cache.put(A)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert AnswerCache(path).get("a") == A and caplog.records == []  # the new answer is trusted


def test_a_half_written_line_after_invalid_utf8_is_cut_at_the_right_byte(tmp_path):
    path = tmp_path / "openai_judge.jsonl"
    # A row whose text holds invalid UTF-8 (damaged), a good row, then a line cut short by a kill.
    path.write_bytes(b'{"key": "x\xff", "corrected": true}\n' + line(A) + b'{"ke')
    cache = AnswerCache(path)
    cache.put(B)
    reloaded = AnswerCache(path)
    assert len(reloaded) == 2 and reloaded.get("b")["corrected"] is False
    assert path.read_bytes() == line(A) + line(B)
    AnswerCache(path.with_name("other.jsonl"))  # (an absent file is fine)
    path.write_text("junk\n" + path.read_text())
    AnswerCache(path)
    assert path.with_name("openai_judge.jsonl.damaged-2").exists()  # an earlier copy is never overwritten


def _answer(body: dict) -> str:
    return "Yes." if "cannot" in body["messages"][-1]["content"] else "No"


def test_three_edited_verdicts_do_not_move_corr_mean(monkeypatch, tmp_path, caplog):
    """A re-judged run whose cached answers were edited by hand scores as the judge answered, and says so."""
    from c2kit.cli import main

    source = tmp_path / "run"
    source.mkdir()
    # 4 items x 2 k x 3 paths; 7 of the 24 continuations course-correct: Corr_mean 7/24 = 29.2%.
    rows = [{"item_id": str(item), "k": k, "path": p, "request": f"request {item}", "prefix": "Sure,",
             "prompt": "Sure,", "continuation": f"step {item}-{k}-{p}" + (" but I cannot help." if n < 7 else "")}
            for n, (item, k, p) in enumerate((i, k, p) for i in range(4) for k in (10, 20) for p in range(3))]
    (source / "generations.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "rejudged"
    command = ["eval", "score", "--results", str(source), "--judge", "openai:judge-model", "--out", str(out)]

    def corr_mean() -> float:
        return json.loads((out / "scores.json").read_text())["corr_mean"]

    with serving(monkeypatch, _answer) as server:
        assert main(command) == 0
        assert corr_mean() == pytest.approx(7 / 24) and len(server.requests) == 24
        cache = out / "judge-cache" / "openai_judge.jsonl"
        lines = cache.read_text().splitlines()
        edited = [number for number, text in enumerate(lines) if '"No"' in text][:3]
        for number in edited:  # three "not corrected" answers turned into "corrected"
            lines[number] = lines[number].replace('"No"', '"Yes."').replace('"corrected": false', '"corrected": true')
        cache.write_text("\n".join(lines) + "\n")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert main(command) == 0
        assert corr_mean() == pytest.approx(7 / 24)  # not 10/24: the edited answers were asked again
        assert len(server.requests) == 27
    warning = [record.getMessage() for record in caplog.records if "damaged or edited" in record.getMessage()]
    assert warning == [f"{cache}: 3 damaged or edited line(s) (line {', '.join(str(n + 1) for n in edited)}) "
                       f"dropped: their inputs are asked again; 21 good answers kept; the old file is kept as "
                       f"{cache}.damaged"]
