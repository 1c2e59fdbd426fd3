"""The Colab notebook (training/c2_train_colab.ipynb) runs headless, so it cannot rot unnoticed.

With C2_NOTEBOOK_TINY=1 it runs end to end on CPU with the tiny profile (the commands of
scripts/quickstart.sh, smaller, then a publish dry run), from an empty folder, after installing a wheel of this
checkout into a fresh venv (C2_NOTEBOOK_PACKAGE), as it installs the release on Colab. Without it, it stops at
the GPU check on a machine with no usable GPU, and on a (stand-in) T4 it runs exactly the commands README.md
and docs/training.md list. Stand-in tools first on PATH (``nvidia-smi``, ``git``, ``pip``, ``c2``) make these
cases the same on every machine.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from wheel_env import built_wheel, fresh_venv

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "training" / "c2_train_colab.ipynb"
DOCS = (REPO / "README.md", REPO / "docs" / "training.md")  # each lists the notebook's commands


def load_notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def cells_by_id(notebook) -> dict:
    return {cell["id"]: cell for cell in notebook.cells}


def execute(notebook, cwd: Path, timeout: int = 300):
    """Run the cells in order as 'Run all' does (stopping at the first error), from ``cwd``."""
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return notebook


def text_of(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.append("\n".join(output["traceback"]))
        else:
            data = output.get("data", {})
            parts.append(data.get("text/markdown", "") + data.get("text/plain", ""))
    return "".join(parts)


@pytest.fixture
def kernel_env(monkeypatch, tmp_path):
    """The kernel (started by nbclient) inherits this process's environment: this venv's ``c2`` first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]))
    monkeypatch.delenv("C2_NOTEBOOK_TINY", raising=False)
    monkeypatch.setenv("C2_NOTEBOOK_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    return bin_dir


def fake_tool(bin_dir: Path, name: str, body: str) -> None:
    script = bin_dir / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


def fake_nvidia_smi(bin_dir: Path, *, stdout: str = "", status: int = 0) -> None:
    fake_tool(bin_dir, "nvidia-smi", f"cat <<'EOF'\n{stdout}EOF\nexit {status}")


def commands_run(notebook) -> list[str]:
    """The commands the notebook's run() executed, in order (it echoes each as '$ COMMAND')."""
    lines = "".join(text_of(cell) for cell in notebook.cells).splitlines()
    return [line[2:] for line in lines if line.startswith("$ ")]


def documented_commands(doc: Path) -> list[str]:
    """The bash lines of the 'Train on a Colab T4' section, without their comments."""
    text = doc.read_text(encoding="utf-8")
    section = text.split("# Train on a Colab T4\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    return [re.sub(r"\s+#.*$", "", line) for block in blocks for line in block.splitlines()]


def test_notebook_is_a_colab_gpu_notebook_with_no_placeholder_and_estimated_t4_times():
    notebook = load_notebook()
    nbformat.validate(notebook)
    assert notebook.nbformat == 4 and notebook.metadata["accelerator"] == "GPU"
    badge = "https://colab.research.google.com/github/c2-toolkit/c2-toolkit/blob/main/training/c2_train_colab.ipynb"
    assert all(badge in doc.read_text(encoding="utf-8") for doc in (NOTEBOOK, *DOCS))
    source = "\n".join(cell["source"] for cell in notebook.cells)
    assert "YOUR-NAME" not in source
    headings = [cell["source"].splitlines()[0] for cell in notebook.cells
                if cell["cell_type"] == "markdown" and cell["source"].startswith("## ") and cell["id"] != "settings-md"]
    assert len(headings) == 7 and all("T4:" in heading or "seconds" in heading for heading in headings), headings
    # Every step that takes more than seconds says its time is an estimate until measured.
    long_steps = [heading for heading in headings if "min" in heading]
    assert len(long_steps) == 5 and all("estimated" in heading for heading in long_steps), long_steps


@pytest.mark.parametrize(("smi_output", "status", "message"), [
    ("", 9, "STOPPED: no GPU in this runtime. Choose Runtime > Change runtime type > T4 GPU > Save"),
    ("Tesla K80, 11441\n", 0, "STOPPED: Tesla K80 has 11.2 GiB; the T4 profile needs a 16 GB GPU."),
])
def test_without_a_usable_gpu_run_all_stops_at_the_gpu_check(kernel_env, tmp_path, smi_output, status, message):
    fake_nvidia_smi(kernel_env, stdout=smi_output, status=status)
    notebook = load_notebook()
    with pytest.raises(nbclient.exceptions.CellExecutionError) as stopped:
        execute(notebook, tmp_path, timeout=120)
    assert stopped.value.ename == "StepFailed"
    cells = cells_by_id(notebook)
    assert text_of(cells["gpu-check"]).startswith(message)
    # Nothing after the check ran: no install.
    later = notebook.cells[notebook.cells.index(cells["gpu-check"]) + 1:]
    assert all(cell.get("execution_count") is None and not cell.get("outputs")
               for cell in later if cell["cell_type"] == "code")


@pytest.mark.parametrize("doc", DOCS, ids=["readme", "docs"])
def test_on_a_t4_the_notebook_runs_the_documented_commands(kernel_env, monkeypatch, tmp_path, doc):
    """The Colab path, run with stand-ins for the GPU, git, pip, c2 and the Hub, runs what the docs list."""
    fake_nvidia_smi(kernel_env, stdout="Tesla T4, 15360\n")
    # It installs the release, profiles included: no clone.
    fake_tool(kernel_env, "git", 'echo "git $*: the notebook must not clone" >&2; exit 1')
    fake_tool(kernel_env, "pip", "exit 0")
    token = "hf_" + "0" * 34  # what get_token() finds, e.g. in a Colab secret; the Hub calls are stand-ins
    # The c2 commands get the token through the environment: a subprocess cannot read Colab secrets.
    fake_tool(kernel_env, "c2", f'[ "$HF_TOKEN" = {token} ] || {{ echo "c2: no HF_TOKEN" >&2; exit 1; }}')
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("C2_NOTEBOOK_RUNS")  # the notebook's own default, runs/ in the working folder
    colab = tmp_path / "content"
    colab.mkdir()
    notebook = load_notebook()
    stand_ins = nbformat.v4.new_code_cell(
        "import huggingface_hub\n"
        f"huggingface_hub.get_token = lambda: {token!r}\n"
        "huggingface_hub.auth_check = lambda repo_id, **kwargs: None\n"
        "huggingface_hub.whoami = lambda *args, **kwargs: {'name': 'USER'}\n"
        "PUSH = True")
    ids = [cell["id"] for cell in notebook.cells]
    notebook.cells.insert(ids.index("settings") + 1, stand_ins)
    notebook.cells = [cell for cell in notebook.cells if cell.get("id") != "results"]  # needs real outputs
    execute(notebook, colab, timeout=120)
    cells = cells_by_id(notebook)
    assert text_of(cells["gpu-check"]) == "GPU: Tesla T4, 15.0 GiB\n"
    assert "the adapter goes to USER/llama2-7b-chat-c2-dpo-lora" in text_of(cells["login"])
    assert commands_run(notebook) == documented_commands(doc)


def test_a_failed_step_stops_run_all_with_one_line(kernel_env, tmp_path):
    """run() streams a command's output and raises StepFailed on a non-zero exit, so later cells never run."""
    notebook = load_notebook()
    cells = cells_by_id(notebook)
    notebook.cells = [cells["settings"], cells["helpers"],
                      nbformat.v4.new_code_cell("run('echo building; echo broken input >&2; exit 3')"),
                      nbformat.v4.new_code_cell("print('after')")]
    with pytest.raises(nbclient.exceptions.CellExecutionError):
        execute(notebook, tmp_path, timeout=120)
    failed = notebook.cells[2]
    assert text_of(failed) == ("$ echo building; echo broken input >&2; exit 3\nbuilding\nbroken input\n"
                               "STOPPED: `echo building; echo broken input >&2; exit 3` failed (exit status 3); the "
                               "reason is in its output above. Fix it, run this cell again (finished work is kept), "
                               "then Runtime > Run after.")
    assert notebook.cells[3].get("execution_count") is None


def test_tiny_notebook_installs_the_package_and_runs_end_to_end_on_cpu(kernel_env, monkeypatch, tmp_path,
                                                                      tmp_path_factory):
    """From an empty folder, the notebook installs a wheel of this checkout into a fresh venv (the release on
    Colab) and runs with what it installed: the profile by name, no training/ folder at hand."""
    venv_bin = fresh_venv(tmp_path / "venv")  # first on PATH after the stand-ins: its pip, python and c2
    monkeypatch.setenv("PATH", os.pathsep.join([str(kernel_env), str(venv_bin), os.environ["PATH"]]))
    package = f"{built_wheel(tmp_path_factory)}[train]"
    monkeypatch.setenv("C2_NOTEBOOK_PACKAGE", package)
    monkeypatch.setenv("C2_NOTEBOOK_TINY", "1")
    empty = tmp_path / "content"
    empty.mkdir()
    notebook = execute(load_notebook(), empty, timeout=600)
    cells = cells_by_id(notebook)
    runs = tmp_path / "runs"

    assert "no GPU needed" in text_of(cells["gpu-check"])
    assert commands_run(notebook)[0] == f'pip install -q "{package}"' and (venv_bin / "c2").is_file()
    assert "c2 train --config tiny-cpu " in "\n".join(commands_run(notebook))
    load_hint = f"datasets.load_dataset({str((runs / 'c2-syn').resolve())!r}, 'pairs')"
    assert "[done in" in text_of(cells["syn"]) and load_hint in text_of(cells["syn"])
    # A smoke run (tests/test_training_recipe.py checks what training learns): 16 pairs in 4 steps, 8 held out.
    metrics = json.loads((runs / "tiny" / "metrics.json").read_text())
    assert (metrics["num_train_pairs"], metrics["num_eval_pairs"], metrics["global_step"]) == (16, 8, 4)
    assert {"eval_before", "eval_after"} <= set(metrics)

    results = cells["results"]["outputs"]
    assert any("image/png" in output.get("data", {}) for output in results)
    table = "".join(output.get("data", {}).get("text/markdown", "") for output in results)
    assert "**Corr_mean**" in table and "Paired difference from **base-model**" in table

    dry_run = text_of(cells["publish-dry-run"])
    assert ("would be uploaded to the private model repo tiny-test/llama2-7b-chat-c2-dpo-lora; nothing was sent"
            in dry_run)
    card = (runs / "publish-preview" / "README.md").read_text(encoding="utf-8")
    assert "base_model: tiny-test/tiny-chat" in card
    assert text_of(cells["push"]).startswith("Not pushed (PUSH = False).")
