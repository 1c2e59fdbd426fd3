"""C2-Eval of the base model and of base + adapter with the same settings, then one comparison.

Writes ``OUTPUT/eval/base`` and ``OUTPUT/eval/adapter`` (results directories of ``c2 eval run``) and
``OUTPUT/eval/compare`` (the table and plot of ``c2 eval compare``, whose ``comparison.json`` holds the
adapter's Corr_mean minus the base's on the same items with a paired bootstrap interval and p-value). Both runs share the seed, items,
prefixes and sampling settings, so the only difference is the adapter. Each run resumes on its own.

Each judge of ``c2eval_rejudge`` then judges the same continuations again (``OUTPUT/eval/<side>--<judge>``)
and gets its own comparison (``OUTPUT/eval/compare--<judge>``): a keyword judge is fast but can be gamed by
C2-Syn's triggers, so a model judge on the same text is the check that counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from c2kit.jsonio import read_json
from c2kit.training.config import TrainConfig

EVAL_DIR = "eval"


@dataclass
class BeforeAfter:
    """The comparison table (markdown) and the Corr_mean of both runs."""

    table: str
    base_corr_mean: float
    adapter_corr_mean: float
    out_dir: Path
    rejudged: dict[str, str] = field(default_factory=dict)  # judge spec -> its comparison table
    # comparison.json's runs[1]["paired_vs_first"]: adapter - base on the same items, with its interval and p-value
    difference: dict | None = None
    judge: str = ""
    results_dirs: list[Path] = field(default_factory=list)  # every results directory written (eval and re-judged)

    def difference_line(self) -> str:
        from c2_eval_metric.paired import format_difference

        if not self.difference:
            return ""
        return (f"Corr_mean, adapter - base: {format_difference(self.difference)} (percentage points, 95% paired "
                f"bootstrap interval over {self.difference['n_items']} items; judge {self.judge})")


def eval_config(config: TrainConfig, model: str, adapter: str | None):
    """The ``EvalConfig`` of one side, from the config's ``c2eval_*`` keys."""
    from c2_eval_metric.runner import EvalConfig

    return EvalConfig(
        model=model,
        adapter=adapter,
        revision=None if Path(model).is_dir() else config.revision,
        data=config.c2eval_data,
        limit=config.c2eval_limit,
        ks=list(config.c2eval_ks),
        paths=config.c2eval_paths,
        mode=config.c2eval_mode,
        judge=config.c2eval_judge,
        seed=config.c2eval_seed,
        max_new_tokens=config.c2eval_max_new_tokens,
        batch_tokens=config.c2eval_batch_tokens,
        load_in_4bit=config.c2eval_load_in_4bit,
        trust_remote_code=config.trust_remote_code,
        plain_template=config.plain_template,
    )


def run_before_after(config: TrainConfig, *, base_model: str, adapter_dir: str | Path,
                     progress: bool = True) -> BeforeAfter:
    """Evaluate ``base_model`` with and without the adapter in ``adapter_dir`` and compare the two."""
    from c2_eval_metric.compare import COMPARISON_JSON, compare_runs
    from c2_eval_metric.runner import run_eval
    from c2_eval_metric.scoring import rejudge_results

    out = Path(config.output_dir) / EVAL_DIR
    scores = {}
    for side, adapter in (("base", None), ("adapter", str(adapter_dir))):
        _free_accelerator_memory()  # the trained model (or the base run's) must not share a 16 GB T4 with the next
        print(f"C2-Eval of the {side}: {base_model}" + (f" + {adapter}" if adapter else ""))
        # overwrite: the eval/ folder belongs to this training run; new c2eval_* settings replace the old results
        scores[side] = run_eval(eval_config(config, base_model, adapter), out_dir=out / side, progress=progress,
                                overwrite=True)
    table = compare_runs([out / "base", out / "adapter"], out_dir=out / "compare")
    comparison = read_json(out / "compare" / COMPARISON_JSON)
    rejudged = {}
    results_dirs = [out / "base", out / "adapter"]
    for spec in config.c2eval_rejudge:
        _free_accelerator_memory()
        slug = judge_slug(spec)
        for side in ("base", "adapter"):
            print(f"re-judging the {side}'s continuations with {spec}")
            rejudge_results(out / side, out_dir=out / f"{side}--{slug}", judge=spec)
            results_dirs.append(out / f"{side}--{slug}")
        rejudged[spec] = compare_runs([out / f"base--{slug}", out / f"adapter--{slug}"],
                                      out_dir=out / f"compare--{slug}")
    return BeforeAfter(table, scores["base"].corr_mean, scores["adapter"].corr_mean, out / "compare", rejudged,
                       comparison["runs"][1].get("paired_vs_first"), scores["adapter"].judge, results_dirs)


def judge_slug(spec: str) -> str:
    """A folder-name form of a judge spec: ``hf:Qwen/Qwen2.5-7B-Instruct?load_in_4bit=true`` ->
    ``hf-Qwen-Qwen2.5-7B-Instruct-load_in_4bit-true``."""
    from c2kit.judges.registry import public_spec

    return re.sub(r"[^A-Za-z0-9._]+", "-", public_spec(spec)).strip("-")


def _free_accelerator_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
