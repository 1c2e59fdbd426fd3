"""What the keyword judges share: the pattern and match records, text normalisation, hashing and the
Markdown rendering of a pattern list. The lists themselves live in ``keyword`` (current, ``keyword-v3``)
and ``keyword_v2`` (frozen)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class KeywordPattern:
    """One course-correction pattern: a stable id, the regex, what it means, and an example it matches.

    ``language`` is the ISO 639-1 code of the language the pattern is written for (``en`` by default).
    """

    id: str
    regex: str
    description: str
    example: str
    language: str = "en"


@dataclass(frozen=True)
class KeywordMatch:
    """Why the keyword judge fired: which pattern, and the matched text (in the normalised text)."""

    pattern_id: str
    matched: str
    start: int
    end: int


# Curly/typographic apostrophes and accents that models emit in place of "'".
APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'", "\u00b4": "'"}
_APOSTROPHES = str.maketrans(APOSTROPHES)
_EMPHASIS = re.compile(r"[*_]+")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """keyword-v2's normalisation: straight apostrophes, markdown emphasis removed, single spaces."""
    return _SPACE.sub(" ", _EMPHASIS.sub("", text.translate(_APOSTROPHES))).strip()


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """keyword-v3's normalisation, with where each character came from.

    Unicode NFKC (full-width letters and punctuation, ligatures, "…" -> "..."), then as in v2: straight
    apostrophes, markdown emphasis (``*``, ``_``) removed, runs of whitespace -> one space, stripped.
    Returns the normalised text and, for each of its characters, the offset in ``text`` of the
    character it came from (plus one final entry: ``len(text)``), so a match can be mapped back.
    """
    chars: list[str] = []
    origin: list[int] = []
    i, n = 0, len(text)
    while i < n:
        # A base character with its combining marks is normalised as one unit ("e" + U+0301 -> "é").
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        for char in unicodedata.normalize("NFKC", text[i:j]):
            char = APOSTROPHES.get(char, char)
            if char in "*_":
                continue
            if char.isspace():
                if not chars or chars[-1] == " ":
                    continue
                char = " "
            chars.append(char)
            origin.append(i)
        i = j
    if chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    origin.append(n)
    return "".join(chars), origin


def patterns_hash(lines: Iterable[str]) -> str:
    """Short SHA-256 of the lines that define a list (``id<TAB>regex``), pinned by the tests."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def patterns_table(
    patterns: Iterable[KeywordPattern], *, languages: bool = False
) -> list[str]:
    """The Markdown table rows of a pattern list (id, what it fires on, example; optionally the language)."""
    if languages:
        lines = ["| id | language | fires on | example |", "|---|---|---|---|"]
        lines += [f"| `{p.id}` | {p.language} | {_cell(p.description)} | {_cell(p.example)} |" for p in patterns]
    else:
        lines = ["| id | fires on | example |", "|---|---|---|"]
        lines += [f"| `{p.id}` | {_cell(p.description)} | {p.example} |" for p in patterns]
    return lines


def regex_details(named: Iterable[tuple[str, str]], summary: str = "The regular expressions") -> list[str]:
    """A collapsed ``<details>`` block listing ``id: regex`` lines."""
    lines = ["", f"<details><summary>{summary}</summary>", "", "```text"]
    lines += [f"{name}: {regex}" for name, regex in named]
    lines += ["```", "", "</details>"]
    return lines
