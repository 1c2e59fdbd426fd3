"""``c2 publish adapter``: a trained PEFT adapter, its tokenizer and a model card, from a training output dir.

What is uploaded (the layout ``c2 train`` writes): ``adapter_config.json`` (with the base model's Hub id as
``base_model_name_or_path``, so the adapter loads anywhere), the adapter weights, the tokenizer files, the
resolved ``train_config.yaml``, the training logs and ``metrics.json``, and for each C2-Eval run found
(``eval/base`` = the base model before training, ``eval/adapter`` = with the adapter; or
``--eval-base``/``--eval-adapter``) its ``scores.json``, ``config.json``, ``summary.md`` and plot under
``eval/<name>/``, plus the ``eval/compare`` table. The card's ``model-index`` values are read from those
``scores.json`` files, so the metadata always equals the files it cites; they are only used when their
``config.json`` shows they evaluated this very adapter (its hash) and, for before/after, the same base model with
the same settings. Checkpoints stay local.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c2_eval_metric.compare import (
    COMPARISON_JSON,
    COMPARISON_MD,
    compare_runs,
    comparison_labels,
)
from c2_eval_metric.corr import MEAN_KEY, CorrScores
from c2_eval_metric.results import (
    CONFIG_FILE,
    PLOT_FILE,
    SCORES_FILE,
    SUMMARY_FILE,
    read_config,
    read_scores,
)
from c2_syn_dataset.card import DATA_LICENSE, SOURCE_DATASET
from c2kit.jsonio import read_json
from c2kit.models import adapter_hash
from c2kit.judges.trust import trust_note
from c2kit.tiny import MARKER as TINY_MARKER
from c2kit.training.before_after import EVAL_DIR
from c2kit.training.config import TINY_MODEL, ConfigError, TrainConfig, read_saved_config
from c2kit.training.objectives import DEFAULT_OBJECTIVE, get_objective
from c2kit.training.trainer import CONFIG_FILE as TRAIN_CONFIG_FILE
from c2kit.training.trainer import LOG_CSV, LOG_JSONL, METRICS_FILE

from .cards import (
    ADAPTER_TEMPLATE,
    SMOKE_NOTICE,
    SMOKE_TAG,
    flatten,
    format_percent,
    one_line,
    format_points,
    is_smoke_config,
    render_card,
    score_rows,
    table_cell,
)
from .hub import FileSource, PublishError, PublishResult, check_repo_id, publish_files
from .local_paths import collect_local_paths, run_plot
from .objective_cards import OBJECTIVE_CARDS, ObjectiveCard
from .results import check_is_a_result

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
TOKENIZER_CONFIG = "tokenizer_config.json"
TOKENIZER_FILES = (
    TOKENIZER_CONFIG, "tokenizer.json", "special_tokens_map.json", "added_tokens.json", "tokenizer.model",
    "vocab.json", "merges.txt", "chat_template.jinja", "chat_template.json",
)
TRAINING_RECORDS = (LOG_JSONL, LOG_CSV, METRICS_FILE)  # uploaded when present
EVAL_RUNS = ("base", "adapter")  # C2-Eval of the base model (before) and of base + adapter (after)
EVAL_FILES = (SCORES_FILE, CONFIG_FILE, SUMMARY_FILE, PLOT_FILE)
COMPARE_DIR = "compare"  # c2 train's `c2 eval compare` output under eval/
COMPARE_FILES = (COMPARISON_MD, COMPARISON_JSON, PLOT_FILE)
TASK_NAME = "Course-correction (C2-Eval)"
ADAPTER_IDENTITY_KEYS = ("adapter", "adapter_sha256")  # what a run with an adapter adds to config.json's model_identity
RUN_SETTINGS = ("model_identity", "paths", "mode", "seed", "sampling")  # config.json keys both runs must share


@dataclass(frozen=True)
class EvalRun:
    path: Path
    scores: CorrScores
    config: dict[str, Any]  # the run's config.json

    @property
    def data(self) -> str:
        """The benchmark source of the run (config.json "data"), e.g. "c2eval-500"."""
        return str(self.config.get("data", "unknown"))

    @property
    def identity(self) -> dict[str, Any]:
        """What the run evaluated (config.json "model_identity"): model, revision or content hash, adapter hash."""
        identity = self.config.get("model_identity")
        return identity if isinstance(identity, dict) else {}


@dataclass(frozen=True)
class AdapterDir:
    """A checked training output directory."""

    path: Path
    adapter_config: dict[str, Any]
    weights: str
    tokenizer_files: tuple[str, ...]
    train_config_path: Path | None
    train_config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)  # metrics.json of the training run, if any
    evals: dict[str, EvalRun] = field(default_factory=dict)  # keys from EVAL_RUNS
    objective: str = DEFAULT_OBJECTIVE  # what it was trained with (c2 train --objective)
    data_config: str | None = None  # the dataset config it read, when the training config is there

    @property
    def objective_card(self) -> ObjectiveCard:
        return OBJECTIVE_CARDS[self.objective]


def read_adapter_dir(
    path: str | Path,
    *,
    train_config: str | Path | None = None,
    eval_base: str | Path | None = None,
    eval_adapter: str | Path | None = None,
) -> AdapterDir:
    """Check a training output directory; ``PublishError`` names the missing or broken file."""
    folder = Path(path)
    if not folder.is_dir():
        raise PublishError(f"{folder}: not a directory (expected the output_dir of 'c2 train')")
    adapter_config = _read_json(folder / ADAPTER_CONFIG, what="the PEFT adapter config (save with save_pretrained)")
    for name in ("peft_type", "base_model_name_or_path"):
        if not adapter_config.get(name):
            raise PublishError(f"{folder / ADAPTER_CONFIG}: field {name!r} is missing or empty")
    weights = next((name for name in ADAPTER_WEIGHTS if (folder / name).is_file()), None)
    if weights is None:
        raise PublishError(f"{folder}: no adapter weights ({' or '.join(ADAPTER_WEIGHTS)}); nothing was uploaded")
    _check_weights(folder / weights)
    if not (folder / TOKENIZER_CONFIG).is_file():
        raise PublishError(f"{folder}: no {TOKENIZER_CONFIG}; save the tokenizer next to the adapter "
                           "(tokenizer.save_pretrained(output_dir))")
    tokenizer_files = tuple(name for name in TOKENIZER_FILES if (folder / name).is_file())

    default_config = folder / TRAIN_CONFIG_FILE
    config_path = Path(train_config) if train_config else (default_config if default_config.is_file() else None)
    config, resolved = _read_train_config(config_path) if config_path else ({}, None)
    metrics = _read_json(folder / METRICS_FILE, what="training metrics") if (folder / METRICS_FILE).is_file() else {}
    objective = _objective_of(folder, config_path, resolved, metrics)
    data_config = get_objective(objective).data_config(resolved) if resolved else None

    evals = {}
    for name, given in zip(EVAL_RUNS, (eval_base, eval_adapter)):
        run_dir = Path(given) if given else folder / EVAL_DIR / name
        if given or (run_dir / SCORES_FILE).is_file():
            evals[name] = _read_eval(run_dir)
    _check_evaluated_adapter(evals, folder)
    _check_comparable(evals)
    return AdapterDir(folder, adapter_config, weights, tokenizer_files, config_path, config, metrics, evals, objective,
                      data_config)


def _objective_of(folder: Path, config_path: Path | None, config: TrainConfig | None, metrics: dict[str, Any]) -> str:
    """The objective the adapter was trained with: its training config's, which ``metrics.json`` must not
    contradict; without a config, ``metrics.json``'s; without either, c2-dpo (runs from before there were others)."""
    recorded = metrics.get("objective")
    if config is not None and recorded is not None and recorded != config.objective:
        raise PublishError(f"{folder / METRICS_FILE}: objective {recorded!r}, but {config_path} trains "
                           f"{config.objective!r}: give --train-config the config this adapter was trained with")
    objective = config.objective if config is not None else recorded if recorded is not None else DEFAULT_OBJECTIVE
    if not isinstance(objective, str) or objective not in OBJECTIVE_CARDS:
        source = config_path if config is not None else folder / METRICS_FILE
        raise PublishError(f"{source}: objective {objective!r} is not one c2 train knows "
                           f"({', '.join(OBJECTIVE_CARDS)}); the card would not say how the adapter was trained")
    return objective


