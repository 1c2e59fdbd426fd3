"""Waiting in tests on a condition, never on a fixed time: a slow machine waits longer, a fast one no longer than
it must, and a condition that never holds fails the test at its deadline (a hang never passes as success)."""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic, sleep
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, timeout_s: float, failure: str | Callable[[], str],
               interval_s: float = 0.05, ignoring: tuple[type[BaseException], ...] = ()) -> T:
    """``condition()``'s first truthy value, asked every ``interval_s``; an AssertionError with ``failure`` (or what
    it returns, e.g. the page's status) once ``timeout_s`` have passed. Exceptions of the ``ignoring`` types count
    as not yet (an element replaced while it was read)."""
    deadline = monotonic() + timeout_s
    while True:
        try:
            value = condition()
        except ignoring:
            value = None
        if value:
            return value
        left = deadline - monotonic()
        if left <= 0:
            reason = failure() if callable(failure) else failure
            raise AssertionError(f"after {timeout_s:g} s, {reason}")
        sleep(min(interval_s, left))
