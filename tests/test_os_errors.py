"""What the operating system refuses is one line naming the path and what was attempted (exit 2), never a
traceback: an input this user may not read, an output folder it may not write, a full disk; and so are a judge
spec whose model cannot be had and a JSON file that is not UTF-8.

Permission cases run as a user without root's override capabilities (the tests run as root in CI, and root
reads everything): as ``nobody`` in one subprocess for all of them, the files in a folder that user can enter.
Full-disk cases write into a small tmpfs filled to the last byte where this process may mount one (root with
CAP_SYS_ADMIN), and otherwise into a folder whose file writes an audit hook refuses with ENOSPC, as a full disk
would; one subprocess per mechanism runs every command through ``c2kit.cli.main``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from c2kit.cli import main
from c2kit.cli.os_errors import RESUME, os_error_line
from c2kit.judges.validation import shipped_labels_path
from c2kit.sources import bundled_path

PROFILE = Path(__file__).resolve().parent.parent / "training" / "profiles" / "tiny-cpu.yaml"
NOBODY = 65534  # the uid and gid of 'nobody' on Linux
# Become nobody, with no supplementary groups and no capabilities, inheritable or ever again.
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all",
           "--bounding-set=-all"]
TINY_EVAL = ["--limit", "1", "--paths", "1", "--ks", "10", "--max-new-tokens", "4"]
TINY_SYN = ["--limit", "1", "--max-new-tokens", "4", "--no-progress"]
TINY_TRAIN = ["--config", "profile.yaml", "--model", "model", "--max_steps", "1", "--num_pairs", "8",
              "--num_eval_pairs", "4", "--no-progress", "--load_in_4bit", "false"]

# Runs each case through c2kit.cli.main in one process (torch is imported once) and writes each exit status
# and stderr to a JSON file. With C2_TEST_FULL=FOLDER, an audit hook refuses every file opened for writing under
# FOLDER with ENOSPC while FOLDER/.filler exists. A case {"free": FOLDER} deletes FOLDER/.filler (frees that
# disk); a case {"read": FILE} tells whether this process can read FILE.
DRIVER = r"""
import contextlib, errno, io, json, os, sys, traceback

full = os.environ.get("C2_TEST_FULL")
if full:
    filler = os.path.join(full, ".filler")

    def refuse_writes(event, args):
        if event == "open" and isinstance(args[0], (str, os.PathLike)) and args[2] & (os.O_WRONLY | os.O_RDWR):
            path = os.path.abspath(os.fspath(args[0]))
            if path.startswith(full + os.sep) and path != filler and os.path.exists(filler):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(args[0]))

    sys.addaudithook(refuse_writes)

from c2kit.cli import main

cases_file, results_file = sys.argv[1:]
results = {}
for name, argv in json.load(open(cases_file)).items():
    if isinstance(argv, dict) and "free" in argv:
        os.remove(os.path.join(argv["free"], ".filler"))
        continue
    if isinstance(argv, dict):  # {"read": FILE}: can this process read it?
        try:
            open(argv["read"], "rb").close()
            results[name] = ["read", ""]
        except PermissionError:
            results[name] = ["denied", ""]
        continue
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
        except BaseException as error:
            code = "raised " + type(error).__name__
            traceback.print_exc(file=err)
    results[name] = [code, err.getvalue()]
with open(results_file, "w") as handle:
    json.dump(results, handle)
