"""Backtracking (Zhang et al., ICLR 2025, "Backtracking Improves Generation Safety"): the reset token.

A model trained to backtrack emits :data:`RESET_TOKEN` when it sees that its answer has gone wrong: everything it
wrote before the token is discarded, and what it writes after it is what the user sees. Training adds the token to
the tokenizer (``c2 train --objective backtrack``); C2-Eval reads a continuation that holds it as corrected at the
token.
"""

from __future__ import annotations

RESET_TOKEN = "[RESET]"
