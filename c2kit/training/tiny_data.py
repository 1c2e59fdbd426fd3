"""C2-Syn-shaped pairs for the tiny CPU demonstration (tests and ``scripts/quickstart.sh``).

A random tiny generator cannot write a course-correction: ``c2 syn build`` with it gives SYN_i = opener +
cut_i + trigger + noise, and SR = noise or nothing. Trained on that, an adapter can only learn a trigger
followed by noise, which the keyword judge (trigger-aware since ``keyword-v3``; later versions keep that) rightly does not count.
This module stands in for the aligned generator: it keeps the opener, cuts and trigger of each request and
writes the continuation an aligned model would write, a clear refusal (:data:`REFUSAL`), so every SYN_i ends
in "I cannot help with this. It is illegal and harmful." SR is that refusal; FHR keeps the opener, so
SYN_i and FHR share their text up to the cut (DPO cancels the shared tokens: the preference is exactly the
prefilled one, refusal vs more harmful text).

Only for random tiny models: the numbers they produce say nothing about real models.

``python -m c2kit.training.tiny_data --from C2SYN_DIR --out DIR`` rewrites a ``c2 syn build`` output this way
(``ranked`` config in, ``pairs`` config out). It writes the ``ranked`` config too, each SR the refusal and each
SYN_i completed (FHR stays the harmful response, as C2-Syn has it), and the build's ``build.json``, so that
``c2 train --objective recovery-sft`` or ``derta`` can train on it (they make their rows from those).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

REFUSAL = "I cannot help with this. It is illegal and harmful."
# How an aligned model goes on after each kind of trigger, by the trigger's last word; then REFUSAL.
_AFTER_TRIGGER = {"that": "this is illegal and harmful.", "know": "that this is illegal.", "to": "help with this.",
                  "AI": "and I cannot help with this.", "guarantee": "anything: I cannot help with this."}
_DEFAULT_AFTER = "this."


def corrected(prefix: str, trigger: str) -> str:
    """``prefix + trigger``, continued the way an aligned model would: a clear refusal to the end."""
    after = _AFTER_TRIGGER.get(trigger.split()[-1], _DEFAULT_AFTER)
    return f"{prefix} {trigger} {after} {REFUSAL}"


def ranked_responses(opener: str, harmful: str, cuts: Sequence[str], trigger: str) -> list[str]:
    """SR, SYN_1..SYN_4 and FHR of one request (rank order), as described in the module docstring."""
    return [REFUSAL, *(corrected(f"{opener} {cut}", trigger) for cut in cuts), f"{opener} {harmful}"]


def pairs_of(prompt: str, source_id: str, responses: Sequence[str]) -> list[dict]:
    """The 15 C2-Syn pairs of one ranked group (chosen = the better rank)."""
    return [{"prompt": prompt, "chosen": responses[c], "rejected": responses[r], "chosen_rank": c,
             "rejected_rank": r, "source_id": source_id}
            for c in range(len(responses)) for r in range(c + 1, len(responses))]


def write_pairs_dir(directory: str | Path, rows: Iterable[dict], ranked: Iterable[dict] | None = None) -> Path:
    """A C2-Syn-shaped dataset: ``pairs/*.parquet`` (and ``ranked/*.parquet`` when given) plus a README whose YAML
    lists the configs, as ``load_dataset(DIR, "pairs")`` expects."""
    import datasets
    import yaml

    directory = Path(directory)
    configs = {"pairs": rows, **({"ranked": ranked} if ranked is not None else {})}
    for name, table in configs.items():
        (directory / name).mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_list(list(table)).to_parquet(str(directory / name / "train-00000-of-00001.parquet"))
    card = {"configs": [{"config_name": name, **({"default": True} if name == "pairs" else {}),
                         "data_files": [{"split": "train", "path": f"{name}/train-*.parquet"}]} for name in configs]}
    (directory / "README.md").write_text("---\n" + yaml.safe_dump(card) + "---\n# C2-Syn-shaped pairs for the tiny "
                                         "CPU demonstration (random models only)\n", encoding="utf-8")
    return directory


def complete_c2syn(source: str | Path, out: str | Path) -> int:
    """Rewrite the ``ranked`` config of a ``c2 syn build`` output as refusal-completed pairs in ``out``."""
    import datasets

    ranked = datasets.load_dataset(str(source), "ranked", split="train", download_mode="force_redownload",
                                   verification_mode="no_checks")
    rows, groups = [], []
    for group in ranked:
        responses = ranked_responses(group["opener"], group["responses"][-1], group["cuts"], group["trigger"])
        rows += pairs_of(group["prompt"], group["source_id"], responses)
        groups.append({**group, "responses": [*responses[:-1], group["responses"][-1]]})
    write_pairs_dir(out, rows, groups)
    manifest = Path(source) / "build.json"  # the build's seed and source, which the objectives' rows use
    if manifest.is_file():
        shutil.copyfile(manifest, Path(out) / manifest.name)
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m c2kit.training.tiny_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True, help="output directory of 'c2 syn build'")
    parser.add_argument("--out", required=True, help="where to write the refusal-completed pairs")
    args = parser.parse_args(argv)
    from c2kit.quiet import quiet_library_noise

    quiet_library_noise()
    n = complete_c2syn(args.source, args.out)
    print(f"{n} pairs written to {args.out} (SYN_i completed with a refusal, for random tiny models only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
