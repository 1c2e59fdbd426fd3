"""The ``c2`` argument parser: one flag convention for every command.

* Flags may be written with hyphens or underscores (``--max-new-tokens`` or ``--max_new_tokens``): each parser
  respells a flag it does not know into the spelling it registered, before argparse sees it.
* An unknown flag or command is one line with the closest valid one (``did you mean --max-new-tokens?``), not
  argparse's ``unrecognized arguments``; abbreviations are off, so ``--output`` never silently means something.
  A flag of a neighbouring tool (:data:`NEIGHBOUR_FLAGS`, e.g. lm-evaluation-harness's ``--output_path``) points
  to ours wherever the command has it.
* Booleans are bare flags with a ``--no-`` form (:class:`argparse.BooleanOptionalAction`).
* A renamed flag keeps its old names as aliases (:func:`add_aliased`): they still work, and help lists them as
  ``(alias: --old)`` beside the one name shown.
* A mistake is one line, ``c2 eval run: error: ...``, exit 2 (argparse's usage dump would bury it).

Every parser built by :func:`c2kit.cli.build_parser`, its subcommands' included, is a :class:`C2ArgumentParser`
(argparse makes subparsers of the parent's class), so a new command follows the convention without doing
anything.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import textwrap
from collections.abc import Iterable, Sequence

from c2kit.training.config import FALSE_WORDS, TRUE_WORDS

SPELLING_NOTE = "Flags may be written with - or _ (--max-new-tokens or --max_new_tokens)."
# Flags researchers type from neighbouring tools (lm-evaluation-harness, transformers and TRL scripts), by their
# spelling-free key (flag_key), and the flag of ours that does the job; the hint names ours where a command has it.
NEIGHBOUR_FLAGS = {"output-path": "--out", "output-dir": "--out", "model-args": "--model", "dataset-name": "--data",
                   "batch-size": "--batch-tokens"}


def flag_key(option: str) -> str:
    """The spelling-free form of a long flag: ``--max_new_tokens`` and ``--max-new-tokens`` -> ``max-new-tokens``."""
    return option.lstrip("-").replace("_", "-")


def aliases_of(action: argparse.Action) -> tuple[str, ...]:
    """The old names of a flag added with :func:`add_aliased` (empty for any other flag)."""
    return getattr(action, "c2_aliases", ())


def shown_options(action: argparse.Action) -> list[str]:
    """The option strings help shows: all but the aliases (and the ``--no-`` forms of aliases)."""
    hidden = {flag_key(alias) for alias in aliases_of(action)}
    hidden |= {"no-" + key for key in hidden}
    return [option for option in action.option_strings if flag_key(option) not in hidden]


def add_aliased(container, name: str, *aliases: str, **kwargs) -> argparse.Action:
    """``container.add_argument(name, *aliases, **kwargs)`` with ``aliases`` marked as old names of ``name``."""
    action = container.add_argument(name, *aliases, **kwargs)
    action.c2_aliases = aliases
    return action


class C2HelpFormatter(argparse.HelpFormatter):
    """Shows a flag under its one name, its aliases at the end of its help: ``(alias: --output_dir)``; never
    breaks a line inside a flag's name."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = shown_options(action)
        if isinstance(action, BoolKeyAction):  # --key [BOOL], --no_key
            return ", ".join(f"{option} [{action.metavar}]" if option not in action.negatives else option
                             for option in shown)
        if shown == action.option_strings:
            return super()._format_action_invocation(action)
        return super()._format_action_invocation(
            argparse.Action(shown, action.dest, nargs=action.nargs, metavar=action.metavar))

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = super()._get_help_string(action) or ""
        aliases = aliases_of(action)
        if aliases:
            text += f" (alias{'es' if len(aliases) > 1 else ''}: {', '.join(aliases)})"
        return text


class BoolKeyAction(argparse.BooleanOptionalAction):
    """A boolean config key: ``--key`` / ``--no-key``, and ``--key true|false`` as the key's YAML value would be.

    Used where a flag mirrors a YAML key (``c2 train``), whose values users already write out; the value is
    optional, so the bare flag works as everywhere else.
    """

    def __init__(self, option_strings, dest, default=None, required=False, help=None):
        super().__init__(option_strings, dest, default=default, required=required, help=help)
        # The --no- form in the key's own style: --no_load_in_4bit beside --load_in_4bit (either is accepted).
        self.option_strings = [f"--no_{option[5:]}" if option.startswith("--no-") and "_" in option else option
                               for option in self.option_strings]
        self.negatives = [option for option in self.option_strings if flag_key(option).startswith("no-")]
        self.nargs = "?"
        self.metavar = "BOOL"

    def __call__(self, parser, namespace, values, option_string=None):
        negative = option_string in self.negatives
        if values is None:
            setattr(namespace, self.dest, not negative)
            return
        word = values.strip().lower()
        if negative:
            raise argparse.ArgumentError(self, f"{option_string} takes no value, got {values!r}")
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise argparse.ArgumentError(self, f"expected no value or one of {'/'.join(TRUE_WORDS + FALSE_WORDS)}, "
                                         f"got {values!r}")
        setattr(namespace, self.dest, word in TRUE_WORDS)

    def format_usage(self) -> str:
        return self.option_strings[0]


