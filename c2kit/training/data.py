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

import difflib
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c2kit.errors import UserError
from c2kit.prefill import render_assistant_header, render_text_prefill, resolve_chat_template
from c2kit.sources import hub_dataset_error
from c2kit.training.config import TrainConfig, parse_rank_pair

TEXT_COLUMNS = ("prompt", "chosen", "rejected")
RANKED = "ranked"  # C2-Syn's config of one row per request, which the SFT objectives read
RANK_COLUMNS = ("chosen_rank", "rejected_rank")
EMPTY_CHOSEN = "empty chosen"  # the reason a pair with an empty or blank chosen response is skipped


class DataError(UserError):
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
    columns: tuple[str, ...] = TEXT_COLUMNS  # the text the data fingerprint covers

    def report(self) -> str:
        n_eval = len(self.eval) if self.eval is not None else 0
        text = (f"{self.origin}: {self.n_rows} pairs, {self.n_candidates} pass the rank filter; "
                f"training on {len(self.train)}, held out {n_eval} (from requests not trained on)")
        if self.skipped:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.skipped.items()))
            text += f"; skipped {sum(self.skipped.values())} bad pairs before selecting ({reasons})"
        if self.skipped[EMPTY_CHOSEN]:  # said on a line of its own: a third of an older build's pairs may go
            text += (f"\n{self.origin}: dropped {self.skipped[EMPTY_CHOSEN]:,} pairs whose chosen response is empty "
                     "(an older C2-Syn build keeps the requests whose SR came back empty; 'c2 syn build' now "
                     "generates such an SR again or drops its request)")
        return text


def load_pairs(dataset: str, *, config_name: str = "pairs", split: str = "train", revision: str | None = None,
               columns: tuple[str, ...] = TEXT_COLUMNS):
    """``datasets.load_dataset(dataset, config_name, split=split)`` with a clear error when it fails, or when it
    lacks one of ``columns`` (C2-Syn's pair columns by default; the SFT objectives read its ``ranked`` config).

    ``dataset`` is a local directory or a Hub dataset id; a path-like name that is not a local directory
    (``runs/c2-synn`` when ``runs/`` exists, ``./c2-syn``, ``/data/c2-syn``) is reported as a missing folder,
    not tried on the Hub.
    """
    import datasets

    check_dataset(dataset, config_name=config_name, ask_hub=False)  # load_dataset asks the Hub itself
    # A local directory rebuilt in place with the same file names is served from a stale cache by datasets
    # 5.2 (its cache key ignores the new contents), so local data is always re-read, without checking it
    # against the split sizes recorded for the old contents.
    local = {"download_mode": "force_redownload", "verification_mode": "no_checks"} if Path(dataset).is_dir() else {}
    try:
        loaded = datasets.load_dataset(dataset, config_name, split=split, revision=revision, **local)
    except Exception as error:  # datasets raises many types (FileNotFound, ValueError, HF hub errors)
        # Offline, no such dataset, gated: one line that says a local folder works.
        unreachable = hub_dataset_error(dataset, error, "give the local folder written by 'c2 syn build --out', "
                                        "or download the dataset where the Hub is reachable")
        if unreachable is not None:
            raise DataError(str(unreachable)) from None
        raise DataError(f"{dataset}: cannot load config {config_name!r}, split {split!r}: {error}") from error
    missing = [column for column in columns if column not in loaded.column_names]
    if missing:
        has = f"C2-Syn pairs have {list(TEXT_COLUMNS + RANK_COLUMNS)} and source_id" if columns == TEXT_COLUMNS else (
            f"C2-Syn's {config_name!r} config has {list(columns)}")
        raise DataError(f"{dataset} [{config_name}/{split}]: missing column(s) {missing}; its columns are "
                        f"{list(loaded.column_names)}; {has}: rename yours to these (datasets' rename_columns)")
    return loaded


PAIRS_WANTED = ("--data wants the folder 'c2 syn build --out' wrote (e.g. runs/c2-syn), or preference pairs of your "
                "own with prompt, chosen and rejected columns (a dataset folder or a Hub id ORG/NAME)")


