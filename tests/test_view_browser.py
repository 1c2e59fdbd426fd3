"""c2 view in a real headless Chromium (selenium + Debian's chromium-driver): real runs' reports, deep links, every
filter, keyboard labelling read back by c2 judge validate, markup in every field of real runs that must show as
text and run nowhere, a screenshot, and a full-size run (80,000 paths) that opens and filters; its speed is
measured by benchmarks/bench_view.py, not asserted here.

Skipped, with the reason, where Chromium cannot be installed (tests/browser_env.py). ``C2_VIEW_SCREENSHOT=FILE``
keeps the screenshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from c2kit.judges.keyword import NAME as KEYWORD  # the live keyword judge, the default

from view_browser import browser, download_labels, downloads, hostile_reports_shown, press  # noqa: F401 (fixtures)
from view_page import change, counts, open_report
from view_runs import COMPLIANCE, REFUSAL, run_cli, view_runs  # noqa: F401 (fixture)
from waiting import wait_until

SIZE_LIMIT_BYTES = 40 * 10**6  # a full-size run's report is at most 40 MB

@pytest.fixture(scope="module")
def report(view_runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    code, _ = run_cli("view", str(view_runs["refuser"]), str(view_runs["rejudged"]), str(view_runs["complier"]),
                      "--out", str(out))
    assert code == 0
    return out


def test_a_real_runs_report_shows_scores_verdicts_and_continuations(browser, report):
    open_report(browser, report)
    assert counts(browser) == (3, 24, 24)  # 3 items x 2 k x 2 paths, refuser and complier side by side
    text = browser.find_element("tag name", "body").text
    assert text.startswith("Content warning.")
    for expected in ("refuser-model", "complier-model", "Corr_mean", KEYWORD, "hf:unsure-judge",
                     "Over-correction", "Paired: complier-model − refuser-model", REFUSAL, COMPLIANCE,
                     "3 of 3 items · 24 of 24 paths match",
                     "paired difference at k=10: complier-model − refuser-model = -100.0 points"):
        assert expected in text, expected
    charts = browser.find_elements("css selector", "#summary svg.chart")  # each run's plot, drawn inline
    assert len(charts) == 3
    # the refuser's Corr@k is 100% at both k: its two points sit on the top line
    points = charts[0].find_elements("css selector", "circle[data-series='Corr@k']")
    assert len(points) == 2 and {p.get_attribute("cy") for p in points} == {"12"}
    path = browser.find_element("css selector", ".path")
    # the request, the prefilled prefix and the continuation, apart; the located correction highlighted
    assert [part.get_attribute("class") for part in path.find_elements("css selector", ".part")] == [
        "part req", "part pre", "part cont"]
    assert path.find_element("css selector", "mark.corr").text == REFUSAL
    assert f"{KEYWORD}: corrected" in path.text and "unparsed answer" in path.text


def test_a_deep_link_opens_the_item_at_k(browser, report):
    from selenium.common.exceptions import StaleElementReferenceException

    open_report(browser, report, "#item=1&k=20")
    detail = browser.find_element("id", "detail")
    assert detail.find_element("tag name", "h2").text.startswith("item 1")
    assert detail.find_element("css selector", ".ktabs button.current").text.startswith("k=20")
    ids = [node.get_attribute("data-label-id") for node in detail.find_elements("css selector", ".path")]
    assert ids == ["refuser-model:1/k20/p0", "refuser-model:1/k20/p1", "complier-model:1/k20/p0",
                   "complier-model:1/k20/p1"]
    browser.execute_script("location.hash = '#item=2&k=10'")  # a link followed inside the open page
    wait_until(lambda: detail.find_element("tag name", "h2").text.startswith("item 2"), timeout_s=10,
               ignoring=(StaleElementReferenceException,),  # the heading redrawn between finding and reading it
               failure=lambda: "the followed link did not open item 2: " + detail.text[:200])
    open_report(browser, report, "#item=benign%3Ab001&k=10")  # an over-correction item
    assert browser.find_element("id", "f-set").get_attribute("value") == "overcorrection"
    assert "item benign:b001" in browser.find_element("id", "detail").text
    open_report(browser, report, "#item=nonexistent&k=10")
    assert browser.find_element("id", "status").text == "The link names item nonexistent, which is not in this report."


def test_each_filter(browser, report):
    open_report(browser, report)
    expected = [("f-k", "10", (3, 12)), ("f-k", "", (3, 24)), ("f-cat", "Cybercrime", (2, 16)), ("f-cat", "", (3, 24)),
                ("f-corr", "1", (3, 12)), ("f-corr", "0", (3, 12)), ("f-corr", "", (3, 24)),
                ("f-disagree", True, (3, 12)), ("f-disagree", False, (3, 24)),
                ("f-unparsed", True, (3, 12)), ("f-unparsed", False, (3, 24)),
                ("f-text", "more details", (3, 12)), ("f-text", "no such text", (0, 0)), ("f-text", "", (3, 24)),
                ("f-labelled", "yes", (0, 0)), ("f-labelled", "no", (3, 24)), ("f-labelled", "", (3, 24))]
    for control, value, (items, paths) in expected:
        change(browser, control, value)
        assert counts(browser)[:2] == (items, paths), (control, value)
    change(browser, "f-disagree", True)  # what is left is the refuser's paths, where the two judges differ
    assert {node.get_attribute("data-col") for node in browser.find_elements("css selector", ".path")} == {"c0"}
    change(browser, "f-disagree", False)
    change(browser, "f-set", "overcorrection")
    assert counts(browser) == (3, 24, 24)
    assert "benign" in browser.find_element("id", "detail").find_element("tag name", "h2").text


def test_label_five_paths_with_the_keyboard_and_validate_them(browser, report, view_runs, downloads, tmp_path,
                                                              capsys):
    open_report(browser, report)
    press(browser, "l")
    assert "labelling" in browser.find_element("tag name", "body").get_attribute("class")
    press(browser, "1j0j1j0j1")
    assert browser.find_element("id", "label-count").text == "5 labelled"
    saved = download_labels(browser, downloads)
    rows = [json.loads(line) for line in saved.read_text(encoding="utf-8").splitlines()]
    assert {row["id"]: row["label"] for row in rows} == {
        "refuser-model:0/k10/p0": True, "refuser-model:0/k10/p1": False, "refuser-model:0/k20/p0": True,
        "complier-model:0/k10/p0": True, "complier-model:0/k10/p1": False}
    assert {row["continuation"] for row in rows} == {REFUSAL, COMPLIANCE}
    code, _ = run_cli("judge", "validate", "--judge", "keyword", "--labels", str(saved), "--out", str(tmp_path))
    assert code == 0
    result = json.loads((tmp_path / "validation.json").read_text())
    report_row = result["reports"][0] if "reports" in result else result
    # the keyword judge says the refusals correct and the compliances do not: 3 of the 5 labels agree
    assert report_row["n"] == 5 and report_row["metrics"]["accuracy"]["value"] == pytest.approx(0.6)
    capsys.readouterr()
    # Labels chosen by hand are no random sample of the run: calibration refuses them, in one line saying why.
    code, _ = run_cli("eval", "calibrate", str(view_runs["refuser"]), "--labels", str(saved), "--out", str(tmp_path))
    error = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in error and "not a random sample" in error, error
    assert not (tmp_path / "calibrated.json").exists()
    open_report(browser, report, fresh=False)  # the labels survive a reload
    assert browser.find_element("id", "label-count").text == "5 labelled"
    change(browser, "f-labelled", "yes")
    assert counts(browser)[:2] == (1, 5)


def test_disagreements_open_straight_into_label_mode(browser, view_runs, tmp_path):
    out = tmp_path / "label.html"
    assert run_cli("view", str(view_runs["disagreements"]), "--out", str(out))[0] == 0
    open_report(browser, out)
    assert "labelling" in browser.find_element("tag name", "body").get_attribute("class")
    assert counts(browser) == (3, 12, 12)
    press(browser, "0")
    rows = browser.execute_script("return window.c2view.labelRows()")
    first = json.loads(view_runs["disagreements"].read_text().splitlines()[0])
    assert [(row["id"], row["label"]) for row in rows] == [(first["id"], False)]


def test_text_is_shown_as_text(browser, tmp_path):
    labels = tmp_path / "odd.jsonl"
    odd = "<img src=x onerror=\"document.title='hacked'\"> it's <b>not</b> markup"
    labels.write_text(json.dumps({"id": "it's/k10/p0", "request": "<i>r</i>", "prefix": "p", "continuation": odd,
                                  "label": None}) + "\n", encoding="utf-8")
    out = tmp_path / "odd.html"
    assert run_cli("view", str(labels), "--out", str(out))[0] == 0
    open_report(browser, out)
    path = browser.find_element("css selector", ".path")
    assert path.get_attribute("data-label-id") == "it's/k10/p0"
    assert path.find_element("css selector", ".part.cont").text == odd
    assert not path.find_elements("css selector", ".part img, .part b, .part i") and "hacked" not in browser.title


@pytest.fixture(scope="module")
def hostile(view_runs, tmp_path_factory):
    """Copies of the runs and the label file with markup in every field (tests/view_hostile.py), sorted into
    those the report accepts and those it refuses."""
    from c2kit.view import build_view_data
    from view_hostile import hostile_runs, sort_fields

    sources = [view_runs[name] for name in ("refuser", "rejudged", "complier", "disagreements")]
    runs = hostile_runs(sources, view_runs["refuser"].parent, tmp_path_factory.mktemp("hostile") / "runs")
    accepted, refused = sort_fields(runs, lambda: build_view_data(runs.inputs))
    return runs, accepted, refused


# The fields the report is known to show (among them the five that once ran markup), so the walk cannot pass by
# showing nothing.
MUST_SHOW = [("scores.json", ("n_items",), False), ("scores.json", ("paths",), False),
             ("scores.json", ("n_items_at_k", "10"), False), ("scores.json", ("corr_at_k", "10"), True),
             ("config.json", ("judge_info", "tally", "unparsed"), True), ("input name", (), True),
             ("scores.json", ("corr_at_k", "10"), False), ("scores.json", ("ci95", "mean", None), False),
             ("scores.json", ("judge",), False), ("generations.jsonl", (None, "request"), False),
             ("generations.jsonl", (None, "prefix"), False), ("generations.jsonl", (None, "continuation"), False),
             ("generations.jsonl", (None, "item_id"), False), ("judgments.jsonl", (None, "judge"), False),
             ("label file", (None, "verdicts", KEYWORD), True),
             ("items.jsonl", (None, "response_0_harm_category", "Violence"), True)]


def test_no_field_of_a_run_runs_script_in_the_report(browser, hostile, tmp_path):
    runs, accepted, refused = hostile
    every = len(runs.names) + len(runs.fields())
    # What the report refuses is refused in one line naming the file (a missing item_id, a k that is no number).
    for group, reason in refused.items():
        files = [path.name for one in group for path in runs.files[one.kind]]
        assert "\n" not in reason and any(name in reason for name in files), (group, reason)
    assert sum(map(len, refused)) < 0.05 * every, refused
    shown = hostile_reports_shown(browser, runs, accepted, tmp_path)
    missing = [where for where in MUST_SHOW if where not in shown]
    assert not missing, missing
    print(f"\n{every} hostile fields: {len(accepted)} in reports ({len(shown)} of them shown), "
          f"{sum(map(len, refused))} refused in one line; none ran")


def test_the_page_refuses_markup_and_inline_script(browser, report):
    open_report(browser, report)
    refusals = browser.execute_script("""
        const refusals = [];
        const detail = document.getElementById("detail");
        try { detail.innerHTML = "<b>markup</b>"; } catch (error) { refusals.push(error.name); }
        const script = document.createElement("script");
        try { script.textContent = "window.__ran = true"; } catch (error) { refusals.push(error.name); }
        document.body.append(script);
        return [refusals, window.__ran === undefined];
    """)
    assert refusals == [["TypeError", "TypeError"], True]  # Trusted Types; and the policy runs no other script


# Rectangles of elements as the page lays them out, to check what overlaps what.
RECTS = "return Array.from(arguments[0].querySelectorAll(arguments[1])).map((e) => e.getBoundingClientRect().toJSON())"


def _overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_a_charts_legend_is_clear_of_its_lines_and_lines_on_one_another_both_show(browser, report):
    open_report(browser, report)
    refuser = browser.find_elements("css selector", "#summary svg.chart")[0]  # Corr@k and over-correction at 100%
    grid = browser.execute_script(RECTS, refuser, "line.grid")  # from 0% to 100%: where every line and band lies
    area = {"left": min(r["left"] for r in grid), "right": max(r["right"] for r in grid),
            "top": min(r["top"] for r in grid) - 3, "bottom": max(r["bottom"] for r in grid) + 3}  # + strokes
    legend = browser.execute_script(RECTS, refuser, ".legend")
    assert len(legend) == 4  # a line and a name per series
    for box in legend:
        assert not _overlap(box, area), (box, area)
    # The two series lie on one another (100% at both k): the one under is drawn wider, so it shows at both sides
    # of the one over it, and their points differ in shape.
    under, over = refuser.find_elements("css selector", "polyline")
    assert under.get_attribute("points") == over.get_attribute("points")
    assert float(under.get_attribute("stroke-width")) >= float(over.get_attribute("stroke-width")) + 2
    shapes = {mark.get_attribute("data-series"): mark.get_attribute("data-mark")
              for mark in refuser.find_elements("css selector", "[data-mark]")}
    assert shapes["Corr@k"] != shapes["over-correction"]


def test_the_search_placeholder_shows_whole(browser, report):
    open_report(browser, report)
    room, needed = browser.execute_script("""
        const box = document.getElementById('f-text'), style = getComputedStyle(box);
        const context = document.createElement('canvas').getContext('2d');
        context.font = style.font;
        return [box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
                context.measureText(box.placeholder).width];""")
    assert needed <= room, f"the placeholder needs {needed:.0f} px, the box has {room:.0f}"


def test_badges_read_as_sentences_and_a_rejudged_run_has_one_badge(browser, report):
    open_report(browser, report, "#item=1&k=10")
    press(browser, "l0")  # label mode, the first path labelled "does not steer away"
    badge = wait_until(lambda: browser.find_elements("css selector", "#detail .lab"), timeout_s=10,
                       failure="no label badge was drawn")[0]
    assert badge.text == "label: does not steer away"
    headings = [h.text for h in browser.find_elements("css selector", "#summary .run > h2")]
    rejudged = [text for text in headings if "judged" in text]
    assert len(rejudged) == 1, headings
    tags = browser.find_elements("css selector", "#summary .run > h2 .tag")
    assert sum(1 for tag in tags if "judged" in tag.text) == 1  # "rejudged" (its folder) and "re-judged" as one


def test_a_link_followed_on_the_open_page_scrolls_to_the_item(browser, report):
    from selenium.common.exceptions import StaleElementReferenceException

    open_report(browser, report)
    browser.execute_script("window.scrollTo(0, 0)")
    top = "return document.getElementById('detail').getBoundingClientRect().top"
    assert browser.execute_script(top) > browser.execute_script("return innerHeight")  # below the fold at first
    browser.execute_script("location.hash = '#item=2&k=10'")
    detail = browser.find_element("id", "detail")
    wait_until(lambda: detail.find_element("tag name", "h2").text.startswith("item 2"), timeout_s=10,
               ignoring=(StaleElementReferenceException,), failure="the followed link did not open item 2")
    wait_until(lambda: 0 <= browser.execute_script(top) < browser.execute_script("return innerHeight") / 2,
               timeout_s=10, failure=lambda: f"the item is not in view: its top at {browser.execute_script(top)} px")


def test_screenshot(browser, report, tmp_path):
    open_report(browser, report, "#item=1&k=10")
    press(browser, "l1j")  # label mode, one path labelled, the next one in focus
    target = Path(os.environ.get("C2_VIEW_SCREENSHOT") or tmp_path / "view.png")
    assert browser.save_screenshot(str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 20_000


@pytest.fixture(scope="module")
def full_size_report(tmp_path_factory) -> Path:
    from c2kit.view import build_report
    from view_synthetic import write_rejudged_copy, write_synthetic_run

    root = tmp_path_factory.mktemp("full-size")
    run = write_synthetic_run(root / "run")
    return build_report([run, write_rejudged_copy(run, root / "rejudged")], root / "report.html").path


def test_a_full_size_run_opens_and_filters(browser, full_size_report):
    path = full_size_report
    assert path.stat().st_size <= SIZE_LIMIT_BYTES
    open_report(browser, path)
    assert counts(browser) == (500, 80_000, 80_000)
    shown = {}
    for control, value in (("f-k", "40"), ("f-cat", "Drugs"), ("f-corr", "1"), ("f-disagree", True),
                           ("f-text", "illegal")):
        change(browser, control, value)
        shown[control] = counts(browser)[1]
        browser.find_element("id", "b-reset").click()
        assert counts(browser)[:2] == (500, 80_000)
    assert shown["f-k"] == 10_000  # one k of 8
    assert all(0 < n < 80_000 for n in shown.values()), shown
