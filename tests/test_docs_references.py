"""Every tracked file speaks to users: no pointer to protocol-note sections or issue numbers they cannot open.

A public upstream issue is fine when it names its repository (``huggingface/lighteval#591``): the check
only flags a bare ``issue N`` / ``issue #N``. Identifiers that merely contain the letters (``SPECIAL_TOKENS``,
``INSPECT_SUFFIXES``, ``JUDGE_SPEC``) are not references either.
"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# "SPEC 9", "SPEC section 9", "SPEC's", "(SPEC reference: ...)", "SPEC.md"; a whole word, so identifiers pass.
INTERNAL_REFERENCE = re.compile(r"\bSPEC\b|\b[Ii]ssues? #?\d+|\binternal notes?\b")


def internal_references(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each line of ``text`` that points at an internal note or issue number."""
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
            if INTERNAL_REFERENCE.search(line)]


def test_the_pattern_flags_internal_references_and_passes_look_alikes():
    flagged = ["Two prefix modes (SPEC 3):", "see SPEC section 9", "the SPEC's recipe", "(SPEC reference: batch 4)",
               "Goal (issue 3): 750K pairs", "against issue 17's limits", "(issue #16)", "Issue 24 asks for",
               "written from the internal notes"]
    passed = ["SPECIAL_TOKENS = []", "INSPECT_SUFFIXES", "``-T judge=JUDGE_SPEC``", "SPEC_PROMPT_JSON",
              "(open issue huggingface/lighteval#591)", "a judge spec", "Xu et al. 2024, arXiv 2407.16637, Section 4"]
    assert [line for line in flagged if not internal_references(line)] == []
    assert [line for line in passed if internal_references(line)] == []


def test_no_tracked_file_refers_to_internal_notes_or_issue_numbers():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    paths = [name for name in listed.decode().split("\0") if name]
    assert len(paths) > 100, "git ls-files listed too few files to be this repository"
    this_file = Path(__file__).resolve().relative_to(ROOT).as_posix()
    found = []
    for name in paths:
        path = ROOT / name
        if name == this_file or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:  # binary (Parquet, PNG, ...)
            continue
        found += [f"{name}:{number}: {line}" for number, line in internal_references(data.decode("utf-8", "replace"))]
    assert found == [], ("references users cannot follow (say the fact, or cite the paper's section):\n"
                         + "\n".join(found))