"""


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and "Traceback" not in err, err
    return lines[-1]


def _run_driver(world: Path, cases: dict, *, as_nobody: bool, env: dict | None = None) -> dict:
    """Exit status and stderr of each case, run in one subprocess in ``world``."""
    cases_file, results_file = world / "home" / "cases.json", world / "home" / "results.json"
    cases_file.write_text(json.dumps(cases))
    results_file.unlink(missing_ok=True)
    home = world / "home"
    environment = {**os.environ, "HOME": str(home), "HF_HOME": str(home / "hf"), "XDG_CACHE_HOME": str(home / "cache"),
                   "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                   **(env or {})}
    environment.pop("C2_TRACEBACK", None)
    command = [sys.executable, "-c", DRIVER, str(cases_file), str(results_file)]
    as_nobody = as_nobody and os.geteuid() == 0
    if as_nobody:  # util-linux's setpriv where there is one; else Python's own switch of user
        command = [*SETPRIV, *command] if shutil.which("setpriv") else command
    switch = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if as_nobody and command[0] != "setpriv" else {}
    try:
        done = subprocess.run(command, cwd=world, env=environment, capture_output=True, text=True, timeout=600,
                              **switch)
    except PermissionError as error:  # this root may not change its user, or nobody may not run this Python
        pytest.skip(f"cannot run this Python as uid {NOBODY}: {error}")
    if not results_file.exists():
        pytest.skip(f"the case runner did not start as {'nobody' if as_nobody else 'this user'} (it needs to read the "
                    f"repository and its Python): {done.stderr.strip()[-500:]}")
    return json.loads(results_file.read_text())


@pytest.fixture(scope="module")
def world(tiny_model_dir):
    """A folder any user can enter (pytest's own tmp folder is private to its user) holding a tiny model, an eval
    run, a small C2-Syn build, a profile, data and labels; ``home/`` is writable by nobody."""
    base = Path(tempfile.mkdtemp(prefix="c2-os-errors-")).resolve()
    shutil.copytree(tiny_model_dir, base / "model")
    shutil.copy(PROFILE, base / "profile.yaml")
    (base / "data.jsonl").write_text("".join(bundled_path().read_text(encoding="utf-8").splitlines(True)[:5]))
    (base / "labels.jsonl").write_text("".join(shipped_labels_path().read_text(encoding="utf-8").splitlines(True)[:3]))
    model = str(base / "model")
    assert main(["eval", "run", "--model", model, *TINY_EVAL, "--paths", "2", "--out", str(base / "run")]) == 0
    assert main(["syn", "build", "--data", str(base / "data.jsonl"), "--model", model, *TINY_SYN,
                 "--out", str(base / "syn")]) == 0
    (base / "home").mkdir()
    _open_to_all(base)  # safetensors writes its files 0600
    (base / "home").chmod(0o777)
    yield base
    for restricted in [*base.glob("*noread*"), base / "ro", base / "locked"]:
        if restricted.exists():
            restricted.chmod(0o755)
    _open_to_all(base)  # what the cases took away, so that it can be deleted
    shutil.rmtree(base)


def _open_to_all(base: Path) -> None:
    base.chmod(0o755)
    for folder, folders, files in os.walk(base):
        for name in folders:
            Path(folder, name).chmod(0o755)
        for name in files:
            Path(folder, name).chmod(0o644)


# ---------------------------------------------------------------------------------------------------------
# Permission denied: unreadable inputs, unwritable outputs

CREATE_IN_RO = "(folder 'ro' is not writable by this user)"
PERMISSION_CASES = {
    # reading: a file, a folder, a model folder, weights the loader would call missing
    "eval --data file": (["eval", "run", "--model", "model", "--data", "data-noread.jsonl", *TINY_EVAL,
                          "--out", "home/e1"], "c2 eval: error: permission denied reading 'data-noread.jsonl'"),
    "eval --data folder": (["eval", "run", "--model", "model", "--data", "datadir-noread", *TINY_EVAL,
                            "--out", "home/e2"], "c2 eval: error: permission denied reading folder 'datadir-noread'"),
    "eval --model folder": (["eval", "run", "--model", "model-noread", *TINY_EVAL, "--out", "home/e3"],
                            "argument --model: model 'model-noread': permission denied reading folder "
                            "'model-noread'"),
    "eval --model weights": (["eval", "run", "--model", "model-weights-noread", *TINY_EVAL, "--out", "home/e4"],
                             "argument --model: model 'model-weights-noread': permission denied reading "
                             "'model-weights-noread/model.safetensors'"),
    "syn --data file": (["syn", "build", "--data", "data-noread.jsonl", "--model", "model", *TINY_SYN,
                         "--out", "home/s1"], "c2 syn: error: permission denied reading 'data-noread.jsonl'"),
    "syn --model folder": (["syn", "build", "--data", "data.jsonl", "--model", "model-noread", *TINY_SYN,
                            "--out", "home/s2"], "model 'model-noread': permission denied reading folder "
                                                 "'model-noread'"),
    "train --config": (["train", *TINY_TRAIN, "--config", "profile-noread.yaml", "--data", "syn", "--out", "home/t1"],
                       "c2 train: error: permission denied reading 'profile-noread.yaml'"),
    "train --model": (["train", *TINY_TRAIN, "--model", "model-weights-noread", "--data", "syn", "--out", "home/t2"],
                      "model 'model-weights-noread': permission denied reading "
                      "'model-weights-noread/model.safetensors'"),
    "view run folder": (["view", "run-noread", "--out", "home/r1.html"],
                        "c2 view: error: permission denied reading folder 'run-noread'"),
    "view run file": (["view", "run-gen-noread", "--out", "home/r2.html"],
                      "c2 view: error: permission denied reading 'run-gen-noread/generations.jsonl'"),
    "validate --labels": (["judge", "validate", "--judge", "keyword", "--labels", "labels-noread.jsonl"],
                          "c2 judge: error: permission denied reading 'labels-noread.jsonl'"),
    "publish run folder": (["publish", "results", "run-noread", "--repo-id", "me/run", "--dry-run", "--out",
                            "home/p1"], "c2 publish results: error: permission denied reading folder 'run-noread'"),
    "publish adapter weights": (["publish", "adapter", "adapter-weights-noread", "--repo-id", "me/a", "--base-model",
                                 "org/m", "--dry-run", "--out", "home/p2"],
                                "c2 publish adapter: error: permission denied reading "
                                "'adapter-weights-noread/adapter_model.safetensors'"),
    # writing: --out (new, or an existing folder), a cache folder, a folder above that cannot be entered
    "eval --out": (["eval", "run", "--model", "model", *TINY_EVAL, "--out", "ro/e"],
                   f"c2 eval: error: permission denied creating 'ro/e' {CREATE_IN_RO}"),
    "eval --cache-dir": (["eval", "run", "--model", "model", *TINY_EVAL, "--out", "home/e5", "--cache-dir", "ro/c"],
                         f"c2 eval: error: permission denied creating 'ro/c' {CREATE_IN_RO}"),
    "eval --out under a locked folder": (["eval", "run", "--model", "model", *TINY_EVAL, "--out", "locked/e"],
                                         "argument --out: 'locked/e' cannot be created: permission denied entering "
                                         "folder 'locked'"),
    "syn --out existing": (["syn", "build", "--data", "data.jsonl", "--model", "model", *TINY_SYN, "--out", "ro"],
                           "c2 syn: error: permission denied creating '{world}/ro/.lock' (folder '{world}/ro' is "
                           "not writable by this user)"),
    "train --out": (["train", *TINY_TRAIN, "--data", "syn", "--out", "ro/t"],
                    f"c2 train: error: permission denied creating 'ro/t' {CREATE_IN_RO}"),
    "view --out": (["view", "run", "--out", "ro/report.html"],
                   f"c2 view: error: permission denied creating 'ro/report.html' {CREATE_IN_RO}"),
    "view --out under a locked folder": (["view", "run", "--out", "locked/report.html"],
                                         "c2: error: permission denied reading folder 'locked' (on the way to "
                                         "'locked/report.html')"),
    "validate --out": (["judge", "validate", "--judge", "keyword", "--labels", "labels.jsonl", "--out", "ro/v"],
                       f"c2 judge: error: permission denied creating 'ro/v' {CREATE_IN_RO}"),
    "publish --dry-run --out": (["publish", "results", "run", "--repo-id", "me/run", "--dry-run", "--out", "ro/p"],
                                f"c2 publish results: error: permission denied creating 'ro/p' {CREATE_IN_RO}"),
}


@pytest.fixture(scope="module")
def permission_results(world):
    """Each case run by nobody (by this user when it is not root), after taking the permissions away: mode 000 for
    the *-noread files and folders and for 'locked', 555 (no writing) for 'ro'."""
    for source, copy in [("data.jsonl", "data-noread.jsonl"), ("labels.jsonl", "labels-noread.jsonl"),
                         ("profile.yaml", "profile-noread.yaml")]:
        shutil.copy(world / source, world / copy)
    (world / "datadir-noread").mkdir()
    shutil.copy(world / "data.jsonl", world / "datadir-noread")
    for source, copy in [("model", "model-noread"), ("model", "model-weights-noread"), ("run", "run-noread"),
                         ("run", "run-gen-noread")]:
        shutil.copytree(world / source, world / copy)
    adapter = world / "adapter-weights-noread"  # laid out as c2 train leaves an adapter
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": "m"}))
    shutil.copy(world / "model" / "tokenizer_config.json", adapter)
    shutil.copy(world / "model" / "model.safetensors", adapter / "adapter_model.safetensors")
    (world / "ro").mkdir()
    (world / "locked").mkdir()
    for path in ["adapter-weights-noread/adapter_model.safetensors", "data-noread.jsonl", "labels-noread.jsonl", "profile-noread.yaml", "datadir-noread", "model-noread",
                 "run-noread", "model-weights-noread/model.safetensors", "run-gen-noread/generations.jsonl", "locked"]:
        (world / path).chmod(0)
    (world / "ro").chmod(0o555)
    cases = {"premise": {"read": "data-noread.jsonl"}, **{name: argv for name, (argv, _) in PERMISSION_CASES.items()}}
    results = _run_driver(world, cases, as_nobody=True)
    if results["premise"][0] == "read":
        pytest.skip("the case runner reads a file of mode 000: it has root's override capabilities (CAP_DAC_OVERRIDE), "
                    "so no permission can be refused to it")
    return results


@pytest.mark.parametrize("case", list(PERMISSION_CASES))
def test_permission_denied_is_one_line_naming_path_and_action(world, permission_results, case):
    code, err = permission_results[case]
    expected = PERMISSION_CASES[case][1].replace("{world}", str(world))
    line = _one_line(err)
    assert code == 2, err
    assert expected in line, line
    assert "No such file" not in line and "Errno" not in line


# ---------------------------------------------------------------------------------------------------------
# A full disk


FULL_CASES = {  # FULL: the full folder of the mechanism
    "eval --out": ["eval", "run", "--model", "model", *TINY_EVAL, "--out", "FULL/e", "--cache-dir", "home/FULL-c"],
    "eval --cache-dir": ["eval", "run", "--model", "model", *TINY_EVAL, "--out", "home/FULL-e", "--cache-dir", "FULL/c"],
    "syn --out": ["syn", "build", "--data", "data.jsonl", "--model", "model", *TINY_SYN, "--out", "FULL/s"],
    "train --out": ["train", *TINY_TRAIN, "--data", "syn", "--out", "FULL/t"],
    "view --out": ["view", "run", "--out", "FULL/report.html"],
    "validate --out": ["judge", "validate", "--judge", "keyword", "--labels", "labels.jsonl", "--out", "FULL/v"],
    "publish --dry-run --out": ["publish", "results", "run", "--repo-id", "me/run", "--dry-run", "--out", "FULL/p"],
}
MECHANISMS = {"tmpfs": "full-tmpfs", "refused writes": "full-refused"}  # how the disk is full: its folder


def _fill(folder: Path) -> None:
    """Write zeros to ``folder/.filler`` until the file system refuses another byte."""
    with open(folder / ".filler", "wb", buffering=0) as handle:
        for size in (1 << 16, 4096, 512, 1):  # then the last partial blocks
            try:
                while True:
                    handle.write(bytes(size))
            except OSError as error:
                assert error.errno == errno.ENOSPC


def _mount_tmpfs(folder: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` on ``folder``; why not, when it cannot be done here."""
    if not shutil.which("mount"):
        return "no mount command"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    return None if mounted.returncode == 0 else (f"mounting a tmpfs needs root with CAP_SYS_ADMIN: "
                                                 f"{mounted.stderr.strip()}")


@pytest.fixture(scope="module")
def full_results(world):
    """``{mechanism: results}``, or the reason a mechanism cannot run here: each case on a full disk, then, once
    space is freed, the first case again. One process runs both mechanisms."""
    folders = {mechanism: world / name for mechanism, name in MECHANISMS.items()}
    for folder in folders.values():
        folder.mkdir()
    unmountable = _mount_tmpfs(folders["tmpfs"], "1m")
    if unmountable:
        del folders["tmpfs"]
    else:
        _fill(folders["tmpfs"])
    (folders["refused writes"] / ".filler").write_text("")
    cases: dict = {}
    for mechanism, folder in folders.items():
        for name, argv in FULL_CASES.items():
            cases[f"{mechanism}: {name}"] = [word.replace("FULL", folder.name) for word in argv]
        cases[f"{mechanism}: free"] = {"free": str(folder)}
        cases[f"{mechanism}: rerun"] = cases[f"{mechanism}: eval --out"]
    try:
        results = _run_driver(world, cases, as_nobody=False, env={"C2_TEST_FULL": str(folders["refused writes"])})
        yield {mechanism: {name: results[f"{mechanism}: {name}"] for name in [*FULL_CASES, "rerun"]}
               for mechanism in folders} | ({"tmpfs": unmountable} if unmountable else {})
    finally:
        if not unmountable:  # lazily: a failed test may hold a file open
            subprocess.run(["umount", "--lazy", str(world / MECHANISMS["tmpfs"])], check=True)
        for name in MECHANISMS.values():
            shutil.rmtree(world / name)


def _full(full_results, mechanism: str) -> dict:
    if isinstance(full_results[mechanism], str):
        pytest.skip(full_results[mechanism])
    return full_results[mechanism]


@pytest.mark.parametrize("mechanism", list(MECHANISMS))
@pytest.mark.parametrize("case", list(FULL_CASES))
def test_a_full_disk_is_one_line_naming_the_file_and_saying_a_rerun_resumes(world, full_results, mechanism, case):
    code, err = _full(full_results, mechanism)[case]
    line = _one_line(err)
    assert code == 2, err
    command = " ".join(FULL_CASES[case][:2 if FULL_CASES[case][0] == "publish" else 1])  # c2 publish ARTIFACT
    assert line.startswith(f"c2 {command}: error: no space left on device writing '"), line
    written = line.split("writing '", 1)[1].split("'", 1)[0]
    out = next(word for word in FULL_CASES[case] if word.startswith("FULL/")).replace("FULL", MECHANISMS[mechanism])
    assert (world / written).resolve().is_relative_to((world / out).resolve()), line  # a file under the full folder
    assert ".tmp-" not in written  # a temporary file is named by the file it was to become
    assert line.endswith(RESUME) and "finished work is kept" in line and "resumes" in line


@pytest.mark.parametrize("mechanism", list(MECHANISMS))
def test_after_a_full_disk_the_same_command_finishes_once_space_is_freed(full_results, mechanism):
    code, err = _full(full_results, mechanism)["rerun"]
    assert code == 0, err


@pytest.fixture
def full_tmpfs(tmp_path):
    """A small tmpfs filled to the last byte."""
    full = tmp_path / "full"
    full.mkdir()
    unmountable = _mount_tmpfs(full, "4m")
    if unmountable:
        pytest.skip(unmountable)
    try:
        _fill(full)
        yield full
    finally:
        subprocess.run(["umount", "--lazy", str(full)], check=True)  # lazy: a failed test may hold a file open


def test_full_disk_errors_of_other_writers_name_the_file(full_tmpfs):
    """Writers whose error has no path: a file flushed on close, safetensors, pyarrow, torch.save (which only says
    'unexpected pos': the disk it wrote to is looked at)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch
    from safetensors.torch import save_file

    path = full_tmpfs / "written"

    def flushed():
        with open(path, "w") as handle:
            handle.write("x")

    def parquet():
        table = pa.table({"a": list(range(100_000))})
        with pq.ParquetWriter(path, table.schema) as writer:
            writer.write_table(table)

    for write in (flushed, lambda: save_file({"w": torch.zeros(4)}, path), parquet,
                  lambda: torch.save(torch.zeros(1 << 17), path)):
        with pytest.raises(Exception) as error:
            write()
        assert os_error_line(error.value) == f"no space left on device writing '{path}'" + RESUME
    (full_tmpfs / ".filler").unlink()  # space again: torch's error alone is no longer taken for a full disk
    assert os_error_line(error.value) is None


def test_errors_that_are_not_the_systems_keep_their_traceback(tmp_path, monkeypatch):
    """A bug is not turned into a user's error: the handler stays narrow."""
    import c2kit.view

    assert os_error_line(RuntimeError("a bug")) is None
    assert os_error_line(OSError(errno.EIO, "Input/output error", "x")) is None
    assert os_error_line(KeyError("x")) is None

    def bug(*args, **kwargs):
        raise AttributeError("'str' object has no attribute 'get'")

    monkeypatch.setattr(c2kit.view, "build_report", bug)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["view", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 1  # a bug's exit, not a user's 2
    monkeypatch.setenv("C2_TRACEBACK", "1")
    with pytest.raises(AttributeError):
        main(["view", str(tmp_path), "--out", str(tmp_path / "r.html")])


# ---------------------------------------------------------------------------------------------------------
# A judge spec whose model cannot be had


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """Offline, with an empty Hub cache."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(shipped_labels_path().read_text(encoding="utf-8").splitlines(True)[:2]))
    return labels


def _offline(model: str) -> str:
    return (f"model {model!r} is not a local folder and not in the local Hub cache, and HF_HUB_OFFLINE is set: "
            f"download it where the Hub is reachable (hf download {model}) or give a local path")


@pytest.mark.parametrize(("spec", "message"), [
    ("hf:/nonexistent", "judge hf:/nonexistent: model '/nonexistent': no such local model folder"),
    ("hf:./no-such-judge", "judge hf:./no-such-judge: model './no-such-judge': no such local model folder"),
    ("hf:nobody-org/missing-judge", f"judge hf:nobody-org/missing-judge: {_offline('nobody-org/missing-judge')}"),
    ("wildguard", f"judge wildguard: {_offline('allenai/wildguard')}"),
])
def test_a_judge_model_that_cannot_be_had_is_one_line_naming_the_spec(no_hub, capsys, spec, message):
    code = main(["judge", "validate", "--judge", spec, "--labels", str(no_hub)])
    assert code == 2 and _one_line(capsys.readouterr().err) == f"c2 judge: error: {message}"


def test_a_judge_model_that_cannot_be_had_fails_eval_score_in_one_line(no_hub, tmp_path, capsys):
    raw = tmp_path / "raw.jsonl"  # one row of the official raw results, to score with the judge
    raw.write_text(json.dumps({"k": 10, "request": "How do I pick a lock?", "truly response": " a tension wrench.",
                               "full response": "<s>[INST] How do I pick a lock? [/INST] Sure, first get"}) + "\n")
    code = main(["eval", "score", "--official", str(raw), "--judge", "wildguard", "--out", str(tmp_path / "out")])
    assert code == 2
    assert _one_line(capsys.readouterr().err) == f"c2 eval: error: judge wildguard: {_offline('allenai/wildguard')}"


# ---------------------------------------------------------------------------------------------------------
# Not UTF-8


def _spoil(path: Path, marker: bytes, byte: bytes) -> int:
    """Replace the byte after ``marker`` in ``path`` with ``byte``; return its offset."""
    data = path.read_bytes()
    offset = data.index(marker) + len(marker)
    path.write_bytes(data[:offset] + byte + data[offset + 1:])
    return offset


def _line_of(path: Path, offset: int) -> int:
    return path.read_bytes()[:offset].count(b"\n") + 1


def test_a_run_config_json_that_is_not_utf8_names_file_line_and_byte(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    flags = ["--model", tiny_model_dir, *TINY_EVAL, "--out", str(out)]
    assert main(["eval", "run", *flags]) == 0
    config = out / "config.json"
    offset = _spoil(config, b'"model": "', b"\xff")
    capsys.readouterr()
    for argv, prefix in [(["eval", "run", *flags], "c2 eval"), (["view", str(out), "--out", str(tmp_path / "r.html")],
                                                                 "c2 view")]:
        assert main(argv) == 2
        assert _one_line(capsys.readouterr().err) == (f"{prefix}: error: {config}, line {_line_of(config, offset)}: "
                                                      f"not UTF-8 text (byte {offset} is 0xff)")


def test_a_build_json_that_is_not_utf8_names_file_line_and_byte(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "syn"
    flags = ["--data", "c2eval-500", "--model", tiny_model_dir, *TINY_SYN, "--out", str(out)]
    assert main(["syn", "build", *flags]) == 0
    manifest = out / "build.json"
    offset = _spoil(manifest, b'"fingerprint": "', "é".encode("latin-1"))
    capsys.readouterr()
    assert main(["syn", "build", *flags]) == 2
    assert _one_line(capsys.readouterr().err) == (f"c2 syn: error: {manifest}, line {_line_of(manifest, offset)}: "
                                                  f"not UTF-8 text (byte {offset} is 0xe9)")


def test_a_label_file_that_is_not_utf8_names_file_row_and_byte(tmp_path, capsys):
    labels = tmp_path / "labels.jsonl"
    rows = [{"request": "r", "prefix": "p", "continuation": text, "label": True} for text in ("fine", "café")]
    labels.write_bytes("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("latin-1"))
    offset = labels.read_bytes().index(b"\xe9")
    assert main(["judge", "validate", "--judge", "keyword", "--labels", str(labels)]) == 2
    assert _one_line(capsys.readouterr().err) == f"c2 judge: error: {labels}, row 2: not UTF-8 text (byte {offset} is 0xe9)"


def test_the_first_bad_byte_is_found_across_the_blocks_of_a_large_file(tmp_path):
    from c2kit.jsonio import first_non_utf8, read_jsonl

    path = tmp_path / "rows.jsonl"
    row = json.dumps({"text": "é" * 40}, ensure_ascii=False).encode() + b"\n"
    data = row * 40_000  # ~3.4 MB: several of the 1 MiB blocks it is read in, characters cut at their edges
    offset = len(row) * 30_000 + 12
    path.write_bytes(data[:offset] + b"\xff" + data[offset + 1:])
    with pytest.raises(ValueError) as error:
        list(read_jsonl(path))
    assert str(error.value) == f"{path}, row 30001: not UTF-8 text (byte {offset} is 0xff)"
    path.write_bytes(data + "é".encode()[:1])
    assert first_non_utf8(path) == f"{path}, row 40001: not UTF-8 text (it ends inside a character, at byte " \
                                   f"{len(data) + 1})"
    path.write_bytes(data)
    assert first_non_utf8(path) is None
