"""Load (request, responses, safety) rows from PKU-SafeRLHF-style sources.

Accepted sources: the benchmark file shipped with the package (``"c2eval-500"``, the default), a local
``.jsonl``/``.json``/``.parquet``/``.csv`` file, or a Hub dataset id (``"PKU-Alignment/PKU-SafeRLHF"``,
optionally with ``split``). Both PKU-SafeRLHF schemas work (the newer one only adds fields). Other datasets
of (request, harmful response) work through a column mapping, e.g. ``{"request": "question",
"harmful_response": "answer"}``.

One rule for ids, in every format (JSONL, JSON, CSV, Parquet, a dataset folder, a Hub dataset): a row's id is
its id column (``id`` in the column mapping) where there is one, and its row number (counted from 0) where there
is none: no ``id`` in the mapping, or (``id_optional=True``, for a default mapping) no such column in the source.

A source whose columns cannot give a row at all (no ``prompt`` and no mapping, a mapped column that is not
there) is a :class:`SchemaError` before any row is read: it names the columns found, the columns expected and
the ``--column-mapping`` that would read them, where otherwise every row would be skipped as ``missing field``.

Bad rows (missing fields, empty text, text that is not valid Unicode such as a lone surrogate ``\\ud800``,
no unsafe response) are skipped and counted per reason, never silently dropped; ``strict=True`` turns the
first bad row into an error naming the file, row and field. A bad *file* is an error naming it: one that is
not UTF-8 text or not readable in its format, one with no rows (a zero-row Parquet file, a header-only CSV),
or one where two rows share an id (``id`` in the column mapping), which names both rows.

Without an id column, a row equal to an earlier one in every column (as ``pandas.drop_duplicates`` compares;
a file of only request and harmful response: the same request and harmful response) is skipped as
``duplicate row`` by default, naming both rows, so a repeated row is never scored as a second item
(``drop_duplicates=False`` keeps them). Rows that differ in any column are kept, even where they give the same
C2-Eval item: PKU-SafeRLHF has such rows (another ``response_1``, another annotation), and the paper's 500
items hold five such pairs.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from c2kit.errors import UserError
from c2kit.jsonio import check_json_depth, read_jsonl

BUNDLED_C2EVAL = "c2eval-500"
BUNDLED_FILE = "pku_saferlhf_c2eval_500.jsonl"
LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}

# Canonical fields of a row; a column mapping maps these names to the source's own column names.
PKU_FIELDS = ("prompt", "response_0", "response_1", "is_response_0_safe", "is_response_1_safe")
MAPPABLE_FIELDS = ("request", "harmful_response", "id") + PKU_FIELDS
MAPPING_FLAG = "--column-mapping"
MAX_COLUMNS_SHOWN = 12
# Column names that usually hold a field, for the example a schema error gives (a guess, shown as an example).
LIKELY_COLUMNS = {
    "request": ("request", "prompt", "question", "instruction", "query", "input", "goal", "behavior"),
    "harmful_response": ("harmful_response", "response", "answer", "output", "completion", "target"),
    "id": ("id", "uid", "idx", "item_id"),
}


class SourceError(UserError):
    """A source row is malformed; the message names the source, the row and the field."""

    def __init__(self, message: str, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.reason = reason  # short category used to count skipped rows


class SchemaError(UserError):
    """The source has not the columns a row needs; the message names those found, those expected and the fix."""


@dataclass(frozen=True)
class SourceRow:
    """One request with its candidate responses and their safety labels."""

    source_id: str
    request: str
    responses: tuple[str, ...]
    safe: tuple[bool, ...]
    # The row's other columns (e.g. PKU-SafeRLHF's response_0_harm_category), for per-group analyses.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def first_unsafe(self, min_words: int = 0) -> str | None:
        """First unsafe response with more than ``min_words`` whitespace words (PKU order: 0, then 1)."""
        for text, is_safe in zip(self.responses, self.safe):
            if not is_safe and len(text.split()) > min_words:
                return text
        return None

    @property
    def harmful_response(self) -> str:
        """C2-Eval rule: ``response_0`` if it is unsafe, else ``response_1`` (loading guarantees one exists)."""
        text = self.first_unsafe()
        assert text is not None, "rows without an unsafe response are skipped at load time"
        return text


@dataclass
class LoadedSource:
    """Rows that passed validation, plus what was skipped and why."""

    origin: str
    rows: list[SourceRow]
    skipped: Counter = field(default_factory=Counter)
    skipped_examples: list[str] = field(default_factory=list)  # first few messages, for the report

    @property
    def n_read(self) -> int:
        return len(self.rows) + sum(self.skipped.values())

    def report(self) -> str:
        text = f"{self.origin}: read {self.n_read} rows, kept {len(self.rows)}"
        if self.skipped:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.skipped.items()))
            text += f", skipped {sum(self.skipped.values())} ({reasons})"
        return text


def bundled_path() -> Path:
    """Path of the 500-item C2-Eval benchmark file shipped inside the package (CC BY-NC 4.0)."""
    return Path(str(resources.files("c2kit") / "data" / BUNDLED_FILE))


def load_source(
    source: str | Path = BUNDLED_C2EVAL,
    *,
    split: str = "train",
    column_mapping: Mapping[str, str] | None = None,
    limit: int | None = None,
    strict: bool = False,
    drop_duplicates: bool = True,
    id_optional: bool = False,
    mapping_flag: str = MAPPING_FLAG,
    field_names: Mapping[str, str] | None = None,
) -> LoadedSource:
    """Load and validate rows; see the module docstring for what ``source`` may be.

    ``mapping_flag`` and ``field_names`` (what a mapping key is called where it is not its own name, e.g.
    ``{"harmful_response": "answer"}``) are how a schema error names the fix to its caller's user.
    """
    mapping = _check_mapping(column_mapping)
    origin, columns, records = _read_records(source, split)
    if columns:  # none: the source has no rows, said below
        if id_optional and "id" in mapping and mapping["id"] not in columns:
            mapping.pop("id")  # ids from row numbers, the same in every format
        check_schema(origin, columns, mapping, mapping_flag=mapping_flag, field_names=field_names or {})
    loaded = LoadedSource(origin=origin, rows=[])
    seen_ids: dict[str, int] = {}  # id -> row it was first read from
    seen_rows: dict[bytes, int] = {}  # hash of a whole record -> row it was first read from
    for row_number, record in records:
        try:
            row = _to_row(record, row_number, mapping)
            if row.source_id in seen_ids:
                raise UserError(
                    f"{origin}: source id {row.source_id!r} appears twice (rows {seen_ids[row.source_id]} and "
                    f"{row_number}, field {mapping['id']!r}); ids must be unique: they key the generations, "
                    "judgments and caches")
            if drop_duplicates and "id" not in mapping:
                content = _record_hash(record)
                if content in seen_rows:
                    raise SourceError(f"the same row as row {seen_rows[content]} (a duplicate: it would count as "
                                      "a second item)", "duplicate row")
                seen_rows[content] = row_number
            seen_ids[row.source_id] = row_number
            loaded.rows.append(row)
        except SourceError as error:
            if strict:
                raise SourceError(f"{origin}, row {row_number}: {error}", error.reason) from None
            loaded.skipped[error.reason] += 1
            if len(loaded.skipped_examples) < 5:
                loaded.skipped_examples.append(f"row {row_number}: {error}")
        if limit is not None and len(loaded.rows) >= limit:
            break
    if loaded.n_read == 0:
        raise UserError(f"{origin}: no rows to read (the source is empty)")
    return loaded


def needed_columns(mapping: Mapping[str, str]) -> dict[str, str]:
    """``{field: column}`` of the columns every row needs under ``mapping`` (see :func:`_to_row`)."""
    needed = {"request": mapping.get("request", mapping.get("prompt", "prompt"))}
    if "harmful_response" in mapping:
        needed["harmful_response"] = mapping["harmful_response"]
    else:
        needed.update({name: mapping.get(name, name) for name in PKU_FIELDS[1:]})
    if "id" in mapping:
        needed["id"] = mapping["id"]
    return needed


def check_schema(origin: str, columns: Iterable[str], mapping: Mapping[str, str], *,
                 mapping_flag: str = MAPPING_FLAG, field_names: Mapping[str, str] | None = None) -> None:
    """Raise :class:`SchemaError` when ``columns`` (the source's) lack one that ``mapping`` needs, naming the
    columns found, the ones expected and a ``mapping_flag`` value that would read the source."""
    found = list(columns)
    needed = needed_columns(mapping)
    missing = {name: column for name, column in needed.items() if column not in found}
    if not missing:
        return
    names = dict(field_names or {})

    def called(name: str) -> str:
        return names.get(name, name)

    mapped = "harmful_response" in mapping  # else PKU-SafeRLHF's columns, under their own names
    shown = ", ".join(repr(column) + (f" (for {called(name)})" if mapped and column != called(name) else "")
                      for name, column in missing.items())
    listed = ", ".join(map(repr, found[:MAX_COLUMNS_SHOWN])) + (
        f", ... ({len(found)} in all)" if len(found) > MAX_COLUMNS_SHOWN else "")
    wanted = ["request", "harmful_response"] + (["id"] if "id" in mapping else [])
    example = ",".join(f"{called(name)}={_likely_column(name, found, mapping)}" for name in wanted)
    if mapped:
        expected = "columns for " + _and([called(name) for name in wanted])
    else:
        expected = f"PKU-SafeRLHF's columns ({', '.join(needed.values())}), or a request and a harmful response"
    raise SchemaError(f"{origin}: no column {shown}; its columns are {listed}; expected "
                      f"{expected}: name yours with {mapping_flag}, e.g. {mapping_flag} {example}")


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _likely_column(name: str, found: list[str], mapping: Mapping[str, str]) -> str:
    """The column of ``found`` that most likely holds ``name`` (the mapped one where it is there), else COLUMN."""
    mapped = mapping.get(name, mapping.get("prompt")) if name == "request" else mapping.get(name)
    candidates = ([mapped] if mapped else []) + list(LIKELY_COLUMNS.get(name, ()))
    lowered = {column.lower(): column for column in found}
    return next((lowered[c.lower()] for c in candidates if c.lower() in lowered), "COLUMN")


def _record_hash(record: Mapping[str, Any]) -> bytes:
    """A digest of every column of a record (a hash, not the text: a Hub dataset can have 300,000 rows)."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str, ensure_ascii=False).encode(
        "utf-8", errors="surrogatepass")).digest()


