"""A wheel of this checkout, and fresh venvs outside the repository to install it into, as a pip user would.

A fresh venv takes its dependencies (torch, transformers, trl, ...) from this test venv's site-packages, so
nothing is downloaded: a path line in a ``.pth`` file puts that folder on ``sys.path``. Unlike a site folder,
a folder added that way does not have its own ``.pth`` files run, so the editable install of the checkout (an
import hook installed by a ``.pth`` file) stays out, and ``import c2kit`` finds the installed wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_wheels: dict[str, Path] = {}  # one build per test session, shared by the tests that install it


def built_wheel(tmp_path_factory) -> Path:
    """The wheel of the checkout as it is now (uncommitted files included), built once per session."""
    if "wheel" not in _wheels:
        _wheels["wheel"] = _build_wheel(tmp_path_factory.mktemp("wheel"))
    return _wheels["wheel"]


def _build_wheel(folder: Path) -> Path:
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources, not to be left in the checkout.
    source = folder / "source"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        origin, copy = REPO / name, source / name
        if not os.path.lexists(origin):  # deleted in the working tree, not yet in git
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():  # the links that make top-level folders package data (hub_cards, training/...)
            copy.symlink_to(os.readlink(origin))
        else:
            shutil.copy2(origin, copy)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(folder / "dist")], check=True, capture_output=True)
    (wheel,) = (folder / "dist").glob("c2_toolkit-*.whl")
    return wheel


def fresh_venv(path: Path) -> Path:
    """A venv (with pip) at ``path`` whose dependencies come from this test venv, without c2-toolkit; its bin/."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "c2_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return path / "bin"


def command_env(bin_dir: Path) -> dict[str, str]:
    """The environment of a shell whose ``python``, ``pip`` and ``c2`` are the fresh venv's, offline, and where
    no PYTHONPATH leads to the checkout."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**env, "PATH": os.pathsep.join([str(bin_dir), os.environ["PATH"]]), "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
