"""``c2 publish results``: a C2-Eval results directory (docs/metric.md) as a Hub dataset that others can re-judge.

The dataset holds the run's files unchanged (``generations.jsonl``, ``judgments.jsonl``, ``scores.json``,
``config.json``, and ``summary.md``/``corr_at_k.png``/``calibrated.json`` when present) plus a card whose
``configs`` make ``load_dataset(REPO, "generations")`` and ``load_dataset(REPO, "judgments")`` work. Before anything is sent
the directory is checked: every judged path has its generation, the judgments come from the judge named in
``scores.json``, and Corr@k/Corr_mean recomputed from ``judgments.jsonl`` equal ``scores.json`` (and its
calibrated figures, where the run is calibrated with human labels, what its labels give). The card shows the
calibrated Corr@k beside the judge's, or the line that says how to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c2_eval_metric.calibrated_scores import BLOCK, calibrated_scores, run_calibration
from c2_eval_metric.calibration import CALIBRATED_FILE, Rate
from c2_eval_metric.consistency import check_results_dir
from c2_eval_metric.corr import MEAN_KEY, CorrScores, format_interval, format_percent
from c2_eval_metric.latency import LATENCY_PLOT
from c2_eval_metric.overcorrection import OVERCORRECTION_DIR
from c2_eval_metric.results import (
    CONFIG_FILE,
    GENERATIONS_FILE,
    JUDGMENT_FIELDS,
    JUDGMENTS_FILE,
    PLOT_FILE,
    SCORES_FILE,
    SUMMARY_FILE,
    read_config,
    read_scores,
    run_label,
)
from c2_syn_dataset.card import DATA_LICENSE, SOURCE_DATASET, size_category
from c2kit.errors import UserError
from c2kit.jsonio import read_json, read_jsonl
from c2kit.judges.trust import trust_note
from c2kit.judges.unparsed import NOT_A_RESULT

from .cards import (
    GATED_FIELDS,
    GATED_PROMPT,
    RESULTS_TEMPLATE,
    SMOKE_NOTICE,
    SMOKE_TAG,
    flatten,
    is_smoke_config,
    render_card,
    score_rows,
    table_cell,
)
from .hub import FileSource, PublishError, PublishResult, check_repo_id, publish_files
from .local_paths import collect_local_paths, run_plot

GENERATION_FIELDS = ("item_id", "k", "path", "prefix", "prompt", "continuation")
REQUIRED_FILES = (SCORES_FILE, CONFIG_FILE, GENERATIONS_FILE, JUDGMENTS_FILE)
OPTIONAL_FILES = (SUMMARY_FILE, PLOT_FILE, LATENCY_PLOT, CALIBRATED_FILE,
                  # the over-correction run's own files (c2 eval run --overcorrection)
                  *(f"{OVERCORRECTION_DIR}/{name}" for name in (GENERATIONS_FILE, JUDGMENTS_FILE, SCORES_FILE)))
REPORT_FILE = "report.html"  # c2 publish results --report: the run as c2 view shows it
DOWNLOAD_DIR = "c2-results"  # where the card's commands put the downloaded run


@dataclass(frozen=True)
class ResultsDir:
    """A checked results directory."""

    path: Path
    config: dict[str, Any]
    scores: CorrScores
    n_judgments: int
    calibrated: dict[str, Any] | None = None  # scores.json's block of Corr@k calibrated with human labels

    @property
    def files(self) -> list[str]:
        return [name for name in REQUIRED_FILES + OPTIONAL_FILES if (self.path / name).is_file()]


def read_results_dir(path: str | Path) -> ResultsDir:
    """Check a results directory for publishing; ``PublishError`` names the file, row and field at fault."""
    folder = Path(path)
    if not folder.is_dir():
        raise PublishError(f"{folder}: not a directory (expected a results directory of 'c2 eval run')")
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise PublishError(
                f"{folder}: no {name}; a results directory to publish needs {', '.join(REQUIRED_FILES)} "
                "(run 'c2 eval run' or 'c2 eval score' first)"
            )
    check_is_a_result(folder)
    try:
        scores = read_scores(folder)
        config = read_config(folder)
        generated = _path_keys(folder / GENERATIONS_FILE, GENERATION_FIELDS)
        judgments = [row for _, row in _rows(folder / JUDGMENTS_FILE, JUDGMENT_FIELDS)]
    except (OSError, ValueError) as error:
        raise PublishError(str(error)) from None

    try:
        # The card shows scores.json: it must be what judgments.jsonl gives (and its judge the verdicts' judge).
        check_results_dir(folder)
    except ValueError as error:
        raise PublishError(str(error)) from None
    for number, row in enumerate(judgments, start=1):
        key = (str(row["item_id"]), row["k"], row["path"])
        if key not in generated:
            raise PublishError(
                f"{folder / JUDGMENTS_FILE}, row {number}: no row in {GENERATIONS_FILE} for item_id {key[0]!r}, "
                f"k {key[1]}, path {key[2]}; without it the judgment cannot be checked or re-judged"
            )
    return ResultsDir(folder, config, scores, len(judgments), read_json(folder / SCORES_FILE).get(BLOCK))


def check_is_a_result(run_dir: Path) -> None:
    """Refuse a run whose ``summary.md`` says its numbers are not a result (its model judge failed)."""
    summary = run_dir / SUMMARY_FILE
    if summary.is_file() and any(line.startswith(NOT_A_RESULT)
                                 for line in summary.read_text(encoding="utf-8").splitlines()):
        raise PublishError(
            f"{summary} is marked \"Not a result\": its model judge failed (more than half of its answers were "
            "neither yes nor no), so its numbers are not a result; score the run again with another judge (c2 eval "
            "score --results DIR --judge ...), or accept it on purpose with --accept-unparsed; nothing was uploaded")


def _rows(path: Path, fields: tuple[str, ...]):
    for number, row in read_jsonl(path):
        missing = [name for name in fields if name not in row]
        if missing:
            raise UserError(f"{path}, row {number}: field(s) {missing} missing (rows need {list(fields)})")
        yield number, row


def _path_keys(path: Path, fields: tuple[str, ...]) -> set[tuple[str, int, int]]:
    # Only the keys are kept: generations files hold full prompts and can be large.
    return {(str(row["item_id"]), row["k"], row["path"]) for _, row in _rows(path, fields)}


def results_card(results: ResultsDir, repo_id: str, *, gated: str) -> str:
    """The dataset card (README.md) of a published results directory."""
    from huggingface_hub import DatasetCard, DatasetCardData

    label = run_label(results.config, results.path)
    smoke = is_smoke_config(results.config)
    gating = {"extra_gated_prompt": GATED_PROMPT, "extra_gated_fields": GATED_FIELDS} if gated != "none" else {}
    card_data = DatasetCardData(
        language=["en"],
        license=DATA_LICENSE,
        pretty_name=f"C2-Eval results: {label}",
        task_categories=["text-generation"],
        tags=["c2-eval", "course-correction", "safety", "evaluation", "c2-toolkit"] + ([SMOKE_TAG] if smoke else []),
        source_datasets=[SOURCE_DATASET],
        size_categories=[size_category(results.n_judgments)],
        configs=[
            {"config_name": "generations", "default": True,
             "data_files": [{"split": "train", "path": GENERATIONS_FILE}]},
            {"config_name": "judgments", "data_files": [{"split": "train", "path": JUDGMENTS_FILE}]},
        ],
        **gating,
    )
    card = render_card(
        DatasetCard,
        card_data,
        RESULTS_TEMPLATE,
        repo_id=repo_id,
        run_label=label,
        smoke_notice=SMOKE_NOTICE if smoke else None,
        model=results.config.get("model", "unknown (not in config.json)"),
        adapter=results.config.get("adapter"),
        scores=results.scores,
        judge_trust=trust_note(results.scores.judge),
        score_rows=score_rows(results.scores),
        calibrated=_calibrated_card(results),
        labels_hint=None if results.calibrated else run_calibration(results.path).line(DOWNLOAD_DIR),
        n_judgments=results.n_judgments,
        has_plot=(results.path / PLOT_FILE).is_file(),
        has_summary=(results.path / SUMMARY_FILE).is_file(),
        has_calibrated=(results.path / CALIBRATED_FILE).is_file(),
        settings=[(key, table_cell(value)) for key, value in flatten(results.config)],
    )
    return str(card)


def _calibrated_card(results: ResultsDir) -> dict[str, Any] | None:
    """The card's calibrated table: per k and Corr_mean, the judge's figure beside the calibrated one (percent,
    95% intervals), the labels and the judge's sensitivity and specificity on them."""
    block = results.calibrated
    if not block:
        return None
    calibrated = calibrated_scores(block, results.scores)
    raw = results.scores

    def cell(scores: CorrScores, key: str) -> str:
        value = scores.corr_mean if key == MEAN_KEY else scores.corr_at_k.get(int(key))
        return "–" if value is None else f"{format_percent(value)} {format_interval(scores.ci95[key])}"

    rows = [{"k": "**mean**" if key == MEAN_KEY else key, "judge_only": cell(raw, key),
             "calibrated": cell(calibrated, key), "labels": block["n_labels"][key],
             "sensitivity": Rate.from_json(block["sensitivity"][key]).show(),  # as c2 eval calibrate prints it
             "specificity": Rate.from_json(block["specificity"][key]).show()}
            for key in [*(str(k) for k in sorted(calibrated.corr_at_k)), MEAN_KEY]]
    return {"rows": rows, "n_labels": block["n_labels"][MEAN_KEY], "n_continuations": block["n_continuations"],
            "lam": f"{block['lambda']:.2f}"}


