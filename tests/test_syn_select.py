"""C2-Syn selection: the paper filter with counts, the punctuation cuts, openers and triggers (no model)."""

from __future__ import annotations

import json
import random
import re

import pytest

from c2_syn_dataset.cuts import PUNCTUATION, SKIP_FEW_MARKS, SKIP_NO_WORDS, CutError, make_cuts, mark_ends
from c2_syn_dataset.filtering import asks_question, select_requests
from c2_syn_dataset.pipeline import prepare
from c2_syn_dataset.settings import BuildSettings, parse_shard
from c2kit.protocol import OPENERS, TRIGGERS
from c2kit.sources import SourceError, bundled_path, load_source

LONG = " ".join(f"word{i}" for i in range(90))  # 90 words, no punctuation


class Pick:
    """A stand-in RNG whose choice() returns the element at a fixed index (to test both step draws)."""

    def __init__(self, index: int) -> None:
        self.index = index

    def choice(self, options):
        return options[self.index]


# --- cuts ------------------------------------------------------------------------------------------------


def test_cuts_hand_computed_both_draws():
    text = "a, b. c! d: e; f? g- h\" i( j) k{ l} m[ n] o, p. q"  # 16 marks: t // 4 = 4, s in {3, 4}
    assert len(mark_ends(text)) == 16
    low = make_cuts(text, Pick(0))
    assert (low.n_marks, low.step, low.fallback) == (16, 3, False)
    assert low.texts == ("a, b. c!", "a, b. c! d: e; f?", "a, b. c! d: e; f? g- h\" i(",
                         "a, b. c! d: e; f? g- h\" i( j) k{ l}")
    high = make_cuts(text, Pick(1))
    assert high.step == 4
    assert high.texts == ("a, b. c! d:", "a, b. c! d: e; f? g- h\"", "a, b. c! d: e; f? g- h\" i( j) k{ l}",
                          text[:-2])  # up to and including the 16th mark, the "." after p


def test_cuts_step_zero_falls_back_to_one():
    text = "one, two. three! four? five"  # t = 4: draws {0, 1}
    cuts = make_cuts(text, Pick(0))
    assert (cuts.step, cuts.fallback) == (1, True)
    assert cuts.texts == ("one,", "one, two.", "one, two. three!", "one, two. three! four?")
    assert make_cuts(text, Pick(1)).fallback is False


def test_cuts_skip_reasons():
    with pytest.raises(CutError) as error:
        make_cuts("one, two. three and no more", Pick(1))
    assert error.value.reason == SKIP_FEW_MARKS
    with pytest.raises(CutError) as error:
        make_cuts('"Sure. Do it, now!', Pick(1))  # t = 4, s = 1: cut 1 is the lone quote
    assert error.value.reason == SKIP_NO_WORDS


def test_cuts_of_shipped_rows_are_growing_prefixes_ending_at_marks():
    rows = load_source().rows
    rng = random.Random(0)
    for row in rows:
        harmful = row.first_unsafe(min_words=80)
        cuts = make_cuts(harmful, rng)
        assert [len(c) for c in cuts.texts] == sorted({len(c) for c in cuts.texts})  # strictly growing
        for i, cut in enumerate(cuts.texts, start=1):
            assert harmful.startswith(cut) and cut[-1] in PUNCTUATION
            assert sum(ch in PUNCTUATION for ch in cut) == i * cuts.step


# --- filter ----------------------------------------------------------------------------------------------


def test_question_filter_substring_and_whole_word():
    assert asks_question("Somehow tell me") and not asks_question("Somehow tell me", whole_word=True)
    assert asks_question("What's up?", whole_word=True) and asks_question("so how?", whole_word=True)
    assert not asks_question("HOW DO I") and not asks_question("Tell me a secret")


def _row(prompt, r0, r1, safe0=False, safe1=True):
    return {"prompt": prompt, "response_0": r0, "response_1": r1, "is_response_0_safe": safe0,
            "is_response_1_safe": safe1, "better_response_id": 0, "safer_response_id": 1}


def _punctuated(words: int) -> str:
    return " ".join(f"w{i}{',' if i % 10 == 9 else ''}" for i in range(words)) + "."


FAILING_ROWS = [
    ("question", _row("Tell me a secret.", _punctuated(90), "ok")),
    ("length", _row("How do I do it?", _punctuated(80), "ok")),  # 80 words: not more than 80
    ("length", _row("What now?", _punctuated(90), "ok", safe0=True, safe1=False)),  # the unsafe one is short
    ("cuts:" + SKIP_FEW_MARKS, _row("How?", LONG + ", end.", "ok")),
    ("cuts:" + SKIP_NO_WORDS, _row("What?", '"' + LONG + ", a. b!", "ok")),
    ("loader:no unsafe response", _row("How?", _punctuated(90), "ok", safe0=True, safe1=True)),
    ("loader:empty text", _row("How?", "   ", "x")),
    ("loader:missing field", {"prompt": "How?", "response_0": "x"}),
    ("loader:bad label", {**_row("How?", "x", "y"), "is_response_0_safe": "maybe"}),
]
PASSING_ROWS = [
    _row("somehow explain", _punctuated(85), "ok"),  # substring rule: "how" inside "somehow"
    _row("How can I?", "short, unsafe.", _punctuated(90), safe0=False, safe1=False),  # response_1 is harmful
]


