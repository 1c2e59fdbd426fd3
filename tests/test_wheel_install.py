"""A pip install is complete: the wheel holds every file of its packages, and, installed into a fresh venv
outside the repository, it runs the Quick start's commands from an empty folder, the training profile by name.

The wheel is built from the checkout as it is (tests/wheel_env.py); the venv borrows this venv's dependencies
but not its editable install, so the commands can only use what the wheel ships.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from zipfile import ZipFile

import pytest

from wheel_env import REPO, built_wheel, command_env, fresh_venv

PACKAGES = ("c2kit", "c2_eval_metric", "c2_syn_dataset", "c2_toolkit")
QUICKSTART = REPO / "scripts" / "quickstart.sh"
TINY_DEMO = REPO / "scripts" / "tiny_demo.sh"  # the quick start's first steps, sourced (build_tiny_c2syn "$OUT")
# The Quick start's commands, smaller (argparse keeps the last value of a flag given twice): the same steps in
# seconds; tests/test_training_recipe.py checks what the full tiny run learns.
SMALLER = {"syn build": "--limit 12 --max-new-tokens 16 --no-progress",
           "train": "--num_pairs 16 --num_eval_pairs 8 --c2eval_limit 4 --c2eval_ks 10,20 --c2eval_paths 2"}


@pytest.fixture(scope="module")
def venv_bin(tmp_path_factory) -> Path:
    """bin/ of a fresh venv outside the repository with the wheel installed in it."""
    bin_dir = fresh_venv(tmp_path_factory.mktemp("installed") / "venv")
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", "--no-deps", str(built_wheel(tmp_path_factory))],
                   check=True, capture_output=True)
    return bin_dir


def shell(command: str, cwd: Path, bin_dir: Path, **env: str) -> str:
    """Run ``command`` in bash from ``cwd`` with the venv's commands first on PATH; its output (it must succeed)."""
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env={**command_env(bin_dir), **env},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def quickstart_commands() -> list[str]:
    """The commands of scripts/quickstart.sh that run the toolkit ($C2 ... and the tiny_data helper), each on one
    line, with the venv's python in place of .venv's, in the order they run: the C2-Syn steps of
    scripts/tiny_demo.sh where the quick start calls them (its ``$out`` is the quick start's ``$OUT``)."""
    def commands_of(path: Path) -> list[str]:
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        return [" ".join(line.removeprefix(".venv/bin/").split()) for line in map(str.strip, text.splitlines())
                if line.startswith(("$C2 ", ".venv/bin/python -m c2kit", "build_tiny_c2syn "))]

    demo = [command.replace('"$out', '"$OUT') for command in commands_of(TINY_DEMO)]
    return [step for command in commands_of(QUICKSTART)
            for step in (demo if command.startswith("build_tiny_c2syn ") else [command])]


def smaller(command: str) -> str:
    extra = next((flags for name, flags in SMALLER.items() if command.startswith(f"$C2 {name} ")), "")
    return f"{command} {extra}".strip()


def test_the_wheel_ships_every_file_of_its_packages(tmp_path_factory):
    """Every file of the packages in the checkout (data, profiles, accelerate configs, templates) is in the wheel."""
    wheel = built_wheel(tmp_path_factory)
    source = wheel.parent.parent / "source"  # the copy of the checkout it was built from
    in_checkout = {path.relative_to(source).as_posix()
                   for package in PACKAGES for folder, _, names in os.walk(source / package, followlinks=True)
                   if "__pycache__" not in folder for path in (Path(folder) / name for name in names)}
    in_wheel = set(ZipFile(wheel).namelist())
    assert sorted(in_checkout - in_wheel) == []
    assert {"c2kit/training/profiles/tiny-cpu.yaml", "c2kit/training/accelerate/ddp.yaml"} <= in_wheel


def test_the_quick_start_runs_from_an_empty_folder_with_the_profile_by_name(venv_bin, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    # The package imported is the installed wheel, not the checkout.
    location = shell("python -c 'import c2kit; print(c2kit.__file__)'", work, venv_bin).strip()
    assert Path(location).is_relative_to(venv_bin.parent) and not Path(location).is_relative_to(REPO)

    listing = shell("c2 train --list-profiles", work, venv_bin)
    profiles = Path(re.search(r"^in (\S+) \(copy one", listing, re.MULTILINE).group(1))
    accelerate = Path(re.search(r"^in (\S+)$", listing, re.MULTILINE).group(1))
    assert profiles.is_relative_to(venv_bin.parent) and (profiles / "tiny-cpu.yaml").is_file()
    assert accelerate.is_relative_to(venv_bin.parent) and (accelerate / "ddp.yaml").is_file()
    assert re.search(r"^  tiny-cpu +A tiny random model on CPU", listing, re.MULTILINE)

    commands = quickstart_commands()
    assert [command.split()[:2] for command in commands] == [
        ["$C2", "tiny-model"], ["$C2", "syn"], ["python", "-m"], ["$C2", "train"], ["$C2", "view"]]
    assert "--config tiny-cpu " in commands[3]  # by name: a pip install has no training/ folder
    for command in commands:
        shell(smaller(command), work, venv_bin, OUT="out", C2="c2")
    # C2-Eval's own commands, on the generator and on the runs c2 train --eval wrote.
    shell("c2 eval run --model out/tiny-generator --limit 4 --ks 10,20 --paths 2 --out out/generator", work, venv_bin)
    shell("c2 eval compare out/train/eval/base out/generator --out out/compare", work, venv_bin)

    metrics = json.loads((work / "out" / "train" / "metrics.json").read_text())
    assert (metrics["num_train_pairs"], metrics["num_eval_pairs"]) == (16, 8)
    assert (work / "out" / "train" / "eval" / "compare" / "comparison.json").is_file()
    assert (work / "out" / "compare" / "comparison.json").is_file()
    assert (work / "out" / "report.html").stat().st_size > 0
    assert sorted(path.name for path in work.iterdir()) == ["out"]  # nothing written beside the outputs