def publish_results(
    results_dir: str | Path,
    *,
    repo_id: str,
    public: bool = False,
    dry_run: bool = False,
    preview_dir: str | Path | None = None,
    gated: str = "auto",
    report: bool = False,
) -> PublishResult:
    """Check, preview or upload a results directory as the dataset ``repo_id``; with ``report``, add
    ``report.html`` (``c2 view`` of the run, local paths replaced as in the other files)."""
    check_repo_id(repo_id)
    results = read_results_dir(results_dir)
    files: dict[str, FileSource] = {name: results.path / name for name in results.files}
    if PLOT_FILE in files:  # drawn again with a clean label if the run's was a local path
        files[PLOT_FILE] = run_plot(results.path, results.config, results.scores)
    local_paths = collect_local_paths(results.path, results.path.resolve(), results.config, results.calibrated)
    if report:
        files[REPORT_FILE] = results_report(results, local_paths)
    files["README.md"] = results_card(results, repo_id, gated=gated).encode("utf-8")
    return publish_files(
        files,
        repo_id=repo_id,
        repo_type="dataset",
        public=public,
        dry_run=dry_run,
        preview_dir=preview_dir,
        gated=gated,
        commit_message=f"Publish C2-Eval results ({results.scores.judge}) with c2-toolkit",
        roots=[results.path],
        local_paths=local_paths,
    )


def results_report(results: ResultsDir, local_paths: set[str]) -> bytes:
    """The run's ``c2 view`` report, its data compressed inside, so local paths are replaced before packing."""
    from c2kit.view import build_view_data, render_html

    from .local_paths import replacements, scrub_text

    pairs = replacements(local_paths)
    data = build_view_data([results.path])
    return render_html(data, clean_text=lambda text: scrub_text(text, pairs))
