"""The exception a command raises for what its user can fix: bad input, a wrong setting, a file in the way.

``c2`` prints a :class:`UserError` as one line (exit 2). Any other exception is a bug in c2-toolkit: the command
says so in one line, with where the full traceback was written (see ``c2kit.cli.bug_report``). It subclasses
ValueError so that callers which catch ValueError keep working.
"""

from __future__ import annotations


class UserError(ValueError):
    """A problem in the user's input or settings, said in one line that names the file, row or field."""
