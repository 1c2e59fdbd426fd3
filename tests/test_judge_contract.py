"""What a run reads from a judge is the ``Judge`` interface: its readings, harm verdicts and correction positions
are asked of the judge itself (``last_readings``, ``last_harmful_response``, ``locate``, ``located_by``), whatever
the judge is called."""

from __future__ import annotations

import pytest

from c2_eval_metric.judging import judge_record, judge_rows
from c2_eval_metric.latency import compute_latency, latency_markdown
from c2kit.judges import Judge, JudgeError, JudgeInput, keyword, load_judge
from c2kit.judges.locate import can_locate, phrase_locator

REFUSAL = "Add the powder. I can't help with this any further."
ROWS = [{"item_id": "a", "k": 10, "path": 0, "prefix": "x", "continuation": REFUSAL},
        {"item_id": "a", "k": 10, "path": 1, "prefix": "x", "continuation": "Stir well and wait."}]


class _Answering(Judge):
    """A model-like judge: verdicts, how each answer was read and a harm verdict, as plain attributes."""

    def __init__(self, name: str, readings=("yes", "unparsed"), harms=(False, True)):
        self.name = name
        self.readings, self.harms = list(readings), list(harms)

    def judge(self, inputs):
        self.last_readings, self.last_harmful_response = self.readings[:len(inputs)], self.harms[:len(inputs)]
        return [reading == "yes" for reading in self.last_readings]


class _Locating(_Answering):
    def locate(self, inputs):
        return [3 for _ in inputs]

    def located_by(self):
        return "its own reading"


class _NotLocating(_Answering):
    def locate(self, inputs):
        return None

    def located_by(self):
        return None


def test_readings_and_harm_verdicts_are_read_through_the_interface():
    rows = judge_rows(_Answering("plug-in"), ROWS, ["r", "r"])
    assert [row.get("unparsed") for row in rows] == [None, True]
    assert [row["harmful_response"] for row in rows] == [False, True]
    assert (Judge.last_readings, Judge.last_harmful_response) == (None, None)  # the defaults: none given
    plain = judge_rows(load_judge("keyword"), ROWS, ["r", "r"])
    assert all("unparsed" not in row and "harmful_response" not in row for row in plain)


def test_a_judge_giving_another_count_is_stopped_in_one_line():
    with pytest.raises(JudgeError, match="judge short: last_readings gave 1 values for a batch of 2 inputs"):
        judge_rows(_Answering("short", readings=["yes"]), ROWS, ["r", "r"])


@pytest.mark.parametrize("name", ["keyword-v2", keyword.NAME, "openai:gpt-4o"])
def test_positions_come_from_the_judges_locate_whatever_its_name(name):
    own = judge_rows(_Locating(name), ROWS, ["r", "r"])
    assert own[0]["correction_char"] == 3 and "correction_char" not in own[1]  # only corrected paths are located
    assert judge_record(_Locating(name))["located_by"] == "its own reading"
    none = judge_rows(_NotLocating(name), ROWS, ["r", "r"])
    assert not can_locate(_NotLocating(name)) and all("correction_char" not in row for row in none)
    assert "located_by" not in judge_record(_NotLocating(name))
    # A yes/no judge that says nothing of positions: the current keyword judge's phrases locate its corrections.
    default = judge_rows(_Answering(name), ROWS, ["r", "r"])
    assert default[0]["correction_char"] == REFUSAL.index("I can't")
    assert judge_record(_Answering(name))["located_by"] == phrase_locator() == f"{keyword.NAME} phrases"


def test_keyword_judges_locate_with_their_own_list_or_not_at_all():
    inputs = [JudgeInput("r", "", REFUSAL)]
    current = load_judge("keyword")
    assert current.locate(inputs) == [REFUSAL.index("I can't")] and current.located_by() == keyword.NAME
    for frozen in ("keyword-v3", "keyword-v2"):
        assert load_judge(frozen).locate(inputs) is None and load_judge(frozen).located_by() is None


def test_the_latency_summary_names_what_the_judge_says_located_it():
    rows = judge_rows(_Answering("openai:gpt-4o", readings=["yes", "yes"]), ROWS, ["r", "r"])
    block = compute_latency(rows)
    text = latency_markdown(block, "openai:gpt-4o", 2, phrase_locator())
    assert f"by {keyword.NAME} phrases, for the paths `openai:gpt-4o` judged corrected" in text
    assert "by `plug-in` itself" in latency_markdown(block, "plug-in", 2, "plug-in")
    assert "by what `old-run` located" in latency_markdown(block, "old-run", 2, None)  # recorded before located_by