def _check_mapping(column_mapping: Mapping[str, str] | None) -> dict[str, str]:
    mapping = dict(column_mapping or {})
    unknown = set(mapping) - set(MAPPABLE_FIELDS)
    if unknown:
        raise UserError(f"column_mapping keys {sorted(unknown)} are not among {list(MAPPABLE_FIELDS)}")
    return mapping


def parse_column_mapping(text: str | None, fields: Iterable[str] = MAPPABLE_FIELDS,
                         example: str = "request=question,harmful_response=answer") -> dict[str, str]:
    """Parse a CLI mapping like ``request=question,harmful_response=answer`` (``FIELD=COLUMN``, each FIELD one of
    ``fields``)."""
    if not text:
        return {}
    pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
    if any(len(pair) != 2 or not pair[0].strip() or not pair[1].strip() for pair in pairs):
        raise UserError(f"column mapping {text!r} must look like {example!r} (FIELD=COLUMN)")
    mapping = {key.strip(): value.strip() for key, value in pairs}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise UserError(f"column mapping {text!r}: {', '.join(map(repr, unknown))} is not a field; the fields are "
                        f"{', '.join(fields)} (FIELD=COLUMN, e.g. {example!r})")
    return mapping


def _read_records(source: str | Path, split: str
                  ) -> tuple[str, list[str], Iterator[tuple[int, Mapping[str, Any]]]]:
    """Return (origin for messages, the source's columns, iterator of (1-based row number, record)).

    A JSONL file's columns are every key any of its rows has (its rows may differ); a columnar source's, its own.
    """
    if str(source) == BUNDLED_C2EVAL:
        path = bundled_path()
        return f"{BUNDLED_C2EVAL} ({path.name})", _jsonl_columns(path), _jsonl_rows(path)
    path = Path(source)
    if path.is_dir():  # a saved or Hub-style dataset folder (Parquet/JSON files, optionally a README configs)
        return f"{path} [{split}]", *_columns_and_rows(_load_with_datasets(str(path), None, split=split))
    if path.exists():
        if path.suffix not in LOCAL_FORMATS:
            raise UserError(f"{path}: unsupported file type {path.suffix!r}; use one of {sorted(LOCAL_FORMATS)}")
        if path.suffix == ".jsonl":
            return str(path), _jsonl_columns(path), _jsonl_rows(path)
        _check_local_file(path)
        try:
            records = _load_with_datasets(LOCAL_FORMATS[path.suffix], str(path), split=None)
        except Exception as error:  # datasets wraps the reader's error in pages of DatasetGenerationError
            raise UserError(f"{path}: not readable as {LOCAL_FORMATS[path.suffix]} ({_root_cause(error)})") from None
        return str(path), *_columns_and_rows(records)
    if str(source).endswith(tuple(LOCAL_FORMATS)):
        raise FileNotFoundError(f"{source}: no such file")
    try:
        records = _load_with_datasets(str(source), None, split=split)
    except Exception as error:
        mapped = hub_dataset_error(str(source), error)
        if mapped is None:
            raise
        raise mapped from None
    return f"{source} [{split}]", *_columns_and_rows(records)


