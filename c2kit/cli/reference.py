"""The table of every ``c2`` command and its flags in docs/cli.md, generated from the parser itself.

``python -m c2kit.cli.reference`` rewrites the table in docs/cli.md (between its two markers); a test checks
that the file matches the parser, so a flag added or renamed without updating the docs fails CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from c2kit.cli.parser import BoolKeyAction, aliases_of, flag_key, shown_options
from c2kit.errors import UserError

START = "<!-- flag-table:start (python -m c2kit.cli.reference) -->"
END = "<!-- flag-table:end -->"
DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """``[("eval run", parser), ...]``: every leaf command (one that has no subcommands), in help order."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if sub.prog.endswith(" " + name):  # skip the alias entries argparse also puts in choices
                    found += commands(sub, f"{prefix}{name} ")
    return found or [(prefix.strip(), parser)]


def _label(action: argparse.Action) -> str:
    """How the table names an argument: ``--out``, ``--[no-]overwrite``, ``--load_in_4bit [BOOL]``, ``RUN``."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest.upper()}` (positional)"
    shown = shown_options(action)
    if isinstance(action, BoolKeyAction):
        return f"`{shown[0]}` / `{shown[1]}` (or `{shown[0]} true\\|false`)"
    if isinstance(action, argparse.BooleanOptionalAction):
        return f"`{shown[0]}` / `{shown[1]}`"
    return f"`{shown[0]}`"


def flag_table(parser: argparse.ArgumentParser) -> str:
    """A Markdown table: one row per flag, one column per command (✓ where the command takes it).

    A flag is one row whichever way a command spells it (``--load-in-4bit`` and the ``load_in_4bit`` key).
    """
    leaves = commands(parser)
    rows: dict[str, dict] = {}  # flag -> {"label", "commands", "aliases": {alias: [command, ...]}, "order"}
    for name, sub in leaves:
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            key = flag_key(shown_options(action)[0]) if action.option_strings else f"{name}:{action.dest}"
            row = rows.setdefault(key, {"label": _label(action), "commands": set(), "aliases": {}, "order": len(rows)})
            row["commands"].add(name)
            for alias in aliases_of(action):
                row["aliases"].setdefault(alias, []).append(name)
    ordered = sorted(rows.items(), key=lambda item: (-len(item[1]["commands"]), item[1]["order"]))
    header = ["flag", "old names (aliases)"] + [name for name, _ in leaves]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in ordered:
        aliases = ", ".join(f"`{alias}` ({', '.join(names)})" for alias, names in row["aliases"].items())
        marks = ["✓" if name in row["commands"] else "" for name, _ in leaves]
        lines.append("| " + " | ".join([row["label"], aliases] + marks) + " |")
    return "\n".join(lines)


def render(text: str, table: str) -> str:
    """``text`` (docs/cli.md) with the part between the markers replaced by ``table``."""
    if START not in text or END not in text:
        raise UserError(f"{DOC}: the markers {START!r} and {END!r} are missing")
    head, rest = text.split(START, 1)
    return f"{head}{START}\n{table}\n{END}{rest.split(END, 1)[1]}"


def main() -> int:
    from c2kit.cli import build_parser

    DOC.write_text(render(DOC.read_text(encoding="utf-8"), flag_table(build_parser())), encoding="utf-8")
    print(f"flag table written to {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
