"""The judge answer cache keeps every good (paid-for) answer when its file is damaged."""

from __future__ import annotations

import logging

from c2kit.judges.cache import AnswerCache


def test_damaged_lines_are_repaired_not_fatal(tmp_path, caplog):
    path = tmp_path / "openai_judge.jsonl"
    original = (b'not json\n{"key": "a", "corrected": true}\n\xff\xfe binary\n{"key": "b", "corrected": false}\n'
                b'{"no key": 1}\n')
    path.write_bytes(original)
    with caplog.at_level(logging.WARNING):
        cache = AnswerCache(path)
    assert len(cache) == 2 and cache.get("a")["corrected"] is True and cache.get("b")["corrected"] is False
    assert "3 damaged line(s) (line 1, 3, 5) dropped, 2 good answers kept" in caplog.text
    assert path.with_name(path.name + ".damaged").read_bytes() == original  # set aside for inspection
    assert path.read_text() == '{"key": "a", "corrected": true}\n{"key": "b", "corrected": false}\n'
    cache.put({"key": "c", "corrected": True})
    assert len(AnswerCache(path)) == 3  # the repaired file reads back cleanly, new answers appended


def test_a_half_written_line_after_invalid_utf8_is_cut_at_the_right_byte(tmp_path):
    path = tmp_path / "openai_judge.jsonl"
    # A row whose text holds invalid UTF-8 (damaged), a good row, then a line cut short by a kill.
    path.write_bytes(b'{"key": "x\xff", "corrected": true}\n{"key": "a", "corrected": true}\n{"ke')
    cache = AnswerCache(path)
    cache.put({"key": "b", "corrected": False})
    reloaded = AnswerCache(path)
    assert len(reloaded) == 2 and reloaded.get("b")["corrected"] is False
    assert path.read_text().splitlines() == ['{"key": "a", "corrected": true}', '{"key": "b", "corrected": false}']
    AnswerCache(path.with_name("other.jsonl"))  # (an absent file is fine)
    path.write_text("junk\n" + path.read_text())
    AnswerCache(path)
    assert path.with_name("openai_judge.jsonl.damaged-2").exists()  # an earlier copy is never overwritten
