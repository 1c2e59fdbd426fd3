"""The tests' waits end when their condition holds and fail at their deadline when it never does (never a hang,
never a pass): tests/waiting.py on a clock of its own, the other process of tests/lock_holders.py, and a report
page that is never drawn in a real browser."""

from __future__ import annotations

import pytest

import lock_holders
import waiting
from lock_holders import another_process
from view_browser import browser, downloads  # noqa: F401 (fixtures)
from view_page import open_report
from waiting import wait_until


class FakeClock:
    """``monotonic`` and ``sleep`` for tests/waiting.py: sleeping moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now, self.sleeps = 1000.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(waiting, "monotonic", clock.monotonic)
    monkeypatch.setattr(waiting, "sleep", clock.sleep)
    return clock


def test_a_condition_that_never_holds_fails_at_its_deadline(clock):
    asked = []
    with pytest.raises(AssertionError, match=r"^after 5 s, the flag never rose$"):
        wait_until(lambda: asked.append(clock.now), timeout_s=5, interval_s=0.5, failure="the flag never rose")
    assert clock.now == 1005.0  # not a moment past it
    assert asked == [1000.0 + 0.5 * i for i in range(11)]  # asked every interval, the last time at the deadline


def test_the_wait_ends_with_the_first_truthy_value(clock):
    answers = iter([None, 0, "", "drawn", "later"])
    assert wait_until(lambda: next(answers), timeout_s=5, interval_s=0.5, failure="unused") == "drawn"
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_the_last_sleep_stops_at_the_deadline_and_the_failure_is_asked_then(clock):
    reasons = []
    with pytest.raises(AssertionError, match=r"^after 1 s, status: still loading$"):
        wait_until(lambda: False, timeout_s=1, interval_s=0.4,
                   failure=lambda: reasons.append(clock.now) or "status: still loading")
    assert clock.sleeps == pytest.approx([0.4, 0.4, 0.2]) and reasons == [1001.0]


def test_only_the_ignored_exceptions_count_as_not_yet(clock):
    def stale_then_ready():
        if len(clock.sleeps) < 2:
            raise LookupError("redrawn while read")
        return "ready"

    assert wait_until(stale_then_ready, timeout_s=5, failure="unused", ignoring=(LookupError,)) == "ready"
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, timeout_s=5, failure="unused", ignoring=(LookupError,))


def test_another_process_that_never_gets_there_fails_at_the_deadline(monkeypatch):
    monkeypatch.setattr(lock_holders, "READY_TIMEOUT_S", 1)
    with pytest.raises(AssertionError, match=r"after 1 s, the other process has not run 'import time"):
        with another_process("import time; time.sleep(3600)"):
            pytest.fail("the block ran before the other process was there")
    with pytest.raises(AssertionError, match="the other process failed to run 'raise SystemExit"):
        with another_process("raise SystemExit(3)"):
            pytest.fail("the block ran with no other process")


def test_a_report_never_drawn_fails_at_the_deadline_with_its_status(browser, tmp_path):
    page = tmp_path / "never.html"
    page.write_text('<!doctype html><body><p id="status">reading the runs</p></body>', encoding="utf-8")
    with pytest.raises(AssertionError, match=r"^after 1 s, the report was not drawn; its status line: 'reading the"):
        open_report(browser, page, timeout_s=1)
