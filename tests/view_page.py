"""Driving a c2 view report in a real browser (selenium): open it, read its counts, change a filter.

Shared by tests/test_view_browser.py and benchmarks/bench_view.py.
"""

from __future__ import annotations

import time
from pathlib import Path

# Change one filter control the way a person does (value, then its event) and time the handler, including the
# layout of what it drew (forced), then also the next frame.
CHANGE_FILTER = """
const done = arguments[arguments.length - 1];
const control = document.getElementById(arguments[0]);
const start = performance.now();
if (control.type === 'checkbox') control.checked = arguments[1]; else control.value = arguments[1];
control.dispatchEvent(new Event(control.type === 'search' ? 'input' : 'change'));
void document.body.offsetHeight;
const laidOut = performance.now() - start;
requestAnimationFrame(() => setTimeout(() => done([laidOut, performance.now() - start]), 0));
"""


def open_report(driver, path: Path, fragment: str = "", *, fresh: bool = True) -> dict:
    """Open the report (at ``fragment``), wait until its first view is drawn; its timings (ms since navigation)."""
    driver.get(path.as_uri() + fragment)
    if fresh:  # labels of an earlier test must not carry over
        driver.execute_script("localStorage.clear()")
        driver.get("about:blank")
        driver.get(path.as_uri() + fragment)
    deadline = time.monotonic() + 60
    while not driver.execute_script("return document.body.dataset.ready === '1'"):
        assert time.monotonic() < deadline, driver.execute_script("return document.getElementById('status').textContent")
        time.sleep(0.02)
    return driver.execute_script("return window.c2view.timings")


def counts(driver) -> tuple[int, int, int]:
    data = driver.execute_script("return Object.assign({}, document.getElementById('counts').dataset)")
    return int(data["items"]), int(data["paths"]), int(data["total"])


def change(driver, control: str, value) -> list[float]:
    return driver.execute_async_script(CHANGE_FILTER, control, value)
