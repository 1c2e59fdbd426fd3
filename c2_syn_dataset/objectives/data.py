"""An objective's training rows, made from a C2-Syn build: its ``ranked`` groups, and its source for utility rows.

:func:`objective_data` is the one place the rows are made; the ``datasets`` builder
(:mod:`c2_syn_dataset.objectives.builder`), ``c2 train --objective`` and the export
(``python -m c2_syn_dataset.objectives``) all call it.

The safe response of every row is the build's SR: the generator's own answer to the bare request, generated once
and cached by ``c2 syn build``, so the objectives train on the same requests, cuts, openers, seeds and
generations as C2-DPO. A request whose SR the default keyword judge does not read as a refusal (a generator that
complied, or answered with noise) is left out and counted: training the transition to a compliant answer would
teach the opposite of the objective. Why SR rather than the source's safe response: the source has a safe
response for only some requests (PKU-SafeRLHF rows may have both responses unsafe), it is often a hedged partial
answer rather than a refusal, and SR is what the aligned model itself says, so the objectives teach the model its
own refusal, as Qi et al. do with Llama-2-7B-Chat's refusals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from c2_syn_dataset.objectives.recipes import (RECIPES, RTO, UTILITY, Recipe, backtrack_pair, continue_pair,
                                               request_rows)
from c2_syn_dataset.objectives.utility import utility_pool
from c2kit.errors import UserError

OBJECTIVE_SCHEMA = pa.schema([
    pa.field("kind", pa.string()),  # recovery, mle, rto or utility (c2_syn_dataset.objectives.recipes)
    pa.field("source_id", pa.string()),
    pa.field("request", pa.string()),
    pa.field("prefix", pa.string()),  # the assistant turn starts with it ("" = none)
    pa.field("cut", pa.int32()),  # 0 = no prefix, 1..4 = C2-Syn's cut i, 5 = the whole harmful response
    pa.field("response", pa.string()),  # what follows the prefix
])
PAIR_SCHEMA = pa.schema([  # backtrack's DPO pairs: after request + prefix, chosen is preferred to rejected
    pa.field("kind", pa.string()),  # backtrack (reset chosen) or continue (going on chosen)
    pa.field("source_id", pa.string()),
    pa.field("request", pa.string()),
    pa.field("prefix", pa.string()),
    pa.field("cut", pa.int32()),  # the cut of the harmful response (backtrack) or of the safe answer (continue)
    pa.field("chosen", pa.string()),
    pa.field("rejected", pa.string()),
])
PAIRS_SUFFIX = "-dpo"  # the config name of an objective's DPO pairs beside its rows (backtrack-dpo)
NOT_A_REFUSAL = "SR not read as a refusal by the keyword judge"


class ObjectiveDataError(UserError):
    """The build cannot give this objective's rows; the message names the build and what is missing."""


@dataclass
class ObjectiveData:
    """The rows of one objective, and how they were made from the build (for reports and the card)."""

    objective: str
    origin: str
    rows: list[dict]
    n_requests: int
    left_out: Counter = field(default_factory=Counter)  # requests left out, by reason
    utility_available: int = 0
    utility_skipped: Counter = field(default_factory=Counter)  # source rows that are no utility pair, by reason
    pairs: list[dict] = field(default_factory=list)  # its DPO pairs (backtrack), PAIR_SCHEMA
    no_pair: Counter = field(default_factory=Counter)  # requests and utility rows that gave no pair, by reason

    def kinds(self) -> Counter:
        return Counter(row["kind"] for row in self.rows)

    def report(self) -> str:
        kinds = self.kinds()
        kept = self.n_requests - sum(self.left_out.values())
        refusals = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()) if kind != UTILITY)
        prefixed = sum(row["cut"] > 0 for row in self.rows if row["kind"] not in (RTO, UTILITY))
        text = (f"{self.origin}: {self.objective} rows from {self.n_requests} requests ({kept} with a refusal SR"
                + "".join(f"; {count} left out: {reason}" for reason, count in sorted(self.left_out.items()))
                + f"): {refusals} ({prefixed} of the refusal rows after a harmful prefix)")
        if kinds[UTILITY]:
            text += (f", {kinds[UTILITY]} utility rows drawn from the {self.utility_available} in the source (both "
                     "responses safe, the answer no refusal)")
        elif self.utility_skipped:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.utility_skipped.items()))
            text += f"; no utility rows: the source has none whose responses are both safe ({reasons})"
        if RECIPES[self.objective].reset:
            pair_kinds = Counter(pair["kind"] for pair in self.pairs)
            text += (f"; DPO pairs: {', '.join(f'{count} {kind}' for kind, count in sorted(pair_kinds.items()))}"
                     + "".join(f"; {count} without a pair: {reason}" for reason, count in sorted(self.no_pair.items())))
        return text

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=OBJECTIVE_SCHEMA)

    def pairs_table(self) -> pa.Table:
        return pa.Table.from_pylist(self.pairs, schema=PAIR_SCHEMA)


