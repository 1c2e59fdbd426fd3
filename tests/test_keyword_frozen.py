"""The frozen keyword judges give the verdicts they gave when they were frozen.

``tests/fixtures/keyword_frozen.json`` holds a fixed list of texts (the examples of every pattern and signal, the
keyword tests' sentences, refusal + signal combinations, list layouts and sentences written for the error classes
of later versions) and the ids of the shipped validation rows, with each frozen version's verdict on every one and,
for the versions that locate corrections, where the correction starts. The pins were made from the code as it
was before the shared parts moved into ``keyword_common``: a refactor that changes any verdict of a frozen
version fails here. When a version is frozen, add its pins (``python tests/test_keyword_frozen.py keyword-vN``
prints them) and never edit the others.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

import c2kit.judges
from c2kit.judges import JudgeInput, load_judge
from c2kit.judges.validation import read_labels, shipped_labels_path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "keyword_frozen.json"


def _pins() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _texts(pins: dict) -> list[str]:
    """The fixed texts, then the continuations of the pinned shipped rows (by id)."""
    shipped = {row.id: row.input.continuation for row in read_labels(shipped_labels_path())}
    return [*pins["texts"], *(shipped[row_id] for row_id in pins["shipped_ids"])]


def _module(name: str) -> ModuleType:
    """The keyword module whose ``NAME`` is ``name`` (wherever the version lives now)."""
    for info in pkgutil.iter_modules(c2kit.judges.__path__):
        if info.name.startswith("keyword"):
            module = importlib.import_module(f"c2kit.judges.{info.name}")
            if getattr(module, "NAME", None) == name:
                return module
    raise LookupError(f"no keyword module is {name!r}")


def _verdicts(name: str, texts: list[str]) -> str:
    judged = load_judge(name).judge([JudgeInput("", "", text) for text in texts])
    return "".join("1" if verdict else "0" for verdict in judged)


def _differences(texts: list[str], pinned: list, live: list) -> list[str]:
    return [f"{pinned[i]!r} -> {live[i]!r}: {texts[i][:100]!r}" for i in range(len(texts)) if pinned[i] != live[i]]


PINNED = _pins()


def test_the_pins_cover_a_wide_text_list():
    texts = _texts(PINNED)
    assert len(texts) > 2000 and len(set(texts)) > 1900
    for name, verdicts in PINNED["verdicts"].items():
        assert len(verdicts) == len(texts), name
        assert 0.2 < verdicts.count("1") / len(verdicts) < 0.9, name  # both verdicts are well represented


@pytest.mark.parametrize("name", sorted(PINNED["verdicts"]))
def test_frozen_verdicts_are_unchanged(name):
    texts = _texts(PINNED)
    changed = _differences(texts, PINNED["verdicts"][name], _verdicts(name, texts))
    assert changed == [], f"{name} changed {len(changed)} verdicts, e.g. {changed[:3]}"


@pytest.mark.parametrize("name", sorted(PINNED["starts"]))
def test_frozen_correction_starts_are_unchanged(name):
    texts = _texts(PINNED)
    live = [_module(name).correction_start(text) for text in texts]
    changed = _differences(texts, PINNED["starts"][name], live)
    assert changed == [], f"{name} moved {len(changed)} correction starts, e.g. {changed[:3]}"


def test_versions_share_code_only_through_the_common_modules():
    # Importing another version's module (or its private names) would let an edit of one version change another.
    shared = {"c2kit.judges.keyword_common", "c2kit.judges.keyword_phrases"}
    folder = Path(c2kit.judges.__path__[0])
    modules = sorted(path for path in folder.glob("keyword*.py") if path.stem not in ("keyword_common", "keyword_phrases"))
    assert len(modules) >= 3
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                     and node.module == "c2kit.judges" for alias in node.names}
        versions = {name for name in imported if name.rsplit(".", 1)[-1].startswith("keyword")}
        assert versions <= shared, f"{path.name} imports {sorted(versions - shared)}"


def pins_for(name: str, texts: list[str]) -> dict:
    """The pins of one version (its verdicts, and its correction starts where it has them)."""
    module = _module(name)
    found = {"verdicts": _verdicts(name, texts)}
    if hasattr(module, "correction_start"):
        found["starts"] = [module.correction_start(text) for text in texts]
    return found


if __name__ == "__main__":  # print the pins of a version being frozen, to add to the fixture
    print(json.dumps(pins_for(sys.argv[1], _texts(PINNED))))
