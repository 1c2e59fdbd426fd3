"""Card rendering and validation shared by the publishers.

Templates are the Jinja files of the project's ``hub_cards/`` folder, reached through the ``hub_cards`` link
inside this package so they ship as package data. They are rendered with ``huggingface_hub``'s
``*Card.from_template`` (the YAML header comes from a ``*CardData`` object) and every rendered card is parsed
back with the same classes, so a card whose metadata the Hub's parser rejects is never uploaded.

Text that several cards share (content warning, judge caveat, licence, citation) is defined once and passed
to the templates.
"""

from __future__ import annotations

import json
from typing import Any

from c2_eval_metric.corr import MEAN_KEY, format_percent

# Shared with the C2-Syn builder's card, which defines them: c2kit.publish imports c2_syn_dataset, never the reverse.
from c2_syn_dataset.card import CITATION, SOURCE_DATASET, template_path
from c2kit.errors import UserError
from c2kit.judges.caveats import KEYWORD_GAMING_CAVEAT

METRIC_TEMPLATE = "c2_eval_metric_card.md"
ADAPTER_TEMPLATE = "adapter_model_card.md"
RESULTS_TEMPLATE = "results_dataset_card.md"

PAPER_URL = "https://arxiv.org/abs/2407.16637"

CONTENT_WARNING = (
    "**Content warning.** This repository contains harmful requests and harmful text (violence, crime, "
    "harassment, self-harm and more), kept on purpose to measure and teach *course-correction*: steering "
    "away from such content. Do not use it to produce harmful output."
)

LICENCE_NOTE = (
    "Licence: **CC BY-NC 4.0** (https://creativecommons.org/licenses/by-nc/4.0/), inherited from "
    f"[{SOURCE_DATASET}](https://huggingface.co/datasets/{SOURCE_DATASET}), whose requests and responses this "
    "data is derived from. Non-commercial use only; derived data carries the same licence."
)

JUDGE_CAVEAT = KEYWORD_GAMING_CAVEAT

GATED_PROMPT = (
    "This dataset contains harmful requests and harmful text, published to measure and improve the "
    "course-correction of language models. It is licensed CC BY-NC 4.0 (non-commercial). By requesting "
    "access you agree to use it only for research on AI safety and not to use it to produce harmful content."
)
GATED_FIELDS = {
    "I will use this data only for non-commercial AI-safety research": "checkbox",
    "I will not use this data to produce or spread harmful content": "checkbox",
}


# Shown at the top of every card of a smoke run (c2kit's tiny random-weight model), and tagged, so nobody
# takes its numbers or outputs for a measurement of a real model.
SMOKE_TAG = "smoke-test"
SMOKE_NOTICE = (
    "**Smoke run: these numbers mean nothing.** This was made with c2-toolkit's tiny random-weight model "
    "(a smoke model: random weights, the numbers mean nothing). It only shows that the pipeline runs; do not "
    "cite or use it as a measurement of course-correction."
)


def is_smoke_config(config: Any) -> bool:
    """Whether a C2-Eval ``config.json`` records a smoke model (``smoke_model`` or ``model_identity.is_tiny``)."""
    if not isinstance(config, dict):
        return False
    identity = config.get("model_identity")
    return config.get("smoke_model") is True or (isinstance(identity, dict) and identity.get("is_tiny") is True)


def shared_text() -> dict[str, str]:
    """Template variables every card can use."""
    return {
        "citation": CITATION,
        "content_warning": CONTENT_WARNING,
        "licence_note": LICENCE_NOTE,
        "judge_caveat": JUDGE_CAVEAT,
        "paper_url": PAPER_URL,
        "source_dataset": SOURCE_DATASET,
    }


def render_card(card_class, card_data, template: str, **variables: Any):
    """Render ``template`` with ``card_data`` as the YAML header and validate the result by parsing it back."""
    card = card_class.from_template(card_data, template_path=str(template_path(template)), **shared_text(), **variables)
    return parse_card(card_class, str(card), source=template)


def parse_card(card_class, content: str, *, source: str = "README.md"):
    """Parse a card with ``huggingface_hub``'s parser (YAML, and for model cards the ``model-index``).

    Raises ``ValueError`` naming ``source`` when the metadata is missing or does not parse.
    """
    if not content.startswith("---"):
        raise UserError(f"{source}: the card has no YAML metadata block")
    try:
        card = card_class(content)
    except Exception as error:  # yaml.YAMLError, ValueError from model-index parsing, ...
        raise UserError(f"{source}: card metadata does not parse with huggingface_hub: {error}") from error
    if not card.data.to_dict():
        raise UserError(f"{source}: the card's YAML metadata is empty")
    return card


def json_block(data: Any) -> str:
    """Pretty JSON for a card's code block (stable key order, so previews and uploads are identical)."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` -> ``[("a.b", 1)]``: nested settings or statistics as rows of a table."""
    if isinstance(data, dict):
        rows: list[tuple[str, Any]] = []
        for key in data:
            rows += flatten(data[key], f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(data, list) and data and all(not isinstance(item, (dict, list)) for item in data):
        return [(prefix, ", ".join(str(item) for item in data))]
    return [(prefix, data)]


def format_fraction(value: float) -> str:
    return f"{value:.3f}"


def format_points(change: float) -> str:
    """A change of a fraction in percentage points, on the scale of :func:`format_percent` (``+33.3``)."""
    return f"{100 * change:+.1f}"


def one_line(text: Any) -> str:
    """A value read from a file, as one line of Markdown (its line breaks would end a list item)."""
    return " ".join(str(text).split())


def table_cell(value: Any, limit: int = 120) -> str:
    """A value made safe for one Markdown table cell: one line, pipes escaped, long text shortened."""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def score_rows(scores) -> list[dict[str, Any]]:
    """Rows (k, value, low, high) of a ``CorrScores`` for a card table, Corr_mean last.

    In percent with one decimal, as the CLI's tables and ``summary.md`` show them (``scores.json`` and the
    model-index metadata keep fractions).
    """
    rows = [
        {"k": k, "value": format_percent(value), "low": format_percent(scores.ci95[str(k)][0]),
         "high": format_percent(scores.ci95[str(k)][1])}
        for k, value in sorted(scores.corr_at_k.items())
    ]
    low, high = scores.ci95[MEAN_KEY]
    rows.append({"k": "**mean**", "value": f"**{format_percent(scores.corr_mean)}**",
                 "low": format_percent(low), "high": format_percent(high)})
    return rows

