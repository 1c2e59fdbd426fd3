"""Hostile copies of real runs for the report's injection test: markup that would run if the report inserted it as
HTML, put into every field the report reads from disk.

The fields are not listed by hand: :func:`hostile_runs` copies the runs, records which JSON / JSONL files
``c2 view`` opens while it builds a report of them, and walks those files' contents recursively. Each key path of
a file kind (``config.json``, ``overcorrection/generations.jsonl``, the label file, the data file a config names...;
all rows of a JSONL file and all elements of a list share one path) is two fields: its value(s), and its key's
name. Each field gets its own tag and markup. A field whose markup the report refuses alone (a join key such as
``item_id`` must change in every file at once) is tried again together with the same key path in the other file
kinds; what is still refused must be refused in one line that names the file (``k`` must be a number).
The inputs' folder and file names carry markup too.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# What runs if inserted as HTML. The cores hold no "/", so they survive where a path is shown by its last part.
CORES = ("<img src=x onerror=window.__pwned.push('{tag}')>", "<svg onload=window.__pwned.push('{tag}')>",
         "<img src=x onerror=alert('{tag}')>", "<details open ontoggle=window.__pwned.push('{tag}')>")
# Breaking out of an attribute, a <script> block or a comment first.
BREAKOUTS = ("\"><script>window.__pwned.push('{tag}')</script>", "'--></script><!--<script>alert('{tag}')</script>",
             "")
EVERY = None  # in a key path: every element of a list (every row of a JSONL file)
KeyPath = tuple[str | None, ...]


@dataclass(frozen=True)
class Field:
    """One field of one file kind: the value(s) at ``path``, or (``key``) the name of the key at its end."""

    kind: str
    path: KeyPath
    key: bool
    number: int

    @property
    def tag(self) -> str:
        return f"hostile{self.number:04d}"

    @property
    def marker(self) -> str:
        """What the page shows where the field's text is shown as text (the markup, then the tag)."""
        return CORES[self.number % len(CORES)].format(tag=self.tag) + self.tag

    @property
    def suffix(self) -> str:
        """What the field's text gets appended."""
        return BREAKOUTS[self.number % len(BREAKOUTS)].format(tag=self.tag) + self.marker

    def __str__(self) -> str:
        where = ".".join("[]" if part is EVERY else part for part in self.path)
        return f"{self.kind}: {'key' if self.key else 'value'} {where}"


@dataclass
class HostileRuns:
    """Copied runs whose files are changed field by field (:meth:`spoiled`) and restored."""

    inputs: list[Path]
    files: dict[str, list[Path]]  # file kind -> the files of that kind (one per run)
    names: list[Field]  # the inputs' folder and file names, hostile already
    originals: dict[Path, bytes] = field(default_factory=dict)

    def fields(self) -> list[Field]:
        """Every field of every file kind, numbered after the names."""
        found: list[Field] = []
        for kind, paths in self.files.items():
            seen: dict[tuple[KeyPath, bool], None] = {}
            for path in paths:
                for spot in _walk(_load(path)):
                    seen.setdefault(spot)
            found += [Field(kind, spot, key, len(self.names) + len(found) + number)
                      for number, (spot, key) in enumerate(seen)]
        return found

    @contextmanager
    def spoiled(self, fields: list[Field]) -> Iterator[None]:
        """The files with ``fields`` given their markup (several fields of one file at once), then restored."""
        touched = {path for spoilt in fields for path in self.files[spoilt.kind]}
        try:
            for path in touched:
                content = _load(path)
                for spoilt in fields:
                    if path in self.files[spoilt.kind]:
                        content = _spoil(content, spoilt.path, spoilt.key, spoilt.suffix)
                _dump(path, content)
            yield
        finally:
            for path in touched:
                path.write_bytes(self.originals[path])


def hostile_runs(sources: list[Path], root: Path, out: Path) -> HostileRuns:
    """Copies of ``sources`` (results directories and label files, all under ``root``) in ``out``, each renamed
    with markup; absolute paths inside their files that point into ``root`` point into ``out`` instead."""
    from c2kit.view import build_view_data

    shutil.copytree(root, out, ignore=shutil.ignore_patterns("*.safetensors"))  # models are not read
    for path in out.rglob("*.json*"):
        path.write_text(path.read_text(encoding="utf-8").replace(str(root), str(out)), encoding="utf-8")
    names, inputs = [], []
    for number, source in enumerate(sources):
        name = Field("input name", (), True, number)
        copy = out / source.relative_to(root)
        renamed = copy.with_name(copy.stem + name.marker + copy.suffix)
        copy.rename(renamed)
        names.append(name)
        inputs.append(renamed)
    opened = _files_opened(lambda: build_view_data(inputs))
    files: dict[str, list[Path]] = {}
    for path in sorted(opened):
        if path.is_relative_to(out) and path.suffix in (".json", ".jsonl"):
            files.setdefault(_kind(path, inputs, out), []).append(path)
    runs = HostileRuns(inputs, files, names)
    runs.originals = {path: path.read_bytes() for paths in files.values() for path in paths}
    return runs