class C2ArgumentParser(argparse.ArgumentParser):
    """argparse with the ``c2`` flag convention (module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --output must not silently mean --output-dir
        kwargs.setdefault("formatter_class", C2HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None, namespace=None):
        args = self.respell(sys.argv[1:] if args is None else list(args))
        if self._subparsers is None:  # a command's own flags: a misspelt one is named before a missing one
            before_separator = args[:args.index("--")] if "--" in args else args
            unknown = [arg for arg in before_separator
                       if arg.startswith("--") and arg.split("=", 1)[0] not in self._option_string_actions]
            if unknown:
                self.error(unknown_arguments_message(unknown, self._long_options(), self.prog))
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(unknown_arguments_message(extras, self._long_options(), self.prog))
        return namespace, extras

    def respell(self, args: list[str]) -> list[str]:
        """``--max_new_tokens 8`` -> ``--max-new-tokens 8`` where this parser registered the hyphenated one."""
        by_key = {flag_key(option): option for option in self._long_options()}
        respelt = []
        for index, arg in enumerate(args):
            if arg == "--":
                return respelt + args[index:]
            flag, sep, value = arg.partition("=")
            if flag.startswith("--") and flag not in self._option_string_actions and flag_key(flag) in by_key:
                arg = by_key[flag_key(flag)] + sep + value
            respelt.append(arg)
        return respelt

    def _long_options(self) -> list[str]:
        return [option for option in self._option_string_actions if option.startswith("--")]

    def _check_value(self, action: argparse.Action, value) -> None:
        """argparse's 'invalid choice' (of a command or a flag's value), with the closest choice suggested."""
        if action.choices is None or value in action.choices:
            return
        choices = [str(choice) for choice in action.choices]
        hint = did_you_mean(str(value), choices, prefix=True)
        listed = ", ".join(choices)
        raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint}; choose from {listed}")

    def error(self, message: str):
        """One line, ``PROG: error: MESSAGE``, exit 2: the usage is one ``--help`` away."""
        for action in self._actions:  # argparse names a flag by all its strings: '--model/--generator'
            if aliases_of(action):
                message = message.replace("/".join(action.option_strings), "/".join(shown_options(action)))
        pointer = "" if "--help" in message else f" (see '{self.prog} --help')"
        self.exit(2, f"{self.prog}: error: {message}{pointer}\n")


def did_you_mean(word: str, choices: Iterable[str], *, prefix: bool = False) -> str:
    """`` (did you mean 'tiny-model'?)`` for the only choice ``word`` begins (with ``prefix``), else the closest
    one (spelt with - or _ alike), else ''."""
    choices = list(choices)
    keys = {flag_key(choice): choice for choice in choices}
    starting = [key for key in keys if key.startswith(flag_key(word))] if prefix and word else []
    close = starting if len(starting) == 1 else difflib.get_close_matches(flag_key(word), list(keys), n=1, cutoff=0.6)
    return f" (did you mean {keys[close[0]]!r}?)" if close else ""


def unknown_arguments_message(extras: list[str], options: Iterable[str], prog: str) -> str:
    """``unknown option --max_new_token (did you mean --max-new-tokens?)``, one clause per unknown flag."""
    flags = [word for word in extras if word.startswith("-")]
    if not flags:
        return f"unexpected argument{'s' if len(extras) > 1 else ''} {' '.join(extras)}"
    options = list(options)
    described = []
    for flag in flags:
        name = flag.split("=", 1)[0]
        ours = NEIGHBOUR_FLAGS.get(flag_key(name))
        hint = f" (did you mean {ours}?)" if ours in options else did_you_mean(name, options)
        described.append(flag + hint.replace("'", ""))
    plural = "s" if len(described) > 1 else ""
    return f"unknown option{plural} {', '.join(described)}; '{prog} --help' lists the options"
