"""C2-Syn pairs for DPO: load, filter by rank, split by request, subsample, render prompts.

The held-out pairs come from requests that are never trained on (the 15 pairs of one request share its
prompt and responses, so a split by pair would leak them). Everything is seeded: the same config selects
the same pairs.

Prompts are rendered here, as strings, with the model's chat template: the user turn followed by the
assistant header, exactly the context C2-Eval prefills into (``c2kit.prefill.render_assistant_header``).
Completions are the assistant's text followed by EOS, which is the end-of-turn token of the chat templates
the profiles target (``</s>`` for Llama-2, ``<|im_end|>`` for Qwen2). Why strings and not TRL's
conversational format: TRL renders a conversational prompt with a fresh generation prompt and tokenises
prompt + completion through the template, whose whitespace handling differs between templates (Llama-2
trims the assistant text); a string prompt is tokenised exactly as C2-Eval tokenises its prompts.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c2kit.prefill import render_assistant_header, resolve_chat_template
from c2kit.training.config import TrainConfig, parse_rank_pair

TEXT_COLUMNS = ("prompt", "chosen", "rejected")
RANK_COLUMNS = ("chosen_rank", "rejected_rank")


class DataError(ValueError):
    """The preference data cannot be used; the message names the dataset and the column or row."""


@dataclass
class PairSplit:
    """Training and held-out pairs (raw C2-Syn columns), and what was left out and why."""

    train: Any  # datasets.Dataset
    eval: Any | None
    origin: str
    n_rows: int
    n_candidates: int
    skipped: Counter = field(default_factory=Counter)

    def report(self) -> str:
        n_eval = len(self.eval) if self.eval is not None else 0
        text = (f"{self.origin}: {self.n_rows} pairs, {self.n_candidates} pass the rank filter; "
                f"training on {len(self.train)}, held out {n_eval} (from requests not trained on)")
        if self.skipped:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.skipped.items()))
            text += f"; skipped {sum(self.skipped.values())} bad pairs ({reasons})"
        return text


def load_pairs(dataset: str, *, config_name: str = "pairs", split: str = "train", revision: str | None = None):
    """``datasets.load_dataset(dataset, config_name, split=split)`` with a clear error when it fails."""
    import datasets

    # A local directory rebuilt in place with the same file names is served from a stale cache by datasets
    # 5.2 (its cache key ignores the new contents), so local data is always re-read, without checking it
    # against the split sizes recorded for the old contents.
    local = {"download_mode": "force_redownload", "verification_mode": "no_checks"} if Path(dataset).is_dir() else {}
    try:
        loaded = datasets.load_dataset(dataset, config_name, split=split, revision=revision, **local)
    except Exception as error:  # datasets raises many types (FileNotFound, ValueError, HF hub errors)
        raise DataError(f"{dataset}: cannot load config {config_name!r}, split {split!r}: {error}") from error
    missing = [column for column in TEXT_COLUMNS if column not in loaded.column_names]
    if missing:
        raise DataError(f"{dataset} [{config_name}/{split}]: missing column(s) {missing}; "
                        f"C2-Syn pairs have {list(TEXT_COLUMNS + RANK_COLUMNS)} and source_id")
    return loaded


def split_pairs(pairs, config: TrainConfig, *, origin: str = "pairs") -> PairSplit:
    """Filter by rank, hold out whole requests for evaluation, and subsample the training pairs (seeded)."""
    keep = _rank_filter(pairs, config, origin)
    groups = _column(pairs, "source_id" if "source_id" in pairs.column_names else "prompt")
    by_group: dict[str, list[int]] = {}
    for index in keep:
        by_group.setdefault(str(groups[index]), []).append(index)

    rng = random.Random(config.seed)
    order = sorted(by_group)
    rng.shuffle(order)
    eval_indices: list[int] = []
    n_eval_groups = 0
    while len(eval_indices) < config.num_eval_pairs and n_eval_groups < len(order) - 1:  # keep one for training
        eval_indices += by_group[order[n_eval_groups]]
        n_eval_groups += 1
    rng.shuffle(eval_indices)
    eval_indices = eval_indices[: config.num_eval_pairs]
    train_indices = [index for group in order[n_eval_groups:] for index in by_group[group]]
    rng.shuffle(train_indices)
    if config.num_pairs is not None:
        train_indices = train_indices[: config.num_pairs]
    if not train_indices:
        raise DataError(f"{origin}: no training pairs left after the rank filter and the held-out split")

    skipped: Counter = Counter()
    train = _drop_bad_pairs(pairs.select(train_indices), skipped)
    held_out = _drop_bad_pairs(pairs.select(eval_indices), skipped) if eval_indices else None
    return PairSplit(train, held_out, origin, len(pairs), len(keep), skipped)


def pairs_fingerprint(split: PairSplit) -> str:
    """sha256 of the training and held-out pairs' text, in order: the data a run trains and measures on.

    It does not depend on where the dataset lives, so a moved copy of the same data has the same fingerprint.
    """
    digest = hashlib.sha256()
    for part in (split.train, split.eval):
        digest.update(b"\x00")  # separates the training pairs from the held-out ones
        if part is not None:
            for batch in part.select_columns(list(TEXT_COLUMNS)).iter(batch_size=1000):
                digest.update(json.dumps(batch, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def _rank_filter(pairs, config: TrainConfig, origin: str) -> list[int]:
    wanted = {parse_rank_pair(text) for text in config.rank_pairs or []}
    if config.min_rank_gap == 1 and not wanted:
        return list(range(len(pairs)))
    missing = [column for column in RANK_COLUMNS if column not in pairs.column_names]
    if missing:
        raise DataError(f"{origin}: min_rank_gap/rank_pairs need the column(s) {missing}")
    chosen, rejected = _column(pairs, "chosen_rank"), _column(pairs, "rejected_rank")
    return [index for index, (c, r) in enumerate(zip(chosen, rejected, strict=True))
            if r - c >= config.min_rank_gap and (not wanted or (c, r) in wanted)]


def _column(pairs, name: str) -> list:
    return pairs[name][:]  # one Arrow read; indexing the lazy Column row by row is slow


def _drop_bad_pairs(pairs, skipped: Counter):
    """Drop rows with empty or non-text fields or identical responses, counting each reason."""
    def reason(row: dict) -> str | None:
        for column in TEXT_COLUMNS:
            if not isinstance(row[column], str) or not row[column].strip():
                return f"empty {column}"
        if row["chosen"] == row["rejected"]:
            return "chosen == rejected"
        return None

    reasons = [reason(row) for row in pairs.select_columns(list(TEXT_COLUMNS))]
    skipped.update(r for r in reasons if r is not None)
    if not any(reasons):
        return pairs
    return pairs.select([index for index, r in enumerate(reasons) if r is None])


def adds_bos(tokenizer) -> bool:
    """Whether tokenising text prepends a BOS token (Llama-2 does; Qwen2 and ChatML tiny models do not)."""
    ids = tokenizer("a")["input_ids"]
    return tokenizer.bos_token_id is not None and bool(ids) and ids[0] == tokenizer.bos_token_id


def to_dpo_format(pairs, tokenizer, *, plain_template: bool = False):
    """Rows ``prompt`` (rendered chat prompt), ``chosen`` and ``rejected`` (completion + EOS) for TRL.

    A template that writes the BOS token itself (Llama-2's ``<s>[INST]``) would get a second BOS when TRL
    tokenises the prompt, so the textual BOS is dropped when the tokenizer adds one.
    """
    template = resolve_chat_template(tokenizer, plain_template)
    eos = tokenizer.eos_token
    if not eos:
        raise DataError(f"{tokenizer.name_or_path}: the tokenizer has no EOS token to end the completions with")
    strip_bos = tokenizer.bos_token if adds_bos(tokenizer) else None

    def render(row: dict) -> dict:
        prompt = render_assistant_header(tokenizer, row["prompt"], template)
        if strip_bos and prompt.startswith(strip_bos):
            prompt = prompt[len(strip_bos):]
        return {
            "prompt": prompt,
            "chosen": row["chosen"] if row["chosen"].endswith(eos) else row["chosen"] + eos,
            "rejected": row["rejected"] if row["rejected"].endswith(eos) else row["rejected"] + eos,
        }

    return pairs.map(render, remove_columns=pairs.column_names, desc="rendering prompts")