def check_dataset(dataset: str, *, config_name: str = "pairs", revision: str | None = None,
                  ask_hub: bool = True) -> None:
    """What can be told of ``--data`` without loading it, checked before anything loads (a DataError in one line):
    a path that is not there, a folder that holds another command's output (an eval run's results, a training
    run), a bare name datasets would serve from an older cached build, a dataset without the config
    ``config_name``, and (``ask_hub``) a Hub dataset that cannot be reached or has no such config."""
    import datasets

    from c2kit.locks import OUTPUT_KINDS, output_of

    check_local_dataset(dataset)
    if Path(dataset).is_dir():
        other = output_of(dataset, ignore=OUTPUT_KINDS["c2 syn build"])
        if other is not None:
            command, signs = other
            raise DataError(f"{dataset} is a {OUTPUT_KINDS[command].what} written by {command} (it holds {', '.join(signs)}), "
                            f"not preference pairs: {PAIRS_WANTED}")
    from c2_syn_dataset.stale_cache import bare_name_warning

    stale = bare_name_warning(dataset, config_name)
    if stale is not None:  # datasets would train on whichever build it cached last under this name
        raise DataError(f"{stale} For c2 train: --data /path/to/{dataset}")
    if not ask_hub and not Path(dataset).is_dir():
        return
    try:
        configs = datasets.get_dataset_config_names(dataset, revision=revision)
    except Exception as error:  # datasets raises many types (FileNotFound, ValueError, HF hub errors)
        unreachable = hub_dataset_error(dataset, error, "give the local folder written by 'c2 syn build --out', "
                                        "or download the dataset where the Hub is reachable")
        if unreachable is not None:
            raise DataError(str(unreachable)) from None
        raise DataError(f"{dataset}: not readable as a dataset ({type(error).__name__}: "
                        f"{' '.join(str(error).split())[:300]}); {PAIRS_WANTED}") from None
    if config_name == RANKED and RANKED not in configs:  # what the SFT objectives make their rows from
        raise DataError(f"{dataset} has no config 'ranked' (its configs: {', '.join(configs)}): recovery-sft and "
                        "derta make their rows from a C2-Syn build's ranked groups; --data wants the folder 'c2 syn "
                        "build --out' wrote (for the tiny demo, the folder python -m c2kit.training.tiny_data writes)")
    if config_name not in configs:
        own = (f"; for pairs of your own in it, set --dataset_config {configs[0]}" if len(configs) == 1 else
               f"; for pairs of your own in it, set --dataset_config to one of {', '.join(configs)}")
        raise DataError(f"{dataset} has no config {config_name!r} (its configs: {', '.join(configs)}), so it is not a "
                        f"C2-Syn build (those have 'pairs'){own}; {PAIRS_WANTED}")


def looks_like_path(dataset: str) -> bool:
    """Whether ``dataset`` names a local folder rather than a Hub id (``ORG/NAME`` or a bare ``NAME``).

    Path-like: starts with ``.``, ``/`` or ``~``, has a backslash, more than one ``/`` or a trailing one, or
    its first component is a local directory (``runs/c2-syn`` when ``runs/`` exists).
    """
    if dataset.startswith((".", "/", "~")) or "\\" in dataset or dataset.count("/") > 1 or dataset.endswith("/"):
        return True
    return "/" in dataset and Path(dataset.split("/", 1)[0]).is_dir()


def check_local_dataset(dataset: str) -> None:
    """Raise DataError for a file (not a dataset folder), and "no such dataset folder" for a path-like ``dataset``
    that is not a local directory."""
    path = Path(dataset).expanduser()
    if path.is_dir():
        return
    if path.exists():  # a bare file name too: it is no Hub id
        raise DataError(f"{dataset}: not a dataset folder (a file); give the folder written by 'c2 syn build --out'")
    if not looks_like_path(dataset):
        return
    hint = ""
    if path.parent.is_dir():
        siblings = [child.name for child in path.parent.iterdir() if child.is_dir()]
        close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.6)
        if close:
            hint = f"; did you mean {str(path.parent / close[0])!r}?"
    raise DataError(f"{dataset}: no such dataset folder ({path.resolve()} does not exist){hint} Build one with "
                    "'c2 syn build ... --out DIR', or give a Hub dataset id (ORG/NAME)")


def split_pairs(pairs, config: TrainConfig, *, origin: str = "pairs") -> PairSplit:
    """Filter by rank, hold out whole requests for evaluation, and subsample the training pairs (seeded)."""
    keep = _rank_filter(pairs, config, origin)
    # Bad pairs go first, so that num_pairs and num_eval_pairs count usable pairs only.
    skipped: Counter = Counter()
    n_candidates = len(keep)
    keep = drop_bad_rows(pairs, keep, skipped)
    groups = _column(pairs, "source_id" if "source_id" in pairs.column_names else "prompt")
    by_group: dict[str, list[int]] = {}
    for index in keep:
        by_group.setdefault(str(groups[index]), []).append(index)
    train_indices, eval_indices = split_by_group(by_group, config)
    if not train_indices:
        raise DataError(f"{origin}: no training pairs left after the rank filter, the bad pairs "
                        f"({sum(skipped.values())}) and the held-out split")

    train = pairs.select(train_indices)
    held_out = pairs.select(eval_indices) if eval_indices else None
    return PairSplit(train, held_out, origin, len(pairs), n_candidates, skipped)


