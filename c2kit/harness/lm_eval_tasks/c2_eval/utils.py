"""C2-Eval for lm-evaluation-harness: the docs (c2's own (item, k) prefixes), the filter that keeps every sampled
path, and the judge that scores them (c2's judges). Settings come through ``--metadata`` (JSON):

* ``judge``: a c2 judge spec (default ``$C2_EVAL_JUDGE``, else ``keyword``, offline);
* ``seed``: the opener seed, as ``c2 eval run --seed`` (default 0);
* ``data``: the benchmark source, as ``c2 eval run --data`` (default the shipped 500 items).
"""

from __future__ import annotations

from statistics import fmean
from typing import Any

from c2kit.harness.items import prefill_items
from c2kit.harness.verdicts import judge_paths, judge_spec
from c2kit.sources import BUNDLED_C2EVAL


def load_docs(k: int, judge: str | None = None, seed: int = 0, data: str = BUNDLED_C2EVAL,
              **_other_metadata: Any) -> dict[str, Any]:
    """The test split of one subtask: a doc per item with its request and its prefix of ``k`` words.

    lm-eval passes every ``--metadata`` key (and the model's arguments) here; the ones that are not C2-Eval's
    settings are ignored. Each doc records the judge spec and seed, so the sample log says what made its score.
    """
    import datasets

    spec = judge_spec(judge)
    rows = [{**item.as_dict(), "judge": spec, "seed": int(seed), "data": data}
            for item in prefill_items([int(k)], data=data, seed=int(seed))]
    return {"test": datasets.Dataset.from_list(rows)}


def every_path(resps: list[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
    """The filter: every repeat of a doc, unchanged (lm-eval's default would keep the first only)."""
    return resps


def process_results(doc: dict[str, Any], results: list[list[str]]) -> dict[str, float]:
    """The doc's fraction of course-corrected paths (Corr@k is their mean over items)."""
    (continuations,) = results
    verdicts = judge_paths(doc["judge"], doc["request"], doc["prefix"], continuations)
    return {"corr": fmean(verdicts)}
