"""The run's main settings as a short table: the "Run settings" section of summary.md (:func:`settings_table`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def settings_table(config: Mapping[str, Any]) -> str:
    """The run's main settings as a short two-column table (unset ones left out; config.json has them all)."""
    rows = [
        ("scored from", _joined(config, ("official_file", "`{}` (official raw results)"),
                                ("judged_file", "`{}` (judged rows)"), ("rejudged_from", "re-judged from `{}`"))),
        ("model", ", ".join(filter(None, [_joined(config, ("model", "`{}`"), ("adapter", "+ adapter `{}`"), sep=" "),
                                          _joined(config, ("revision", "revision {}"), ("load_in_4bit", "4-bit"),
                                                  ("dtype", "dtype {}"))]))),
        ("data", _joined(config, ("data", "`{}`"), ("split", "split {}"), ("limit", "first {} rows"),
                         ("column_mapping", "columns {}"))),
        ("prefixes", _joined(config, ("ks", "k = {}"), ("mode", "in {}"), ("paths", "{} paths per (item, k)"),
                             # tokens mode prefills no opener, whatever opener_per holds
                             *([] if config.get("mode") == "tokens" else [("opener_per", "opener per {}")]))),
        ("sampling", _joined(config, ("temperature", "temperature {}"), ("top_p", "top_p {}"), ("top_k", "top_k {}"),
                             ("repetition_penalty", "repetition_penalty {}"),
                             ("reset_logit_bias", "reset logit bias {}"), ("max_new_tokens", "{} new tokens"),
                             ("use_generation_config", "the model's generation_config"), ("seed", "seed {}"))),
        ("judge", _joined(config, ("judge", "`{}`")) + _judge_version(config)),
        ("engine", _joined(config, ("engine", "{}"), ("served_model", "serving `{}`"))),
        ("preset", _joined(config, ("preset", "{}"))),
        ("also measured", _joined(config, ("overcorrection", "over-correction"), ("benign_data", "on `{}`"),
                                  ("group_by", "groups by {}"))),
    ]
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows if value]
    return "\n".join(lines)


def _joined(config: Mapping[str, Any], *parts: tuple[str, str], sep: str = ", ") -> str:
    # Each part's template filled with the setting's value, for the settings that are set (a flag: when true;
    # dtype "auto" and a repetition penalty of 1 are the defaults and say nothing).
    shown = []
    for key, template in parts:
        value = config.get(key)
        unset = value is None or value is False or (isinstance(value, (str, list, Mapping)) and not value)
        if unset or (key, value) in (("dtype", "auto"), ("repetition_penalty", 1.0), ("reset_logit_bias", 0.0)):
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else (
            json.dumps(value, ensure_ascii=False) if isinstance(value, Mapping) else str(value))
        shown.append(template.format(text if len(text) <= 100 else f"{text[:97]}...").replace("|", "\\|"))
    return sep.join(shown)


def _judge_version(config: Mapping[str, Any]) -> str:
    name = (config.get("judge_info") or {}).get("name")
    return f" ({name})" if name and name != config.get("judge") else ""
