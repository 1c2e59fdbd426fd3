"""A `c2` command's output carries our messages and progress bars, not the libraries' noise."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_4bit_run_prints_no_library_warnings_or_bars(tiny_model_dir, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "default"}  # show every warning not filtered
    # Earlier in-process CLI tests set these in this process (quiet_library_noise): start from a clean slate.
    for name in ("C2_VERBOSE", "TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS",
                 "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        env.pop(name, None)
    command = [sys.executable, "-c", "import sys; from c2kit.cli import main; sys.exit(main())", "eval", "run", "--model", tiny_model_dir, "--limit", "1", "--ks",
               "10", "--paths", "1", "--max-new-tokens", "2", "--load-in-4bit", "--out", str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    for noise in ("Warning", "Loading weights", "gemm_4bit", "silently incorrect"):
        assert noise not in output, noise
    assert "generating (transformers)" in output and "Corr_mean" in output  # ours stay
    verbose = subprocess.run(command[:-1] + [str(tmp_path / "verbose")], capture_output=True, text=True,
                             env={**env, "C2_VERBOSE": "1"}, timeout=300)
    assert "Loading weights" in verbose.stdout + verbose.stderr  # C2_VERBOSE=1 keeps it all
