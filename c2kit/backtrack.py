"""Backtracking (Zhang et al., ICLR 2025, "Backtracking Improves Generation Safety"): the reset token.

A model trained to backtrack emits :data:`RESET_TOKEN` when it sees that its answer has gone wrong: everything it
wrote before the token is discarded, and what it writes after it is what the user sees. Training adds the token to
the tokenizer (``c2 train --objective backtrack``); C2-Eval reads a continuation that holds it as corrected at the
token.

What C2-Eval needs of it lives here, in one place: where a text resets (:func:`reset_start`), what the user sees of
it (:func:`visible_text`), the field that keeps that in a run's rows (:data:`VISIBLE_FIELD`, :func:`with_visible`),
the token's id where a tokenizer would drop it on decoding (:func:`special_reset_id`) and the token's id for a logit
bias on it (:func:`reset_token_id`; the paper tunes one at inference so that the model backtracks on about 1% of
safe requests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from c2kit.errors import UserError

RESET_TOKEN = "[RESET]"
# The range of a logit bias, as the OpenAI API (and vLLM's server) takes it, so that every engine takes the same.
LOGIT_BIAS_RANGE = (-100.0, 100.0)
# The generations.jsonl field that holds what the user sees of a continuation that resets (rows without a reset
# have no such field, so runs of models that do not backtrack are written as before).
VISIBLE_FIELD = "visible_continuation"


def reset_start(text: str) -> int | None:
    """Offset of the first reset in ``text``, where the model gave up its answer (None when it never resets)."""
    found = text.find(RESET_TOKEN)
    return None if found < 0 else found


def last_reset_start(text: str) -> int | None:
    """Offset of the last reset in ``text``: everything before it is discarded (None when it never resets)."""
    found = text.rfind(RESET_TOKEN)
    return None if found < 0 else found


def visible_text(text: str) -> str:
    """What the user sees of ``text``: the text after its last reset (each reset discards all before it), or the
    whole text when it never resets."""
    last = last_reset_start(text)
    return text if last is None else text[last + len(RESET_TOKEN):]


def with_visible(row: Mapping[str, Any], text_field: str = "continuation") -> dict[str, Any]:
    """``row`` with :data:`VISIBLE_FIELD` added when its ``text_field`` resets (else the row as it was)."""
    text = row[text_field]
    if not isinstance(text, str) or reset_start(text) is None:
        return dict(row)
    return {**row, VISIBLE_FIELD: visible_text(text)}


def special_reset_id(tokenizer: Any) -> int | None:
    """The reset token's id where ``tokenizer`` holds it as a *special* added token (which decoding with
    ``skip_special_tokens=True`` would drop), else None (no such token, or a normal one that decoding keeps)."""
    for token_id, token in getattr(tokenizer, "added_tokens_decoder", {}).items():
        if getattr(token, "content", str(token)) == RESET_TOKEN and getattr(token, "special", False):
            return int(token_id)
    return None


def special_ids_but_reset(tokenizer: Any, reset_id: int) -> set[int]:
    """The ids that decoding with ``skip_special_tokens=True`` drops, except the reset's."""
    special = {int(i) for i, token in getattr(tokenizer, "added_tokens_decoder", {}).items()
               if getattr(token, "special", False)}
    return (special | set(getattr(tokenizer, "all_special_ids", ()))) - {reset_id}


def reset_token_id(tokenizer: Any) -> int:
    """The reset token's id in ``tokenizer``; a one-line error where the vocabulary does not hold it (the model was
    not trained to backtrack), since a bias on it would then bias nothing."""
    vocabulary = tokenizer.get_vocab()
    if RESET_TOKEN not in vocabulary:
        raise UserError(f"--reset-logit-bias: the model's tokenizer has no {RESET_TOKEN} token; the bias is for "
                        "models trained to backtrack (c2 train --objective backtrack)")
    return int(vocabulary[RESET_TOKEN])


def check_logit_bias(bias: float) -> None:
    """A one-line error unless ``bias`` is a finite number in :data:`LOGIT_BIAS_RANGE`."""
    low, high = LOGIT_BIAS_RANGE
    if not (isinstance(bias, (int, float)) and low <= bias <= high):  # NaN fails both comparisons
        raise UserError(f"reset_logit_bias must be a number from {low:g} to {high:g} (the range of the OpenAI "
                        f"API's logit_bias), got {bias!r}")
