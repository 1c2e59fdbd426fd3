"""``c2 tiny-model --out DIR`` writes only into a new or empty folder, or reuses the tiny model there: nothing else
is overwritten (the --out check every command shares, c2kit.locks.lock_output_folder)."""

from __future__ import annotations

import json

import pytest

from c2kit.cli import main

MODEL_FILES = ["c2kit-tiny-model.json", "chat_template.jinja", "config.json", "generation_config.json",
               "model.safetensors", "tokenizer.json", "tokenizer_config.json"]


def visible(folder) -> dict[str, bytes]:
    """The folder's files but hidden ones (the lock file), with their bytes."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if not path.name.startswith(".")}


def error_line(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(("files", "reason"), [
    ({"config.json": "{}", "generations.jsonl": "", "scores.json": "{}"},
     "holds files that c2 eval run writes (generations.jsonl, scores.json)"),
    ({"build.json": "{}", "README.md": "card"}, "holds files that c2 syn build writes (build.json)"),
    ({"train_config.yaml": "seed: 0\n"}, "holds files that c2 train writes (train_config.yaml)"),
    ({"config.json": "{}", "model.safetensors": "weights", "README.md": "my model", "tokenizer.json": "{}"},
     "is not empty (README.md, config.json, model.safetensors, ...) and is not a tiny model folder (it has no "
     "c2kit-tiny-model.json)"),
    ({"notes.txt": "mine"}, "is not empty (notes.txt) and is not a tiny model folder (it has no "
                            "c2kit-tiny-model.json)"),
])
def test_a_folder_holding_anything_but_a_tiny_model_is_refused(tmp_path, capsys, files, reason):
    folder = tmp_path / "taken"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    before = visible(folder)
    assert error_line(["tiny-model", "--out", str(folder)], capsys) == (
        f"c2 tiny-model: error: {folder} {reason}; c2 tiny-model needs a folder of its own: choose another --out")
    assert visible(folder) == before  # nothing written, nothing overwritten


def test_a_new_or_empty_folder_gets_a_model_and_a_tiny_model_is_reused(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".building").mkdir()  # what a killed build leaves: made again
    (empty / ".building" / "config.json").write_text("half")
    for folder in (empty, tmp_path / "new" / "model"):
        assert main(["tiny-model", "--out", str(folder)]) == 0
        assert capsys.readouterr().out == (f"tiny smoke model written to {folder} (random weights: results made "
                                           "with it mean nothing)\n")
        assert sorted(visible(folder)) == MODEL_FILES and not (folder / ".building").exists()
    made = visible(empty)
    assert main(["tiny-model", "--out", str(empty), "--seed", "1"]) == 0
    assert capsys.readouterr().out == (f"tiny smoke model already in {empty} (seed 0), reused; give another --out "
                                       "for a new one\n")
    assert visible(empty) == made



def test_the_tiny_cpu_profiles_model_can_be_built_once_and_shared(tmp_path, capsys):
    """``--hidden-size 512 --num-layers 1`` builds, byte for byte, the model ``c2 train --config tiny-cpu`` builds
    for itself, so several trainings (and one base evaluation) can share a single base folder."""
    from c2kit.training import load_config
    from c2kit.training.model import resolve_base_model

    shared = tmp_path / "base"
    assert main(["tiny-model", "--out", str(shared), "--hidden-size", "512", "--num-layers", "1"]) == 0
    capsys.readouterr()
    config = load_config("tiny-cpu", {"output_dir": str(tmp_path / "train")})
    assert (config.tiny_hidden_size, config.tiny_num_layers) == (512, 1)
    trainers_own = resolve_base_model(config)
    assert visible(shared) == visible(tmp_path / "train" / "base-model") and trainers_own.endswith("base-model")
    assert json.loads((shared / "config.json").read_text())["hidden_size"] == 512