def layer(one: Field) -> str:
    """Fields of one layer can be spoilt together: values never overlap, nor do keys at one depth (renaming a key
    and one under it at once would hide the inner one)."""
    return "values" if not one.key else f"keys at depth {len(one.path)}"


def sort_fields(runs: HostileRuns, build) -> tuple[list[Field], dict[tuple[Field, ...], str]]:
    """(the fields ``build`` accepts with their markup, each alone or joined; the refused groups and why).

    ``build()`` reads ``runs.inputs`` and raises ``ValueError`` / ``FileNotFoundError`` on a refusal. The fields of
    a file kind and layer are tried together and halved while refused, so the few refused ones cost a few builds."""
    accepted: list[Field] = []
    alone: dict[Field, str] = {}

    def attempt(group: list[Field]) -> str | None:
        with runs.spoiled(group):
            try:
                build()
            except (ValueError, FileNotFoundError) as error:
                return str(error)
        return None

    def halve(group: list[Field]) -> None:
        reason = attempt(group)
        if reason is None:
            accepted.extend(group)
        elif len(group) == 1:
            alone[group[0]] = reason
        else:
            halve(group[:len(group) // 2])
            halve(group[len(group) // 2:])

    batches: dict[tuple[str, str], list[Field]] = {}
    for one in runs.fields():
        batches.setdefault((one.kind, layer(one)), []).append(one)
    for batch in batches.values():
        halve(batch)
    joined: dict[tuple[KeyPath, bool], list[Field]] = {}
    for one in alone:
        joined.setdefault((one.path, one.key), []).append(one)
    refused: dict[tuple[Field, ...], str] = {}
    for group in joined.values():
        together = [replace(one, number=group[0].number) for one in group]  # one tag: the same text everywhere
        reason = attempt(together) if len(together) > 1 else alone[group[0]]
        if reason is None:
            accepted += together
        else:
            refused[tuple(group)] = reason
    return accepted, refused


def _kind(path: Path, inputs: list[Path], root: Path) -> str:
    for source in inputs:
        if path == source:
            return "label file"
        if path.is_relative_to(source):
            return path.relative_to(source).as_posix()
    return path.relative_to(root).as_posix()


def _files_opened(action) -> set[Path]:
    """The files opened while ``action()`` runs (Python's audit hook; it cannot be removed, so it stays idle)."""
    recording: set[Path] = set()
    _RECORDERS.append(recording)
    try:
        action()
    finally:
        _RECORDERS.remove(recording)
    return recording


_RECORDERS: list[set[Path]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDERS and event == "open" and isinstance(args[0], str):
        for recording in _RECORDERS:
            recording.add(Path(args[0]).resolve())


sys.addaudithook(_audit)


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _dump(path: Path, content: Any) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in content), encoding="utf-8")
    else:
        path.write_text(json.dumps(content, ensure_ascii=False, indent=2), encoding="utf-8")


def _walk(node: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, bool]]:
    """Each (key path, is a key) in ``node``: a dict's keys and what is under them, a list's elements, leaves."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path + (key,), True
            yield from _walk(value, path + (key,))
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, path + (EVERY,))
    else:
        yield path, False


def _spoil(node: Any, path: KeyPath, key: bool, suffix: str) -> Any:
    """``node`` with ``suffix`` appended to the value(s) at ``path`` (a number, true or null as its JSON text), or
    to the name of the key at its end."""
    if not path:
        return (("" if node is None else node if isinstance(node, str) else json.dumps(node)) + suffix)
    head, rest = path[0], path[1:]
    if head is EVERY:
        return [_spoil(value, rest, key, suffix) for value in node] if isinstance(node, list) else node
    if not isinstance(node, dict) or head not in node:
        return node
    out = {}
    for name, value in node.items():
        if name != head:
            out[name] = value
        elif key and not rest:
            out[name + suffix] = value
        else:
            out[name] = _spoil(value, rest, key, suffix)
    return out
