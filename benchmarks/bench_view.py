"""How fast a full-size ``c2 view`` report opens and filters in headless Chromium, against its size and speed limits.

Workload: a synthetic results directory of 500 items x 8 k x 20 paths (80,000 continuations, no model) and a
re-judged copy of it (two judges per path), written by tests/view_synthetic.py, in one report. It prints the
file size, the build time, the first view (ms from navigation until the first page is drawn) and, per filter,
the change's handler + layout time and the time to the next frame, each with its limit and the ratio to it:

    .venv/bin/python benchmarks/bench_view.py            # installs Debian's chromium if it can (tests/browser_env.py)

Limits: file <= 40 MB, first view <= 3 s, filter change <= 300 ms. Timings vary with load: on an idle 2-core
machine expect well under the limits; run it alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the suite's synthetic run and browser

from browser_env import chrome_driver  # noqa: E402
from view_page import change, counts, open_report  # noqa: E402
from view_synthetic import write_rejudged_copy, write_synthetic_run  # noqa: E402

from c2kit.view import build_report  # noqa: E402

SIZE_LIMIT_MB = 40
FIRST_VIEW_LIMIT_MS = 3000
FILTER_LIMIT_MS = 300
FILTERS = (("f-k", "40"), ("f-cat", "Drugs"), ("f-corr", "1"), ("f-disagree", True), ("f-unparsed", True),
           ("f-unparsed", False), ("f-labelled", "no"), ("f-text", "illegal"), ("f-text", ""))


def row(name: str, value: float, limit: float, unit: str) -> str:
    return f"| {name} | {value:,.1f} {unit} | {limit:,} {unit} | {value / limit:.2f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="page loads and filter passes; the fastest is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="c2-bench-view-") as tmp:
        root = Path(tmp)
        run = write_synthetic_run(root / "run")
        rejudged = write_rejudged_copy(run, root / "rejudged")
        start = time.perf_counter()
        path = build_report([run, rejudged], root / "report.html").path
        build_s = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        driver, reason = chrome_driver(root / "downloads")
        if driver is None:
            print(f"no headless Chromium: {reason}")
            return 1
        try:
            first_view = []
            by_filter: dict[str, list[float]] = {}
            for _ in range(args.repeats):
                first_view.append(open_report(driver, path)["ready"])
                assert counts(driver) == (500, 80_000, 80_000)
                for control, value in FILTERS:
                    laid_out, _ = change(driver, control, value)
                    by_filter.setdefault(f"{control}={value}", []).append(laid_out)
        finally:
            driver.quit()
    print(f"full-size report (80,000 paths, 2 judges), built in {build_s:.1f} s; fastest of {args.repeats}:\n")
    print("| measure | value | limit | ratio to limit |\n|---|---:|---:|---:|")
    print(row("file size", size_mb, SIZE_LIMIT_MB, "MB"))
    print(row("first view", min(first_view), FIRST_VIEW_LIMIT_MS, "ms"))
    for name, times in by_filter.items():
        print(row(f"filter {name}", min(times), FILTER_LIMIT_MS, "ms"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