def read_manifest(c2syn: str | Path) -> dict | None:
    """The build's ``build.json`` (settings, source, seed), None for a dataset that has none (e.g. from the Hub)."""
    from c2_syn_dataset.shards import MANIFEST
    from c2kit.jsonio import read_json

    path = Path(c2syn) / MANIFEST
    if not path.is_file():
        return None
    try:
        return read_json(path)
    except (OSError, ValueError) as error:
        raise ObjectiveDataError(f"{path}: cannot read the build's manifest ({error})") from None


def objective_data(objective: str, ranked, *, origin: str, manifest: dict | None,
                   utility_ratio: float | None = None) -> ObjectiveData:
    """The rows of ``objective`` from ``ranked`` (the build's ``ranked`` config: rows or a ``datasets.Dataset``).

    ``manifest`` (``build.json``) gives the seed the build drew its cuts and openers with, which the objective's
    draws use too, and the source its utility rows come from: ``round(utility_ratio x requests kept)`` of them
    (None: the paper's ratio, :data:`~c2_syn_dataset.objectives.recipes.RECIPES`), or all the source has. Without
    a manifest the seed is C2-Syn's default, 0, and there are no utility rows.
    """
    from c2kit.judges.keyword import is_correction

    recipe = RECIPES[objective]
    settings = (manifest or {}).get("settings", {})
    seed = int(settings.get("seed", 0))
    data = ObjectiveData(objective, origin, [], n_requests=0)
    for group in ranked:
        data.n_requests += 1
        if not is_correction(group["responses"][0]):
            data.left_out[NOT_A_REFUSAL] += 1
            continue
        data.rows += request_rows(recipe, group, seed)
        if recipe.reset:
            _add_pair(data, backtrack_pair(group, seed), "no cut of the harmful response leaves text after it")
    kept = data.n_requests - sum(data.left_out.values())
    if not kept:
        raise ObjectiveDataError(f"{origin}: none of its {data.n_requests} requests has an SR that reads as a refusal, "
                                 f"so {objective} has no safe response to train on; build C2-Syn with an aligned "
                                 "generator (for the tiny random models, python -m c2kit.training.tiny_data completes "
                                 "them with a refusal)")
    wanted = round((recipe.utility_ratio if utility_ratio is None else utility_ratio) * kept)
    if wanted:
        _add_utility(data, recipe, settings, origin, wanted, seed)
    return data


def _add_utility(data: ObjectiveData, recipe: Recipe, settings: dict, origin: str, wanted: int, seed: int) -> None:
    if "source" not in settings:
        data.utility_skipped["the build records no source (no build.json)"] += 1
        return
    try:
        pool = utility_pool(settings["source"], split=settings.get("split", "train"),
                            column_mapping=settings.get("column_mapping"))
    except (OSError, ValueError) as error:
        raise ObjectiveDataError(f"{origin}: the utility rows of {recipe.objective} come from the build's source "
                                 f"{settings['source']!r} (build.json), which cannot be read here: "
                                 f"{' '.join(str(error).split())}; run from the folder the build was made in, or "
                                 "set utility_ratio 0") from None
    data.utility_available = len(pool.rows)
    data.utility_skipped = pool.skipped
    utility = pool.sample(wanted, seed)
    data.rows += utility
    if recipe.reset:
        for row in utility:
            _add_pair(data, continue_pair(row, seed), "utility answer with too few punctuation marks to cut")


def _add_pair(data: ObjectiveData, pair: dict | None, reason: str) -> None:
    if pair is None:
        data.no_pair[reason] += 1
    else:
        data.pairs.append(pair)
