"""Name the cached copy that ``load_dataset(BARE_NAME)`` would serve instead of a local C2-Syn build.

``datasets`` reads a name with no folder in it (``"c2-syn"``) as a local folder only when one of that name
is in the current directory; otherwise it asks the Hub, and when the Hub has no such dataset or cannot be
reached it falls back, with a log line that is easy to miss, to the copy it cached last under that name,
from whichever folder called ``c2-syn`` was loaded before. That can be an older build with other rows.

:func:`bare_name_warning` resolves the cached copy exactly as ``datasets`` does and says which it is;
``python -m c2_syn_dataset.stale_cache NAME [CONFIG]`` prints the same. Loading by a path
(``"./c2-syn"``, ``"runs/c2-syn"``, an absolute path) never takes this fallback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def is_bare_name(name: str) -> bool:
    """A name ``datasets`` resolves as a Hub id unless a folder of that name is in the current directory."""
    return not (name.startswith((".", "/", "~")) or "/" in name or os.sep in name or "\\" in name)


def served_from_cache(name: str, config: str | None = "pairs",
                      cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The cache folder ``datasets.load_dataset(name, config)`` falls back to, or None when it holds none.

    The choice is datasets' own (its cache module picks the most recently modified copy of the config). That
    function is private to datasets: where a version lacks it or calls it otherwise, this says None (no
    warning) rather than fail a build or a training run over a hint.
    """
    import datasets
    from datasets.naming import camelcase_to_snakecase

    try:
        from datasets.packaged_modules.cache.cache import _find_hash_in_cache
    except (ImportError, AttributeError):
        return None
    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity_error()  # it logs the same finding, which the caller's message replaces
    try:
        config_id, version, config_hash = _find_hash_in_cache(name, config, cache_dir, {}, None)
    except (ValueError, TypeError):  # nothing cached under this name (and config), or another signature
        return None
    finally:
        datasets.logging.set_verbosity(verbosity)
    root = Path(os.path.expanduser(str(cache_dir or datasets.config.HF_DATASETS_CACHE)))
    return root / camelcase_to_snakecase(name) / config_id / version / config_hash  # the folder datasets names


def bare_name_warning(name: str, config: str | None = "pairs",
                      cache_dir: str | os.PathLike | None = None) -> str | None:
    """A warning naming the cached copy a bare ``name`` would load instead of a local build, else None.

    None when ``name`` is a path, when a folder called ``name`` is in the current directory (datasets reads
    it), or when nothing is cached under ``name`` (the load then fails loudly instead).
    """
    if not is_bare_name(name) or Path(name).is_dir():
        return None
    cached = served_from_cache(name, config, cache_dir)
    if cached is None:
        return None
    info = json.loads((cached / "dataset_info.json").read_text(encoding="utf-8"))
    rows = ", ".join(f"{split['num_examples']:,} {split['name']} rows" for split in info.get("splits", {}).values())
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(cached.stat().st_mtime))
    call = f"load_dataset({name!r}, {config!r})" if config else f"load_dataset({name!r})"
    return (f"{call} does not read your build: there is no folder {name!r} in {Path.cwd()}, so "
            f"datasets treats it as a Hub id and, finding none, serves the copy it cached last under that name: "
            f"{cached} ({rows or 'size unknown'}, cached {when}), made from whichever folder called {name!r} was "
            f"loaded before. Load your build by its path instead, e.g. load_dataset('/path/to/{name}', "
            f"{config or 'pairs'!r}) (c2 syn build prints the exact call).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m c2_syn_dataset.stale_cache",
                                     description="Say which cached copy load_dataset(NAME, CONFIG) would serve "
                                     "instead of a local C2-Syn build, if any.")
    parser.add_argument("name", help="the name given to load_dataset, e.g. c2-syn")
    parser.add_argument("config", nargs="?", default="pairs", help="config name (default: pairs)")
    parser.add_argument("--cache-dir", help="datasets cache (default: HF_DATASETS_CACHE)")
    args = parser.parse_args(argv)
    warning = bare_name_warning(args.name, args.config, args.cache_dir)
    if warning is None:
        print(f"load_dataset({args.name!r}, {args.config!r}) from {Path.cwd()} reads a folder or fails; "
              "it does not fall back to a cached copy")
        return 0
    print(f"warning: {warning}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
