"""Browser fixtures and steps shared by the report's browser tests (tests/test_view_browser.py,
tests/test_view_blind.py): one headless Chromium per test session, keys pressed as a person does, a labels file
downloaded, and the check that hostile copies of runs run no script in their reports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from browser_env import chrome_driver
from view_page import WATCH_FOR_INJECTION, open_report, visit_every_view
from waiting import wait_until

DOWNLOAD_TIMEOUT_S = 20


# Session scope, so the browser is looked for (and a skip decided) before the runs are made.
@pytest.fixture(scope="session")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(downloads):
    driver, reason = chrome_driver(downloads)
    if driver is None:
        pytest.skip(f"no headless Chromium: {reason}")
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


def press(driver, keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    driver.execute_script("document.activeElement && document.activeElement.blur()")
    for key in keys:
        ActionChains(driver).send_keys(key).perform()


def download_labels(driver, downloads: Path) -> Path:
    """Click *download labels* and wait for the file (the only .jsonl in ``downloads`` afterwards)."""
    for old in downloads.glob("*.jsonl"):
        old.unlink()
    driver.find_element("id", "b-download").click()
    return wait_until(lambda: _downloaded(downloads), timeout_s=DOWNLOAD_TIMEOUT_S,
                      failure=lambda: f"the labels were not downloaded; {downloads} holds "
                                      f"{sorted(p.name for p in downloads.iterdir())}")


def _downloaded(downloads: Path) -> Path | None:
    """The labels file once Chromium has finished it, else None.

    Chromium writes into a ``.crdownload`` file and renames it over the name it reserved, so the ``.jsonl`` may
    exist, empty, before its content does; a finished labels file ends with a newline."""
    files = list(downloads.glob("*.jsonl"))
    if len(files) != 1 or list(downloads.glob("*.crdownload")):
        return None
    return files[0] if files[0].read_bytes().endswith(b"\n") else None


def hostile_reports_shown(driver, runs, accepted, tmp_path: Path,
                          before_visit: Callable[[object], None] | None = None) -> set[tuple]:
    """Build a report per layer of ``accepted`` hostile fields (tests/view_hostile.py), open it, let
    ``before_visit(driver)`` act on it (e.g. label every row), visit every view and check that nothing ran, the
    policy blocked nothing and no element but the report's own was added; each shown field must show its markup
    as text. Returns the (kind, path, key) of the fields shown."""
    from c2kit.view import build_report
    from view_hostile import layer

    layers: dict[str, list] = {}
    for one in accepted:
        layers.setdefault(layer(one), []).append(one)
    # Reports are built by the call `c2 view` makes (c2kit.view.build_report): the command first checks scores.json
    # against judgments.jsonl and would refuse most edited scores before their markup reached a report.
    shown = set()
    watch = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_FOR_INJECTION})
    try:
        for name, fields in layers.items():  # one report per layer: all its fields' markup at once
            out = tmp_path / f"{name.replace(' ', '-')}.html"
            with runs.spoiled(fields):
                build_report(runs.inputs, out)
            open_report(driver, out)
            if before_visit is not None:
                before_visit(driver)
            text = visit_every_view(driver)
            pwned, violations, added = driver.execute_script(
                "return [window.__pwned, window.__violations, window.__added]")
            assert pwned == [] and violations == [] and added["suspects"] == [], (name, pwned, violations, added)
            source = out.read_text(encoding="utf-8")
            for tag in ("script", "style", "meta", "details"):  # only the report's own
                assert added["counts"].get(tag, 0) == source.count("<" + tag), (name, tag, added["counts"])
            for one in fields + runs.names:
                if one.tag in text:  # shown: as text, the markup and all
                    assert one.marker in text, (name, str(one))
                    shown.add((one.kind, one.path, one.key))
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": watch["identifier"]})
    return shown