def split_by_group(by_group: dict[str, list[int]], config: TrainConfig, *,
                   train_only: list[int] | None = None) -> tuple[list[int], list[int]]:
    """(training, held-out) row indices: whole groups (a request's rows) are held out until ``num_eval_pairs``
    rows, the rest and ``train_only`` are shuffled and cut to ``num_pairs``; all seeded by ``config.seed``."""
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
    train_indices = [index for group in order[n_eval_groups:] for index in by_group[group]] + list(train_only or [])
    rng.shuffle(train_indices)
    if config.num_pairs is not None:
        train_indices = train_indices[: config.num_pairs]
    return train_indices, eval_indices


def pairs_fingerprint(split: PairSplit) -> str:
    """sha256 of the training and held-out pairs' text, in order: the data a run trains and measures on.

    It does not depend on where the dataset lives, so a moved copy of the same data has the same fingerprint.
    """
    digest = hashlib.sha256()
    for part in (split.train, split.eval):
        digest.update(b"\x00")  # separates the training pairs from the held-out ones
        if part is not None:
            for batch in part.select_columns(list(split.columns)).iter(batch_size=1000):
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


def drop_bad_rows(pairs, indices: list[int], skipped: Counter, *,
                  columns: tuple[str, ...] = TEXT_COLUMNS) -> list[int]:
    """``indices`` without the rows that have empty or non-text ``columns`` or identical responses (each reason
    counted)."""
    texts = {column: _column(pairs, column) for column in columns}

    def reason(index: int) -> str | None:
        for column in columns:
            value = texts[column][index]
            if not isinstance(value, str) or not value.strip():
                return f"empty {column}"
        if "chosen" in texts and texts["chosen"][index] == texts["rejected"][index]:
            return "chosen == rejected"
        return None

    kept = []
    for index in indices:
        why = reason(index)
        if why is None:
            kept.append(index)
        else:
            skipped[why] += 1
    return kept


def adds_bos(tokenizer) -> bool:
    """Whether tokenising text prepends a BOS token (Llama-2 does; Qwen2 and ChatML tiny models do not)."""
    ids = tokenizer("a")["input_ids"]
    return tokenizer.bos_token_id is not None and bool(ids) and ids[0] == tokenizer.bos_token_id


def prompt_renderer(tokenizer, *, plain_template: bool = False):
    """``render(request, prefix="")``: the chat prompt of ``request`` up to the assistant's answer, prefilled with
    ``prefix`` when there is one (the text C2-Eval prefills).

    A template that writes the BOS token itself (Llama-2's ``<s>[INST]``) would get a second BOS when TRL
    tokenises the prompt, so the textual BOS is dropped when the tokenizer adds one.
    """
    template = resolve_chat_template(tokenizer, plain_template)
    strip_bos = tokenizer.bos_token if adds_bos(tokenizer) else None

    def render(request: str, prefix: str = "") -> str:
        prompt = (render_text_prefill(tokenizer, request, prefix, template) if prefix
                  else render_assistant_header(tokenizer, request, template))
        return prompt[len(strip_bos):] if strip_bos and prompt.startswith(strip_bos) else prompt

    return render


def completion_end(tokenizer) -> str:
    """The EOS token every completion ends with (the end-of-turn token of the profiles' chat templates)."""
    if not tokenizer.eos_token:
        raise DataError(f"{tokenizer.name_or_path}: the tokenizer has no EOS token to end the completions with")
    return tokenizer.eos_token


def to_dpo_format(pairs, tokenizer, *, plain_template: bool = False):
    """Rows ``prompt`` (rendered chat prompt, :func:`prompt_renderer`), ``chosen`` and ``rejected`` (completion +
    EOS) for TRL."""
    render_prompt = prompt_renderer(tokenizer, plain_template=plain_template)
    eos = completion_end(tokenizer)

    def render(row: dict) -> dict:
        return {
            "prompt": render_prompt(row["prompt"]),
            "chosen": row["chosen"] if row["chosen"].endswith(eos) else row["chosen"] + eos,
            "rejected": row["rejected"] if row["rejected"].endswith(eos) else row["rejected"] + eos,
        }

    return pairs.map(render, remove_columns=pairs.column_names, desc="rendering prompts")