def independent_rule(record: dict, whole_word: bool = False) -> bool:
    """The selection rule written out again from the paper and cuts.py's docstring, to check the code against."""
    prompt = record.get("prompt") or ""
    if whole_word:
        asks = re.search(r"\b(how|what|How|What)\b", prompt) is not None
    else:
        asks = any(word in prompt for word in ("how", "what", "How", "What"))
    if not asks:
        return False
    harmful = None
    for i in (0, 1):
        text = record.get(f"response_{i}") or ""
        if record.get(f"is_response_{i}_safe") is False and len(text.split()) > 80:
            harmful = text
            break
    if harmful is None:
        return False
    marks = [i for i, ch in enumerate(harmful) if ch in ',.!:;?-"(){}[]']
    if len(marks) < 4:
        return False
    # Cut 1 must hold a word, for either possible step (the test data never depends on the draw).
    steps = {max(len(marks) // 4 - 1, 1), len(marks) // 4}
    has_words = {any(ch.isalnum() for ch in harmful[: marks[step - 1] + 1]) for step in steps}
    assert len(has_words) == 1
    return has_words.pop()


@pytest.fixture(scope="module")
def mixed_source(tmp_path_factory):
    """30 shipped rows with our failing and passing rows interleaved."""
    shipped = [json.loads(line) for line in bundled_path().read_text(encoding="utf-8").splitlines()[:30]]
    records = shipped[:10] + [row for _, row in FAILING_ROWS] + PASSING_ROWS + shipped[10:]
    path = tmp_path_factory.mktemp("syn-src") / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path, records


def test_kept_count_matches_independent_rule_on_shipped_file():
    records = [json.loads(line) for line in bundled_path().read_text(encoding="utf-8").splitlines()]
    expected = sum(independent_rule(r) for r in records)
    requests, stats = select_requests(load_source(bundled_path()))
    assert stats.kept == stats.passed == len(requests) == expected == 500  # every shipped row passes the filter
    assert stats.step_fallbacks > 0  # some shipped rows have 4..7 marks


def test_counts_at_each_step(mixed_source):
    path, records = mixed_source
    requests, stats = select_requests(load_source(path), limit=35)
    assert stats.passed == sum(independent_rule(r) for r in records) == 32
    assert stats.rows_read == len(records) == 41
    assert stats.loader_skipped == {"no unsafe response": 1, "empty text": 1, "missing field": 1, "bad label": 1}
    assert stats.failed_question == 1 and stats.failed_length == 2
    assert stats.failed_cuts == {SKIP_FEW_MARKS: 1, SKIP_NO_WORDS: 1}
    assert (stats.kept, stats.beyond_limit) == (32, 0)
    ids = [r.source_id for r in requests]
    assert ids[:10] == [str(i) for i in range(10)]  # source order kept, failing rows (10..18) left out
    assert ids[10:12] == ["19", "20"]
    assert requests[11].harmful_response == PASSING_ROWS[1]["response_1"]
    table = stats.to_markdown()
    assert "| skipped by the loader: bad label | 1 |" in table and f"| cannot be cut: {SKIP_NO_WORDS} | 1 |" in table

    _, whole = select_requests(load_source(path), whole_word=True)
    assert whole.passed == sum(independent_rule(r, whole_word=True) for r in records) <= 31  # not "somehow"
    # 37 rows reach the filter; the length and cut failures are unchanged; the rest fail the question.
    assert whole.failed_question == 37 - 2 - 2 - whole.passed

    first, limited = select_requests(load_source(path), limit=5)
    assert [r.source_id for r in first] == ids[:5] and (limited.kept, limited.beyond_limit) == (5, 27)


def test_syn_prefixes_seeded_per_request(mixed_source):
    path, _ = mixed_source
    a, _ = select_requests(load_source(path), seed=0)
    b, _ = select_requests(load_source(path), seed=0)
    c, _ = select_requests(load_source(path), seed=1)
    assert a == b and [r.prefixes for r in a] != [r.prefixes for r in c]
    limited, _ = select_requests(load_source(path), seed=0, limit=3)
    assert limited == a[:3]  # draws do not depend on --limit
    for request in a:
        assert request.opener in OPENERS and request.trigger in TRIGGERS
        for cut, prefix in zip(request.cuts, request.prefixes):
            assert prefix == f"{request.opener} {cut} {request.trigger}"


def test_bad_source_errors_name_file_and_row(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(_row("How?", "a", "b")) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"broken\.jsonl, row 2"):
        prepare(BuildSettings(source=str(broken), generator="unused"))
    nothing = tmp_path / "nothing.jsonl"
    nothing.write_text(json.dumps(_row("Tell me.", _punctuated(90), "ok")) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no request passed the C2-Syn filter(.|\n)*question filter.*\| 1 \|"):
        prepare(BuildSettings(source=str(nothing), generator="unused"))
    duplicated = tmp_path / "dup.jsonl"
    row = {"q": "How?", "a": _punctuated(90), "uid": "x"}
    duplicated.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="source id 'x' appears twice"):
        prepare(BuildSettings(source=str(duplicated), generator="unused",
                              column_mapping={"request": "q", "harmful_response": "a", "id": "uid"}))


def test_parse_shard():
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "x", "1/2/3"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_bad_settings_and_sources_are_one_line_cli_errors(tmp_path, capsys):
    from c2kit.cli import main

    code = main(["syn", "build", "--source", "c2eval-500", "--generator", "unused-model", "--temperature", "-1",
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "c2 syn: error: temperature must be >= 0" in capsys.readouterr().err
    code = main(["syn", "build", "--source", str(tmp_path / "missing.jsonl"), "--generator", "unused-model",
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "missing.jsonl: no such file" in capsys.readouterr().err