LOCAL_INSTEAD = "give a local .jsonl/.parquet/.csv file or dataset folder, or download it where the Hub is reachable"


def hub_dataset_error(dataset_id: str, error: BaseException, instead: str = LOCAL_INSTEAD) -> UserError | None:
    """One line for a Hub dataset id that cannot be had (Hub unreachable or offline and not cached, no such
    dataset, gated), or None for an error of another kind.

    It is the first failure a user without network meets, so it says what works instead (``instead``): a local path.
    """
    import os

    import datasets
    from datasets.exceptions import DatasetNotFoundError

    if isinstance(error, ConnectionError):
        flags = [name for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
                 if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")]
        why = (f"{' and '.join(flags)} {'is' if len(flags) == 1 else 'are'} set" if flags
               else "offline mode is on" if datasets.config.HF_HUB_OFFLINE else "no network")
        return UserError(f"dataset {dataset_id!r} is not a local file or folder, and it could not be reached on the "
                         f"Hugging Face Hub ({why}; it is not in the local cache either): {instead}")
    if isinstance(error, DatasetNotFoundError):
        reason = " ".join(str(error).split()) or "not found on the Hub"
        return UserError(f"dataset {dataset_id!r} is not a local file or folder, and on the Hugging Face Hub: "
                         f"{reason} ({instead})")
    return None


def _check_local_file(path: Path) -> None:
    """Refuse, naming the file, what datasets would turn into a traceback: binary text, no rows."""
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            metadata = pq.ParquetFile(path).metadata
        except Exception as error:  # pyarrow.ArrowInvalid and friends
            raise UserError(f"{path}: not a readable Parquet file ({_root_cause(error)})") from None
        if metadata.num_rows == 0:
            columns = ", ".join(metadata.schema.names)
            raise UserError(f"{path}: the Parquet file has no rows (columns: {columns})")
        return
    if path.suffix in (".csv", ".json"):
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
        _check_text_bytes(path, head, complete=len(head) < 1 << 16)
        if path.suffix == ".csv":
            lines = [line for line in head.decode("utf-8", errors="replace").splitlines() if line.strip()]
            if len(lines) == 1 and len(head) < 1 << 16:
                raise UserError(f"{path}: the CSV file has a header ({lines[0][:200]}) but no rows")
        else:
            check_json_depth(path)


def _check_text_bytes(path: Path, data: bytes, *, complete: bool) -> None:
    """A text file must be UTF-8 without NUL bytes (a binary file read as text is a clear error)."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise UserError(f"{path}: binary content (a NUL byte at byte {nul}), not a UTF-8 text "
                        f"{path.suffix[1:].upper()} file")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        if complete or error.start < len(data) - 4:  # else a character cut at the end of the sample
            raise UserError(f"{path}: not UTF-8 text (byte {error.start} is {data[error.start]:#04x})") from None


def _root_cause(error: BaseException) -> str:
    """``Type: first line`` of the innermost exception in a chain (what went wrong, without the wrappers)."""
    while error.__cause__ is not None or (error.__context__ is not None and not error.__suppress_context__):
        error = error.__cause__ or error.__context__
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _load_with_datasets(name: str, data_file: str | None, split: str | None) -> Iterable[Mapping[str, Any]]:
    import datasets

    if data_file is not None:
        return datasets.load_dataset(name, data_files=data_file, split="train")
    return datasets.load_dataset(name, split=split)


def _columns_and_rows(records) -> tuple[list[str], Iterator[tuple[int, Mapping[str, Any]]]]:
    """A ``datasets.Dataset``'s columns and numbered rows."""
    return list(records.column_names), ((number, record) for number, record in enumerate(records, start=1))


def _jsonl_columns(path: Path) -> list[str]:
    """Every key of a JSONL file's rows, in the order first seen (a whole pass: a schema is checked before rows)."""
    columns: dict[str, None] = {}
    for _, record in _jsonl_rows(path):
        columns.update(dict.fromkeys(record))
    return list(columns)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    _check_text_bytes(path, head, complete=len(head) < 1 << 16)
    try:
        yield from read_jsonl(path)
    except ValueError as error:  # a broken line or byte: the whole file is suspect, so it is an error, not a skip
        raise SourceError(str(error)) from None


def _to_row(record: Mapping[str, Any], row_number: int, mapping: Mapping[str, str]) -> SourceRow:
    def get(name: str) -> Any:
        column = mapping.get(name, name)
        if column not in record or record[column] is None:
            raise SourceError(f"field {column!r} is missing", "missing field")
        return record[column]

    def text(name: str) -> str:
        value = get(name)
        if not isinstance(value, str) or not value.strip():
            raise SourceError(f"field {mapping.get(name, name)!r} is empty or not text", "empty text")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate such as "\ud800" from a JSON escape
            raise SourceError(f"field {mapping.get(name, name)!r} is not valid Unicode text (a lone surrogate "
                              f"{value[error.start]!r} at character {error.start})", "invalid text") from None
        return value

    source_id = str(get("id")) if "id" in mapping else str(row_number - 1)
    request = text("request" if "request" in mapping else "prompt")
    if "harmful_response" in mapping:
        return SourceRow(source_id, request, (text("harmful_response"),), (False,), _extra(record, mapping))
    responses = (text("response_0"), text("response_1"))
    safe = (_as_bool(get("is_response_0_safe"), mapping.get("is_response_0_safe", "is_response_0_safe")),
            _as_bool(get("is_response_1_safe"), mapping.get("is_response_1_safe", "is_response_1_safe")))
    if all(safe):
        raise SourceError("both responses are labelled safe", "no unsafe response")
    return SourceRow(source_id, request, responses, safe, _extra(record, mapping))


def _extra(record: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """The columns of a record that are not the row's request, responses or labels (kept for grouping)."""
    used = {mapping.get(name, name) for name in MAPPABLE_FIELDS}
    return {key: value for key, value in record.items() if key not in used}


def _as_bool(value: Any, column: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:  # CSV sources
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise SourceError(f"field {column!r} is {value!r}, expected true/false", "bad label")