def _read_json(path: Path, *, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise PublishError(f"{path.parent}: no {path.name} ({what}); nothing was uploaded")
    try:
        return read_json(path)
    except ValueError as error:
        raise PublishError(str(error)) from None


def _check_weights(path: Path) -> None:
    """A truncated or empty weights file is refused (reading the safetensors header is enough)."""
    if path.stat().st_size == 0:
        raise PublishError(f"{path}: the adapter weights file is empty")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with open(path, "rb"):  # a file this user may not read is said as such (safetensors calls it missing)
            pass
        try:
            with safe_open(str(path), framework="np") as handle:
                if not list(handle.keys()):
                    raise PublishError(f"{path}: the adapter weights file holds no tensors")
        except PublishError:
            raise
        except Exception as error:  # safetensors raises its own error types for a bad header
            raise PublishError(f"{path}: not a readable safetensors file ({error})") from None


def _read_train_config(path: Path) -> tuple[dict[str, Any], TrainConfig]:
    """The settings ``path`` sets, and the config they resolve to, read as ``c2 train`` reads a run's config back
    (the same refusals)."""
    if not path.is_file():
        raise PublishError(f"{path}: training config not found")
    try:
        config, unset = read_saved_config(path)
    except ConfigError as error:
        raise PublishError(f"{error}: the card's training settings are read from it; give --train-config the "
                           "config this adapter was trained with") from None
    return {key: value for key, value in config.to_dict().items() if key not in unset}, config


def _read_eval(run_dir: Path) -> EvalRun:
    check_is_a_result(run_dir)  # the card would cite a failed judge's numbers
    try:
        scores = read_scores(run_dir)
        config = read_config(run_dir)
    except (FileNotFoundError, ValueError) as error:  # what the system refuses (permissions) is said by the CLI
        raise PublishError(str(error)) from None
    return EvalRun(run_dir, scores, config)


def _check_evaluated_adapter(evals: dict[str, EvalRun], folder: Path) -> None:
    """The card cites the adapter run's scores as this adapter's and the base run's as the bare base model's."""
    base, after = evals.get("base"), evals.get("adapter")
    if base is not None and base.identity.get("adapter_sha256"):
        raise PublishError(
            f"{base.path / CONFIG_FILE}: model_identity names an adapter ({base.identity.get('adapter')!r}); the "
            "base-model evaluation must be of the base model alone"
        )
    if after is None:
        return
    recorded = after.identity.get("adapter_sha256")
    if not recorded:
        raise PublishError(
            f"{after.path / CONFIG_FILE}: field 'model_identity.adapter_sha256' is missing, so nothing shows these "
            f"scores are of the adapter in {folder}; evaluate it with 'c2 eval run --adapter {folder}'"
        )
    actual = adapter_hash(folder)
    if recorded != actual:
        raise PublishError(
            f"{after.path / CONFIG_FILE}: model_identity.adapter_sha256 is {recorded[:12]}..., but the adapter in "
            f"{folder} hashes to {actual[:12]}...: these scores are of a different adapter (retrained since?); "
            f"evaluate this one with 'c2 eval run --adapter {folder}'"
        )


def _run_settings(run: EvalRun) -> dict[str, Any]:
    """The config.json settings that must match between the base and adapter runs, by dotted name."""
    settings = {key: run.config.get(key) for key in RUN_SETTINGS}
    settings["model_identity"] = {key: value for key, value in run.identity.items()
                                  if key not in ADAPTER_IDENTITY_KEYS}
    return dict(flatten(settings))


def _check_comparable(evals: dict[str, EvalRun]) -> None:
    """Before/after numbers are only shown side by side when they measure the same thing on the same base model."""
    if len(evals) < 2:
        return
    base, after = evals["base"], evals["adapter"]
    checks = [
        (SCORES_FILE, "judge", base.scores.judge, after.scores.judge),
        (SCORES_FILE, "k values", sorted(base.scores.corr_at_k), sorted(after.scores.corr_at_k)),
        (SCORES_FILE, "n_items", base.scores.n_items, after.scores.n_items),
        (CONFIG_FILE, "benchmark data", base.data, after.data),
    ]
    before_settings, after_settings = _run_settings(base), _run_settings(after)
    checks += [(CONFIG_FILE, name, before_settings.get(name), after_settings.get(name))
               for name in sorted(before_settings.keys() | after_settings.keys())]
    for file, name, before_value, after_value in checks:
        if before_value != after_value:
            raise PublishError(
                f"{base.path / file} and {after.path / file} differ in {name} "
                f"({before_value!r} vs {after_value!r}): the before/after comparison would mislead; "
                "evaluate both with the same settings"
            )


def resolve_base_model(adapter: AdapterDir, base_model: str | None) -> str:
    """The Hub id of the base model: ``--base-model``, else ``adapter_config.json``'s (if it is a Hub id)."""
    candidate = base_model or adapter.adapter_config["base_model_name_or_path"]
    try:
        check_repo_id(candidate)
    except PublishError:
        raise PublishError(
            f"{adapter.path / ADAPTER_CONFIG}: base model {candidate!r} is not a Hub id (a local path?); "
            "pass --base-model ORG/NAME with the Hub id of the model the adapter was trained on"
        ) from None
    if Path(candidate).exists() and not base_model:
        raise PublishError(
            f"{adapter.path / ADAPTER_CONFIG}: base model {candidate!r} is a local path; pass --base-model ORG/NAME"
        )
    return candidate


def default_dataset_id(adapter: AdapterDir) -> str | None:
    """The training config's ``dataset`` when it is a Hub dataset id (not a local directory)."""
    dataset = adapter.train_config.get("dataset")
    if not isinstance(dataset, str) or Path(dataset).exists():
        return None
    try:
        return check_repo_id(dataset)
    except PublishError:
        return None


def held_out_rows(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """The objective's metrics on held-out data before and after training (from metrics.json), for the card."""
    before, after = metrics.get("eval_before") or {}, metrics.get("eval_after") or {}
    return [
        {"name": name, "before": f"{before[name]:.4f}", "after": f"{after[name]:.4f}"}
        for name in after
        if name in before and isinstance(before[name], (int, float)) and isinstance(after[name], (int, float))
    ]


def eval_results(adapter: AdapterDir, repo_id: str):
    """``model-index`` entries, one per Corr@k and Corr_mean of each evaluation, values from scores.json.

    All entries share one task and dataset, so the Hub groups them into one result whose source is the
    repo's ``eval/`` folder (``eval/base/scores.json`` and ``eval/adapter/scores.json``); metric names say
    which run a value belongs to.
    """
    from huggingface_hub import EvalResult, constants

    labels = {"adapter": ("", ""), "base": (" of the base model (before training)", "_base_model")}
    results = []
    for run_name in ("adapter", "base"):
        run = adapter.evals.get(run_name)
        if run is None:
            continue
        suffix, type_suffix = labels[run_name]
        scores = run.scores
        metrics = [(f"corr_at_{k}", f"Corr@{k}", value) for k, value in sorted(scores.corr_at_k.items())]
        metrics.append(("corr_mean", "Corr_mean", scores.corr_mean))
        for metric_type, metric_name, value in metrics:
            results.append(EvalResult(
                task_type="text-generation",
                task_name=TASK_NAME,
                dataset_type=SOURCE_DATASET,
                dataset_name=f"C2-Eval ({run.data})",
                dataset_config=run.data,
                metric_type=metric_type + type_suffix,
                metric_name=f"{metric_name}{suffix}, judge {scores.judge}",
                metric_value=value,
                metric_config=scores.judge,
                source_name=f"C2-Eval {SCORES_FILE} files in {EVAL_DIR}/ of {repo_id}",
                source_url=f"{constants.ENDPOINT}/{repo_id}/tree/main/{EVAL_DIR}",
            ))
    return results


def smoke_reasons(adapter: AdapterDir) -> list[str]:
    """Why this adapter is a smoke run of c2kit's tiny random-weight model (empty when it is not).

    Any one record is enough: the training config's ``model_name_or_path: tiny``, a base model folder (in
    ``adapter_config.json`` or ``metrics.json``) carrying the tiny model's marker file, or a C2-Eval run whose
    ``config.json`` marks a smoke model.
    """
    reasons = []
    if adapter.train_config.get("model_name_or_path") == TINY_MODEL:
        reasons.append(f"{TRAIN_CONFIG_FILE}: model_name_or_path is {TINY_MODEL!r}")
    for file, base in ((ADAPTER_CONFIG, adapter.adapter_config.get("base_model_name_or_path")),
                       (METRICS_FILE, adapter.metrics.get("base_model"))):
        if isinstance(base, str) and base and (Path(base) / TINY_MARKER).is_file():
            reasons.append(f"{file}: base model {base} is c2kit's tiny model")
    reasons += [f"{EVAL_DIR}/{name}/{CONFIG_FILE}: smoke model" for name, run in adapter.evals.items()
                if is_smoke_config(run.config)]
    return reasons


def _comparison_rows(adapter: AdapterDir) -> list[dict[str, str]]:
    if len(adapter.evals) < 2:
        return []
    before, after = adapter.evals["base"].scores, adapter.evals["adapter"].scores

    def cell(scores: CorrScores, value: float, key: str) -> str:
        low, high = scores.ci95[key]
        return f"{format_percent(value)} [{format_percent(low)}, {format_percent(high)}]"

    keyed = [(str(k), before.corr_at_k[k], after.corr_at_k[k]) for k in sorted(after.corr_at_k)]
    keyed.append((MEAN_KEY, before.corr_mean, after.corr_mean))
    return [
        {"k": "**mean**" if key == MEAN_KEY else key, "before": cell(before, old, key), "after": cell(after, new, key),
         "change": format_points(new - old)}
        for key, old, new in keyed
    ]


def _overcorrection_rows(adapter: AdapterDir) -> list[dict[str, str]]:
    """One row per evaluated run that measured over-correction (c2_eval_metric.overcorrection), from its scores.json."""
    from c2_eval_metric.overcorrection import format_rate

    rows = []
    for name, what in (("base", "base model (before)"), ("adapter", "with this adapter (after)")):
        run = adapter.evals.get(name)
        block = _read_json(run.path / SCORES_FILE, what="scores").get("overcorrection") if run else None
        if block:
            rows.append({"run": what, "rate": format_rate(block), "corr_mean": format_percent(run.scores.corr_mean),
                         "n_items": str(block["n_items"]), "source": block.get("prefix_source", "shipped"),
                         "data": str(block.get("data", "")), "file": f"{EVAL_DIR}/{name}/{SCORES_FILE}"})
    return rows


def _peft_summary(config: dict[str, Any]) -> str:
    parts = [str(config.get("peft_type", "LORA"))]
    for key in ("r", "lora_alpha", "lora_dropout"):
        if key in config:
            parts.append(f"{key} {config[key]}")
    targets = config.get("target_modules")
    if isinstance(targets, list):  # PEFT may store full module paths; the layer types are what matter
        parts.append("targets " + ", ".join(sorted({name.rsplit(".", 1)[-1] for name in targets})))
    elif targets:
        parts.append(f"targets {targets}")
    return "; ".join(parts)


def adapter_card(
    adapter: AdapterDir, repo_id: str, *, base_model: str, dataset_id: str | None, license: str
) -> str:
    """The model card (README.md) of a published adapter."""
    from huggingface_hub import ModelCard, ModelCardData

    model_name = repo_id.split("/")[1]
    results = eval_results(adapter, repo_id)
    smoke = bool(smoke_reasons(adapter))
    objective = adapter.objective_card
    card_data = ModelCardData(
        base_model=base_model,
        library_name="peft",
        license=license,
        pipeline_tag="text-generation",
        language=["en"],
        tags=["peft", "lora", *objective.tags, "trl", "safety", "course-correction", "c2-toolkit",
              f"base_model:adapter:{base_model}"] + ([SMOKE_TAG] if smoke else []),
        datasets=[dataset_id] if dataset_id else None,
        model_name=model_name if results else None,
        eval_results=results or None,
    )
    after = adapter.evals.get("adapter")
    reference = after or adapter.evals.get("base")
    card = render_card(
        ModelCard,
        card_data,
        ADAPTER_TEMPLATE,
        repo_id=repo_id,
        model_name=model_name,
        smoke_notice=SMOKE_NOTICE if smoke else None,
        base_model=base_model,
        dataset_id=dataset_id,
        comparison_rows=_comparison_rows(adapter),
        overcorrection_rows=_overcorrection_rows(adapter),
        adapter_only_rows=score_rows(after.scores) if after and len(adapter.evals) == 1 else [],
        base_scores_file=f"{EVAL_DIR}/base/{SCORES_FILE}",
        adapter_scores_file=f"{EVAL_DIR}/adapter/{SCORES_FILE}",
        judge=reference.scores.judge if reference else None,
        judge_trust=trust_note(reference.scores.judge) if reference else None,
        n_items=reference.scores.n_items if reference else None,
        paths=reference.scores.paths if reference else None,
        peft_summary=_peft_summary(adapter.adapter_config),
        train_config_file=adapter.train_config_path.name if adapter.train_config_path else None,
        train_settings=[(key, table_cell(value)) for key, value in flatten(adapter.train_config)
                        if key not in objective.unused_settings],
        unused_settings=[key for key in objective.unused_settings if key in adapter.train_config],
        data_report=one_line(adapter.metrics["data"]) if adapter.metrics.get("data") else None,
        objective=objective,
        objective_citation=objective.citation,
        objective_caveat=objective.judge_caveat,
        data_config=_data_config_line(adapter),
        batch=_batch_line(adapter),
        held_out_rows=held_out_rows(adapter.metrics),
        metrics_file=METRICS_FILE,
    )
    return str(card)


def _data_config_line(adapter: AdapterDir) -> str | None:
    """Which config and split of the dataset the adapter trained on (from its training config)."""
    if adapter.data_config is None:
        return None
    config, split = (table_cell(value).replace("`", "'")  # inside a code span, where no escape works
                     for value in (adapter.data_config, adapter.train_config.get("dataset_split", "train")))
    if adapter.objective == DEFAULT_OBJECTIVE:
        return f"`{config}`, split `{split}`"
    made = adapter.objective_card.examples
    return f"the {adapter.objective} {made} `c2 train` made from the build's `{config}` config, split `{split}`"


def _batch_line(adapter: AdapterDir) -> str | None:
    """Training examples per optimizer step (metrics.json's effective batch size), in the objective's unit."""
    size = adapter.metrics.get("effective_batch_size")
    return adapter.objective_card.batch(size) if isinstance(size, int) and size > 0 else None


def published_adapter_config(adapter: AdapterDir, base_model: str) -> bytes:
    """``adapter_config.json`` as uploaded: ``base_model_name_or_path`` is the base model's Hub id.

    PEFT loads the base model from that field (``AutoPeftModelForCausalLM.from_pretrained(repo_id)``, as the card
    shows); a local path would not load anywhere else, and does not belong in a published repo.
    """
    config = {**adapter.adapter_config, "base_model_name_or_path": base_model}
    return (json.dumps(config, indent=2, sort_keys=True) + "\n").encode("utf-8")  # PEFT's own layout


def adapter_files(adapter: AdapterDir, base_model: str) -> dict[str, FileSource]:
    """Files of the adapter repo except the card: adapter, tokenizer, training config, evaluations."""
    files: dict[str, FileSource] = {ADAPTER_CONFIG: published_adapter_config(adapter, base_model)}
    files.update({name: adapter.path / name for name in (adapter.weights, *adapter.tokenizer_files)})
    files.update({name: adapter.path / name for name in TRAINING_RECORDS if (adapter.path / name).is_file()})
    if adapter.train_config_path:
        files[adapter.train_config_path.name] = adapter.train_config_path
    for run_name, run in adapter.evals.items():
        files.update({f"{EVAL_DIR}/{run_name}/{name}": run.path / name
                      for name in EVAL_FILES if (run.path / name).is_file()})
        if (run.path / PLOT_FILE).is_file():  # drawn again with a clean label if the run's was a local path
            files[f"{EVAL_DIR}/{run_name}/{PLOT_FILE}"] = run_plot(run.path, run.config, run.scores)
    if len(adapter.evals) == 2:  # the comparison table belongs with the two runs it compares
        files.update({f"{EVAL_DIR}/{COMPARE_DIR}/{name}": source
                      for name, source in _comparison_files(adapter).items()})
    return files


def _comparison_files(adapter: AdapterDir) -> dict[str, FileSource]:
    """``eval/compare``'s files; made again from the two runs when its column labels are stale local paths.

    Comparisons written before labels were shortened name local models by their full path (in the table, the
    JSON and the plot's legend); ``compare_runs`` on the two published runs gives the same table with clean labels.
    """
    compare = adapter.path / EVAL_DIR / COMPARE_DIR
    present = {name: compare / name for name in COMPARE_FILES if (compare / name).is_file()}
    if not present:
        return {}
    runs = [adapter.evals["base"].path, adapter.evals["adapter"].path]
    try:
        recorded = [run.get("label") for run in read_json(compare / COMPARISON_JSON).get("runs", [])]
    except (OSError, ValueError, AttributeError):
        recorded = []
    if recorded == comparison_labels(runs):
        return present
    with tempfile.TemporaryDirectory(prefix="c2-compare-") as tmp:
        compare_runs(runs, out_dir=tmp)
        return {name: (Path(tmp) / name).read_bytes() for name in present}


def adapter_roots(adapter: AdapterDir) -> list[Path]:
    """What the adapter repo is published from: its folder, the eval runs (which --eval-base/--eval-adapter may
    place elsewhere) and a --train-config file given explicitly."""
    return [adapter.path, *(run.path for run in adapter.evals.values()),
            *([adapter.train_config_path] if adapter.train_config_path else [])]


def local_paths(adapter: AdapterDir) -> set[str]:
    """Absolute local paths the adapter's files mention (see :mod:`c2kit.publish.local_paths`)."""
    found = collect_local_paths(adapter.path, adapter.path.resolve(), adapter.train_config_path,
                                adapter.adapter_config, adapter.train_config, adapter.metrics)
    for run in adapter.evals.values():
        found |= collect_local_paths(run.path, run.path.resolve(), run.config)
    comparison = adapter.path / EVAL_DIR / COMPARE_DIR / COMPARISON_JSON
    if comparison.is_file():
        try:
            found |= collect_local_paths(read_json(comparison))
        except (OSError, ValueError):
            pass
    return found


def publish_adapter(
    output_dir: str | Path,
    *,
    repo_id: str,
    base_model: str | None = None,
    dataset_id: str | None = None,
    license: str = DATA_LICENSE,
    train_config: str | Path | None = None,
    eval_base: str | Path | None = None,
    eval_adapter: str | Path | None = None,
    public: bool = False,
    dry_run: bool = False,
    preview_dir: str | Path | None = None,
) -> PublishResult:
    """Check, preview or upload a trained adapter as the model repo ``repo_id``."""
    check_repo_id(repo_id)
    if dataset_id:
        check_repo_id(dataset_id)
    adapter = read_adapter_dir(output_dir, train_config=train_config, eval_base=eval_base, eval_adapter=eval_adapter)
    base = resolve_base_model(adapter, base_model)
    dataset_id = dataset_id or default_dataset_id(adapter)
    files = adapter_files(adapter, base)
    card = adapter_card(adapter, repo_id, base_model=base, dataset_id=dataset_id, license=license)
    files["README.md"] = card.encode("utf-8")
    return publish_files(
        files,
        repo_id=repo_id,
        repo_type="model",
        public=public,
        dry_run=dry_run,
        preview_dir=preview_dir,
        commit_message=f"Publish course-correction adapter for {base} with c2-toolkit",
        roots=adapter_roots(adapter),
        local_paths=local_paths(adapter),
    )
