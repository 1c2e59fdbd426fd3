"""Per-group breakdowns: Corr@k and Corr_mean per harm category (or any other column of the source).

An item's group values come from one column of its source row (``--group-by FIELD``):

* ``FIELD`` itself when the row has that column, else ``response_{h}_FIELD`` where ``h`` is the index of the
  item's harmful response (0 or 1, the C2-Eval rule). So ``harm_category`` reads PKU-SafeRLHF's newer
  ``response_0_harm_category`` / ``response_1_harm_category`` of the response that was prefilled, and
  ``severity_level`` its ``response_h_severity_level``; ``prompt_source`` is read as is.
* A text, number or bool is one value; a list gives one value per entry; a dict of flags (PKU's harm
  categories: ``{"Violence": true, "Privacy Violation": false, ...}``) gives the keys that are true. An item
  can thus belong to several groups (categories overlap): each group is scored as its own benchmark over its
  items, so group figures do not add up to the overall one. An item with no value (a missing column, no
  category flagged) goes to ``(none)``, so every item is counted somewhere.

Without ``--group-by``, a source whose rows carry ``response_*_harm_category`` is broken down by
``harm_category``. The figures (:func:`c2_eval_metric.corr.compute_corr_by_group`) go into ``scores.json`` as
``by_group = {"field": FIELD, "groups": {value: {corr_at_k, corr_mean, ci95, n_items, paths}}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .corr import MEAN_KEY, compute_corr_by_group, format_interval, format_percent
from c2kit.errors import UserError

DEFAULT_GROUP_FIELD = "harm_category"
NO_VALUE = "(none)"


def harmful_index(row) -> int:
    """Index of the item's harmful response (the first unsafe one, as ``SourceRow.harmful_response``)."""
    return next((index for index, safe in enumerate(row.safe) if not safe), 0)


def group_values(row, field: str) -> list[str]:
    """The group values of one source row for ``field`` (see the module docstring)."""
    extra: Mapping[str, Any] = getattr(row, "extra", {}) or {}
    if field in extra:
        value = extra[field]
    else:
        value = extra.get(f"response_{harmful_index(row)}_{field}")
    return _values(value) or [NO_VALUE]


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return sorted(str(key) for key, flag in value.items() if flag is True or flag in (1, "true", "True"))
    if isinstance(value, (list, tuple)):
        return sorted({str(entry) for entry in value if entry is not None and str(entry).strip()})
    text = str(value).strip()
    return [text] if text else []


def has_field(rows: Sequence, field: str) -> bool:
    """Whether any row carries ``field`` (itself or as ``response_h_field``)."""
    return any(field in (getattr(row, "extra", {}) or {})
               or f"response_{harmful_index(row)}_{field}" in (getattr(row, "extra", {}) or {}) for row in rows)


def default_group_field(rows: Sequence) -> str | None:
    """``harm_category`` when the source carries PKU-SafeRLHF's harm categories, else None."""
    return DEFAULT_GROUP_FIELD if has_field(rows, DEFAULT_GROUP_FIELD) else None


def item_groups(rows: Sequence, field: str) -> dict[str, list[str]]:
    """``{item_id: [values]}`` for source rows; an unknown field is an error naming the columns there are."""
    if not has_field(rows, field):
        columns = sorted({key for row in rows for key in (getattr(row, "extra", {}) or {})})
        raise UserError(f"--group-by {field!r}: no row has a column {field!r} (nor 'response_0_{field}'/"
                        f"'response_1_{field}'); columns beyond request and responses: {columns or 'none'}")
    return {row.source_id: group_values(row, field) for row in rows}


def run_groups(config: Mapping[str, Any]) -> tuple[dict[str, list[str]] | None, str | None]:
    """A results directory's ``(groups, field)`` from its ``config.json``: its --group-by, else harm categories
    where its data has them; ``(None, None)`` when it has neither or the data cannot be read again here (e.g. a
    Hub dataset offline). What re-judging and ``c2 view`` group a finished run's items by."""
    if "data" not in config:
        return None, None
    from c2kit.sources import load_source, parse_column_mapping

    mapping = config.get("column_mapping")
    try:
        rows = load_source(config["data"], split=config.get("split") or "train",
                           column_mapping=parse_column_mapping(mapping) if isinstance(mapping, str) else mapping,
                           limit=config.get("limit")).rows
    except Exception:  # the groups are an extra; re-judging or a report must not fail because the data moved
        return None, None
    field_name = config.get("group_by") or default_group_field(rows)
    return (item_groups(rows, field_name), field_name) if field_name else (None, None)


def scores_by_group(judgments: Sequence[Mapping[str, Any]], groups: Mapping[str, Sequence[str]], field: str,
                    *, judge: str) -> dict[str, Any]:
    """The ``by_group`` block of scores.json from judgment rows and ``{item_id: [values]}``."""
    rows = [(row["item_id"], row["k"], row["corrected"]) for row in judgments]
    return {"field": field, "groups": compute_corr_by_group(rows, groups, judge=judge)}


def by_group_markdown(block: Mapping[str, Any]) -> str:
    """A summary section: one row per group with its items, Corr_mean and Corr@k (percent, 95% CI)."""
    return "\n".join([f"## By {block['field']}", "",
                      "Each group of items scored on its own (an item can be in several groups, so groups do not "
                      "add up to the whole); Corr in %, 95% item-bootstrap interval in brackets.", "",
                      by_group_table(block)])


def by_group_console(block: Mapping[str, Any]) -> str:
    """What the console shows under the Corr@k table: one line of context and a table with an interval only on
    Corr_mean (the summary has one on every cell)."""
    return (f"By {block['field']} (each group scored on its own; an item can be in several; Corr in %, "
            f"95% CI on Corr_mean):\n\n{by_group_table(block, intervals_per_k=False)}")


def by_group_table(block: Mapping[str, Any], *, intervals_per_k: bool = True) -> str:
    """One row per group: items, Corr_mean [95% CI] and Corr@k per k (with its interval if ``intervals_per_k``)."""
    groups = block["groups"]
    ks = sorted({int(k) for figures in groups.values() for k in figures["corr_at_k"]})
    lines = ["| group | items | Corr_mean | " + " | ".join(f"Corr@{k}" for k in ks) + " |",
             "|---|---:|:---:|" + ":---:|" * len(ks)]
    for value, figures in groups.items():
        cells = [_value(figures, str(k), intervals_per_k) if str(k) in figures["corr_at_k"] else "–" for k in ks]
        lines.append(f"| {value} | {figures['n_items']} | {_value(figures, MEAN_KEY, True)} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _value(figures: Mapping[str, Any], key: str, interval: bool) -> str:
    value = figures["corr_mean"] if key == MEAN_KEY else figures["corr_at_k"][key]
    return f"{format_percent(value)} {format_interval(figures['ci95'][key])}" if interval else format_percent(value)
