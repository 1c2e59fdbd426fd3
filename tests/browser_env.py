"""A real headless Chromium for the report tests, driven by selenium through Debian's chromium-driver.

``chrome_driver(download_dir)`` returns a driver, installing ``chromium`` and ``chromium-driver`` with apt the first
time (under a file lock, so two test processes never install at once); ``None`` with the reason when it cannot be
had (not root, no apt-get, a failed install, no selenium, ``C2_SKIP_BROWSER=1``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGES = ("chromium", "chromium-driver")
INSTALL_TIMEOUT_S = 15 * 60
LOCK = Path.home() / ".cache" / "c2-toolkit" / "chromium-install.lock"


def _binaries() -> tuple[str | None, str | None]:
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


def ensure_chromium() -> tuple[tuple[str, str] | None, str]:
    """((browser, driver), "") when both are installed (installing them if need be), else (None, why not)."""
    if os.environ.get("C2_SKIP_BROWSER"):
        return None, "C2_SKIP_BROWSER is set"
    browser, driver = _binaries()
    if browser and driver:
        return (browser, driver), ""
    if sys.platform != "linux" or not shutil.which("apt-get"):
        return None, "chromium and chromedriver are not installed and there is no apt-get to install them"
    if os.geteuid() != 0:
        return None, "chromium and chromedriver are not installed and installing them with apt-get needs root"
    from filelock import FileLock

    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(LOCK), timeout=INSTALL_TIMEOUT_S + 60):
        browser, driver = _binaries()
        if not (browser and driver):
            print("\ninstalling chromium and chromium-driver with apt-get (first time only)", file=sys.stderr)
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *PACKAGES]):
                try:
                    done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=env)
                except subprocess.TimeoutExpired:
                    return None, f"`{' '.join(step)}` timed out"
                if done.returncode != 0:
                    return None, f"`{' '.join(step)}` failed: {' '.join((done.stderr or done.stdout).split())[-300:]}"
            browser, driver = _binaries()
    if not (browser and driver):
        return None, "apt-get installed chromium but no chromium / chromedriver binary is on PATH"
    return (browser, driver), ""


def chrome_driver(download_dir: Path, *, width: int = 1400, height: int = 1000):
    """(a headless Chromium driven by selenium that saves downloads to ``download_dir``, "") or (None, why not)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "selenium is not installed (pip install -e '.[dev]')"
    found, reason = ensure_chromium()
    if found is None:
        return None, reason
    browser, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--allow-file-access-from-files"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                              "download.prompt_for_download": False})
    try:
        return webdriver.Chrome(service=Service(driver_path), options=options), ""
    except Exception as error:  # a browser that will not start (missing libraries, a broken install)
        return None, f"chromium did not start: {' '.join(str(error).split())[:300]}"
