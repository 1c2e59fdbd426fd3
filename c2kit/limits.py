"""Bounds on the numbers a user gives (command-line flags, training profile keys), checked before any work."""

from __future__ import annotations

# A count, size or seed beyond this is a typo, and beyond what islice, torch and numpy accept: refused by name
# before any work rather than as "Stop argument for islice() must be None or an integer" minutes later.
MAX_INT = 2**31 - 1
