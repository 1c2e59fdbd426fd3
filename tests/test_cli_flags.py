"""One flag convention for every ``c2`` command: - or _, one name for output/model/data (old names as aliases),
booleans with --no- forms, "did you mean" for flags and commands, and docs/cli.md generated from the parser."""

from __future__ import annotations

import argparse

import pytest

from c2kit.cli import build_parser, main
from c2kit.cli.parser import aliases_of, flag_key
from c2kit.cli.reference import DOC, END, START, commands, flag_table
from c2kit.cli.train_cmd import overrides_from_args

OLD_NAMES = {"--output_dir", "--output-dir", "--model_name_or_path", "--generator", "--source", "--dataset",
             "--preview-dir"}


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def error_of(argv: list[str], capsys) -> str:
    """The one line ``c2`` prints for a mistake in ``argv`` (exit status 2)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines  # no usage dump, no traceback
    return lines[0]


@pytest.mark.parametrize("spelling", ["--max-new-tokens", "--max_new_tokens"])
def test_hyphens_and_underscores_in_every_command(spelling):
    assert parse("eval", "run", "--model", "gpt2", "--out", "o", spelling, "8").max_new_tokens == 8
    assert parse("syn", "build", "--data", "c2eval-500", "--model", "gpt2", "--out", "o",
                 spelling + "=9").max_new_tokens == 9
    publish = parse("publish", "dataset", "d", "--repo_id", "org/x", "--dry_run", "--preview_dir", "p")
    assert (publish.repo_id, publish.dry_run, publish.out) == ("org/x", True, "p")
    judge = parse("judge", "validate", "--judge", "keyword", "--accept_unparsed")
    assert judge.accept_unparsed is True
    train = parse("train", "--config", "p.yaml", "--learning-rate", "1e-4", "--max_steps", "5", "--no_progress")
    assert overrides_from_args(train) == {"learning_rate": "1e-4", "max_steps": "5"} and train.progress is False


def test_values_after_a_double_dash_are_not_respelt():
    args = parse("eval", "compare", "--out", "o", "--", "--runs_a")
    assert args.dirs == ["--runs_a"]


@pytest.mark.parametrize(("argv", "hint"), [
    (["eval", "run", "--model", "m", "--out", "o", "--max_new_token", "8"],
     "--max_new_token (did you mean --max-new-tokens?)"),
    (["syn", "build", "--data", "d", "--model", "m", "--out", "o", "--chunksize", "2"], "(did you mean --chunk-size?)"),
    (["publish", "metric", "--repo-id", "o/x", "--dryrun"], "--dryrun (did you mean --dry-run?)"),
    (["train", "--config", "p.yaml", "--learning-rat", "1"], "--learning-rat (did you mean --learning_rate?)"),
    (["eval", "run", "--max_new_token", "8"], "--max_new_token (did you mean --max-new-tokens?)"),  # before --model
    (["syn", "build", "--chunksize=2"], "--chunksize=2 (did you mean --chunk-size?)"),  # before a missing --data
])
def test_an_unknown_flag_names_the_closest_one(capsys, argv, hint):
    line = error_of(argv, capsys)
    assert hint in line and "unrecognized arguments" not in line, line
    assert line.startswith(f"c2 {' '.join(word for word in argv[:2] if not word.startswith('-'))}: error: unknown option")


NEIGHBOURS = {"--output_path": "--out", "--output-dir": "--out", "--model_args": "--model", "--dataset_name": "--data",
              "--batch_size": "--batch-tokens"}


def test_flags_of_neighbouring_tools_point_to_ours_in_every_command_that_has_them(capsys):
    """lm-eval's --output_path or transformers' --output-dir name --out, and so on, wherever the command has it."""
    checked = 0
    for name, parser in commands(build_parser()):
        options = {option for action in parser._actions for option in action.option_strings}
        for theirs, ours in NEIGHBOURS.items():
            if flag_key(theirs) in map(flag_key, options) or ours not in options:  # an alias there, or no flag of ours
                continue
            for spelling in (theirs, theirs.replace("_", "-") + "=x"):
                line = error_of([*name.split(), spelling, "x"], capsys)
                assert f"unknown option {spelling} (did you mean {ours}?)" in line, (name, line)
                checked += 1
    assert checked >= 40  # --out in every command; --model, --data, --batch-tokens in the generating ones
    # A command without the flag of ours gets no such hint (train has no --batch-tokens).
    assert error_of(["train", "--config", "p.yaml", "--batch_size", "8"], capsys) == (
        "c2 train: error: unknown option --batch_size; 'c2 train --help' lists the options")


@pytest.mark.parametrize(("argv", "hint"), [
    (["tiny"], "invalid choice: 'tiny' (did you mean 'tiny-model'?)"),
    (["tiny_model", "--out", "o"], "(did you mean 'tiny-model'?)"),
    (["eval", "rn"], "invalid choice: 'rn' (did you mean 'run'?)"),
    (["publish", "adaptor", "d"], "(did you mean 'adapter'?)"),
    (["eval", "run", "--model", "m", "--out", "o", "--mode", "word"],
     "invalid choice: 'word' (did you mean 'words'?)"),
])
def test_an_unknown_command_or_choice_names_the_closest_one(capsys, argv, hint):
    assert hint in error_of(argv, capsys)


def test_no_abbreviations():
    with pytest.raises(SystemExit):  # would be --max-new-tokens with argparse's default allow_abbrev
        parse("eval", "run", "--model", "m", "--out", "o", "--max-new", "8")


def test_booleans_are_bare_flags_with_no_forms():
    run = ["eval", "run", "--model", "m", "--out", "o"]
    assert parse(*run).load_in_4bit is None  # not given: --preset decides
    assert parse(*run, "--load-in-4bit").load_in_4bit is True
    assert parse(*run, "--no-load-in-4bit").load_in_4bit is False
    assert parse(*run, "--no_overwrite").overwrite is False and parse(*run, "--overwrite").overwrite is True
    build = ["syn", "build", "--data", "d", "--model", "m", "--out", "o"]
    assert parse(*build).progress is True and parse(*build, "--no-progress").progress is False
    assert parse(*build, "--load_in_4bit").load_in_4bit is True and parse(*build).load_in_4bit is False
    train = ["train", "--config", "p.yaml"]
    for flags, value in ((["--load_in_4bit"], True), (["--no-load-in-4bit"], False), (["--no_load_in_4bit"], False),
                         (["--load_in_4bit", "false"], False), (["--load-in-4bit=yes"], True)):
        assert overrides_from_args(parse(*train, *flags)) == {"load_in_4bit": value}, flags
    assert overrides_from_args(parse(*train, "--eval")) == {"c2eval": "true"}
    assert overrides_from_args(parse(*train, "--no-eval")) == {"c2eval": "false"}


def test_a_boolean_key_refuses_a_value_that_is_not_one(capsys):
    assert "expected no value or one of true/" in error_of(["train", "--config", "p.yaml", "--load_in_4bit", "maybe"],
                                                           capsys)
    assert "--no_load_in_4bit takes no value, got 'true'" in error_of(
        ["train", "--config", "p.yaml", "--no_load_in_4bit", "true"], capsys)


def _all_actions():
    for name, parser in commands(build_parser()):
        for action in parser._actions:
            yield name, action


def test_every_boolean_has_a_no_form():
    plain = [(name, action.option_strings) for name, action in _all_actions()
             if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))]
    assert plain == []


def test_one_name_for_output_model_and_data_old_names_only_as_aliases():
    for name, action in _all_actions():
        shown = [option for option in action.option_strings if option not in aliases_of(action)]
        assert not OLD_NAMES & set(shown), (name, action.option_strings)
    by_command = {name: {option for action in parser._actions for option in action.option_strings}
                  for name, parser in commands(build_parser())}
    for name in ("eval run", "syn build", "train"):
        assert {"--out", "--model", "--data"} <= by_command[name], name
    for name, options in by_command.items():
        assert "--out" in options, name  # every command names where it writes --out


def test_old_names_still_work():
    build = parse("syn", "build", "--source", "c2eval-500", "--generator", "gpt2", "--out", "o")
    assert (build.data, build.model) == ("c2eval-500", "gpt2")
    train = parse("train", "--config", "p.yaml", "--output_dir", "D", "--model_name_or_path", "tiny",
                  "--dataset", "c2-syn")
    new = parse("train", "--config", "p.yaml", "--out", "D", "--model", "tiny", "--data", "c2-syn")
    assert overrides_from_args(train) == overrides_from_args(new) == {
        "output_dir": "D", "model_name_or_path": "tiny", "dataset": "c2-syn"}
    assert parse("publish", "results", "r", "--repo-id", "o/x", "--preview-dir", "p").out == "p"


def test_help_shows_one_name_and_lists_the_aliases(capsys):
    with pytest.raises(SystemExit):
        main(["syn", "build", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--data DATA" in text and "(alias: --source)" in text and "(alias: --generator)" in text
    assert "--source DATA" not in text and "--generator MODEL" not in text
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--out STR" in text and "(alias: --output_dir)" in text and "--output_dir STR" not in text
    assert "--load_in_4bit [BOOL], --no_load_in_4bit" in text


def test_docs_table_matches_the_parser():
    text = DOC.read_text(encoding="utf-8")
    table = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == flag_table(build_parser()), "docs/cli.md is out of date: run python -m c2kit.cli.reference"
    header = table.splitlines()[0]
    for name, _ in commands(build_parser()):
        assert f" {name} |" in header
    out_row = next(line for line in table.splitlines() if line.startswith("| `--out` |"))
    assert "`--output_dir` (train)" in out_row and "`--preview-dir` (publish dataset" in out_row
    assert out_row.count("✓") == len(commands(build_parser()))


def test_errors_name_an_aliased_flag_by_its_one_name(capsys):
    line = error_of(["syn", "build", "--source", "c2eval-500", "--out", "o"], capsys)
    assert line == ("c2 syn build: error: the following arguments are required: --model "
                    "(see 'c2 syn build --help')")
    assert "argument --out: expected one argument" in error_of(["publish", "metric", "--repo-id", "o/x",
                                                                 "--preview-dir"], capsys)


def test_the_integer_bound_of_flags_comes_from_a_neutral_module():
    """The shared options take MAX_INT from c2kit.limits (as the training config does), not from training."""
    import ast
    import inspect

    from c2kit import limits
    from c2kit.cli import options
    from c2kit.training import config

    imported = {node.module for node in ast.walk(ast.parse(inspect.getsource(options)))
                if isinstance(node, ast.ImportFrom)}
    assert "c2kit.limits" in imported and not any(name.startswith("c2kit.training") for name in imported)
    assert options.MAX_INT is config.MAX_INT is limits.MAX_INT == 2**31 - 1  # the refusal: test_cli_errors
