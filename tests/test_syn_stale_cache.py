"""A bare load_dataset("c2-syn") from another folder serves an older cached build; stale_cache names that copy."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from c2_syn_dataset.stale_cache import bare_name_warning, is_bare_name, main, served_from_cache


def write_build(folder, build_id: str, n_rows: int) -> None:
    """A C2-Syn-shaped folder: the card's configs and one Parquet file of pairs, named with the build id."""
    (folder / "pairs").mkdir(parents=True)
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: pairs\n  data_files:\n  - split: train\n"
        f"    path: pairs/train-{build_id}-*.parquet\n  default: true\n---\n", encoding="utf-8")
    table = pa.table({"prompt": [f"request {i}" for i in range(n_rows)], "chosen": ["no"] * n_rows,
                      "rejected": ["yes"] * n_rows, "build": [build_id] * n_rows})
    pq.write_table(table, folder / "pairs" / f"train-{build_id}-00000-of-00001.parquet")


@pytest.fixture
def old_and_new_builds(tmp_path, monkeypatch):
    """An old 9-row build loaded once by its bare name, then a new 3-row build elsewhere (offline: conftest)."""
    cache = tmp_path / "hf-cache"
    write_build(tmp_path / "old" / "c2-syn", "aaaa11112222", 9)
    write_build(tmp_path / "new" / "c2-syn", "bbbb33334444", 3)
    monkeypatch.chdir(tmp_path / "old")
    assert load_dataset("c2-syn", "pairs", split="train", cache_dir=str(cache)).num_rows == 9
    (tmp_path / "notebooks").mkdir()
    return tmp_path, cache


def test_bare_name_elsewhere_is_served_the_old_build_and_the_warning_names_that_copy(old_and_new_builds, monkeypatch):
    root, cache = old_and_new_builds
    monkeypatch.chdir(root / "notebooks")
    stale = load_dataset("c2-syn", "pairs", split="train", cache_dir=str(cache))
    assert stale.num_rows == 9 and set(stale["build"]) == {"aaaa11112222"}  # the problem, with this datasets version

    served = served_from_cache("c2-syn", "pairs", cache)
    assert served == cache / "c2-syn" / "pairs" / "0.0.0" / served.name
    assert all(file["filename"].startswith(str(served) + "/") for file in stale.cache_files)  # datasets' own pick

    warning = bare_name_warning("c2-syn", "pairs", cache)
    assert warning.startswith(f"load_dataset('c2-syn', 'pairs') does not read your build: there is no folder "
                              f"'c2-syn' in {root / 'notebooks'}, so datasets treats it as a Hub id")
    assert f"{served} (9 train rows, cached " in warning
    assert "Load your build by its path instead, e.g. load_dataset('/path/to/c2-syn', 'pairs')" in warning

    # The path loads the new build, and a path is never warned about.
    assert load_dataset(str(root / "new" / "c2-syn"), "pairs", split="train", cache_dir=str(cache)).num_rows == 3
    assert bare_name_warning(str(root / "new" / "c2-syn"), "pairs", cache) is None


def test_no_warning_where_the_bare_name_is_a_folder_or_nothing_is_cached(old_and_new_builds, monkeypatch):
    root, cache = old_and_new_builds
    monkeypatch.chdir(root / "new")  # datasets reads ./c2-syn here
    assert bare_name_warning("c2-syn", "pairs", cache) is None
    assert load_dataset("c2-syn", "pairs", split="train", cache_dir=str(cache)).num_rows == 3
    monkeypatch.chdir(root / "notebooks")
    assert bare_name_warning("other-name", "pairs", cache) is None
    assert served_from_cache("c2-syn", "ranked", cache) is None  # no such config cached


def test_is_bare_name():
    assert is_bare_name("c2-syn")
    assert not any(is_bare_name(name) for name in ("./c2-syn", "runs/c2-syn", "/data/c2-syn", "~/c2-syn", "org/c2-syn"))


def test_command_line(old_and_new_builds, monkeypatch, capsys):
    root, cache = old_and_new_builds
    monkeypatch.chdir(root / "notebooks")
    assert main(["c2-syn", "--cache-dir", str(cache)]) == 1
    assert capsys.readouterr().err.startswith("warning: load_dataset('c2-syn', 'pairs') does not read your build")
    assert main(["./c2-syn", "--cache-dir", str(cache)]) == 0
    assert "reads a folder or fails; it does not fall back to a cached copy" in capsys.readouterr().out


def test_c2_train_refuses_a_bare_name_that_would_train_on_the_old_build(old_and_new_builds, monkeypatch):
    import datasets

    from c2kit.training.data import DataError, load_pairs

    root, cache = old_and_new_builds
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.chdir(root / "notebooks")
    with pytest.raises(DataError, match=r"^load_dataset\('c2-syn', 'pairs'\) does not read your build: .* "
                                        r"\(9 train rows, cached .*For c2 train: --data /path/to/c2-syn$"):
        load_pairs("c2-syn")


@pytest.mark.parametrize("change", ["removed", "module gone", "other signature"])
def test_a_datasets_without_its_private_cache_lookup_gives_no_warning_and_no_crash(old_and_new_builds, monkeypatch,
                                                                                   change):
    """The lookup is datasets' private _find_hash_in_cache: another datasets version may lack it or change it."""
    import sys

    from datasets.packaged_modules.cache import cache as cache_module

    root, cache = old_and_new_builds
    monkeypatch.chdir(root / "notebooks")  # where the warning is due while the lookup is there
    assert bare_name_warning("c2-syn", "pairs", cache) is not None
    if change == "removed":
        monkeypatch.delattr(cache_module, "_find_hash_in_cache")
    elif change == "module gone":
        monkeypatch.setitem(sys.modules, "datasets.packaged_modules.cache.cache", None)
    else:
        monkeypatch.setattr(cache_module, "_find_hash_in_cache", lambda dataset_name, config_name: None)
    assert served_from_cache("c2-syn", "pairs", cache) is None
    assert bare_name_warning("c2-syn", "pairs", cache) is None
    assert main(["c2-syn", "--cache-dir", str(cache)]) == 0
