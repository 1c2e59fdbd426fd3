"""Compare several results directories: one Markdown table, one JSON file and one plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .calibrated_scores import BLOCK, calibrated_scores, n_labels, run_calibration
from .consistency import check_results_dir
from .corr import MEAN_KEY, CorrScores, format_interval, format_percent
from .plots import CALIBRATED_STYLE, CalibratedCurve, plot_corr_at_k
from c2kit.errors import UserError
from c2kit.jsonio import write_json
from c2kit.judges.caveats import OBJECTIVE_CAVEATS, KeywordCaveat, is_keyword_judge
from c2kit.judges.trust import trust_note

from .paired import format_difference, paired_difference, why_not_paired
from .results import PLOT_FILE, is_local_path, prefix_mode, read_config, read_item_fractions, read_scores, run_label

COMPARISON_MD = "comparison.md"
COMPARISON_JSON = "comparison.json"


def compare_runs(dirs: Sequence[str | Path], *, out_dir: str | Path) -> str:
    """Table of Corr@k (rows k and Corr_mean) with one column per run; writes comparison.md/.json and a plot.

    Columns are labelled by the run's adapter or model (from config.json; a local model or adapter by its
    directory's name, a Hub model by its id), else the directory name. Every directory must hold a scores.json,
    and one that is not what the judgments.jsonl beside it gives is refused (:mod:`c2_eval_metric.consistency`);
    one without a judgments.jsonl is compared with a note that its figures are unchecked.
    """
    if not dirs:
        raise UserError("compare needs at least one results directory")
    out = Path(out_dir)
    for d in dirs:  # the comparison's plot and files must never replace a run's own
        if Path(d).resolve() == out.resolve():
            raise UserError(f"--out {out} is one of the compared runs; write the comparison to another folder")
    runs = [(Path(d), read_scores(d)) for d in dirs]  # fails first, before anything is written
    # A scores.json out of step with its verdicts (edited, stale) is refused, not compared.
    unverified = {d: check_results_dir(d) for d, _ in runs}
    labels = comparison_labels([d for d, _ in runs])
    modes = [prefix_mode(read_config(d)) for d, _ in runs]
    cautions = keyword_cautions(labels, runs)
    blocks = [_scores_json(d, scores).get(BLOCK) for d, scores in runs]
    table = render_table(list(zip(labels, (scores for _, scores in runs))), modes, judge_only=any(blocks))
    calibrated = render_calibrated(labels, runs, blocks)
    if calibrated:
        table += "\n\n" + calibrated
    paired = paired_vs_first([d for d, _ in runs])
    calibrated_paired = calibrated_vs_first([d for d, _ in runs], paired, blocks)
    if len(runs) > 1:
        table += "\n\n" + render_paired(labels, paired)
        if any(figures for figures, _ in calibrated_paired):
            table += "\n\n" + render_paired(labels, calibrated_paired, heading=CALIBRATED_PAIRED)
    second = render_second_axis(labels, [_scores_json(d, scores) for d, scores in runs])
    if second:
        table += "\n\n" + second
    for caveat, named in cautions:
        table += f"\n\n**Caution ({', '.join(named)}):** {caveat.text}"
    unchecked = [f"{label}: its scores.json is shown as stored, unchecked (no {' or '.join(unverified[d])} to check "
                 "it against)" for label, (d, _) in zip(labels, runs) if unverified[d]]
    if unchecked:
        table += "\n\n" + "\n".join(f"**Note:** {note}" for note in unchecked)

    out.mkdir(parents=True, exist_ok=True)
    (out / COMPARISON_MD).write_text(table + "\n", encoding="utf-8")
    write_json(out / COMPARISON_JSON, {
        "runs": [{"label": label, "dir": str(d.resolve()), "scores": _scores_json(d, scores),
                  **({"paired_vs_first": paired[i][0], "paired_note": paired[i][1],
                      "calibrated_paired_vs_first": calibrated_paired[i][0],
                      "calibrated_paired_note": calibrated_paired[i][1]} if i else {})}
                 for i, (label, (d, scores)) in enumerate(zip(labels, runs))],
        "caveats": [{"runs": named, "text": caveat.text} for caveat, named in cautions],
        "warnings": comparability_warnings(list(zip(labels, (scores for _, scores in runs))), modes) + unchecked,
    })
    judges = ", ".join(sorted({scores.judge for _, scores in runs}))
    mode = modes[0] if len(set(modes)) == 1 else None
    curves = {label: CalibratedCurve(calibrated_scores(block, scores), n_labels(block),
                                     f"Δ vs {labels[0]} {format_difference(calibrated_paired[i][0])}"
                                     if calibrated_paired[i][0] else None)
              for i, (label, block, (_, scores)) in enumerate(zip(labels, blocks, runs)) if block}
    bands = f"band: 95% CI; {CALIBRATED_STYLE}" if curves else "band: 95% CI"
    plot_corr_at_k(list(zip(labels, (scores for _, scores in runs))), out / PLOT_FILE,
                   title=f"Course-correction: Corr@k by run (judge: {judges}; {bands};\n"
                         "Δ: paired difference from the first run, percentage points)", calibrated=curves,
                   significant={labels[i]: _significant_ks(paired[i][0]) for i in range(1, len(runs))},
                   n_items_at_k={labels[i]: _n_items_at_k(d) for i, (d, _) in enumerate(runs)},
                   details={labels[i]: f"Δ vs {labels[0]} {format_difference(paired[i][0])}"
                            for i in range(1, len(runs)) if paired[i][0]},
                   footnote=_plot_footnote(labels, runs, cautions, modes), mode=mode, log_k=mode == "tokens")
    return table


def keyword_cautions(labels: Sequence[str], runs: Sequence[tuple[Path, CorrScores]]
                     ) -> list[tuple[KeywordCaveat, list[str]]]:
    """(caution, the labels of the runs it is for), one per caution, in the order of the runs: the keyword-judged
    runs of adapters ``c2 train`` made, grouped by what their objective taught them that the judge can mistake
    for a correction (``OBJECTIVE_CAVEATS``)."""
    groups: dict[KeywordCaveat, list[str]] = {}
    for label, (d, scores) in zip(labels, runs):
        objective = trained_objective(read_config(d)) if is_keyword_judge(scores.judge) else None
        if objective is not None:
            groups.setdefault(OBJECTIVE_CAVEATS[objective], []).append(label)
    return list(groups.items())


def _plot_footnote(labels: Sequence[str], runs: Sequence[tuple[Path, CorrScores]],
                   cautions: Sequence[tuple[KeywordCaveat, Sequence[str]]], modes: Sequence[str | None]) -> str | None:
    notes = [headline for headline, _, _ in _incomparable(list(zip(labels, (s for _, s in runs))), modes)]
    # One caution says what it is about; several name their runs, so that each run's is told apart.
    notes += [caveat.short(named if len(cautions) > 1 else ()) for caveat, named in cautions]
    return "Caution: " + "; ".join(notes) if notes else None


def paired_vs_first(dirs: Sequence[str | Path]) -> list[tuple[dict | None, str | None]]:
    """For each run: (its paired difference from the first run, None) or (None, why there is none).

    The first run's own entry is ``(None, None)``. See :mod:`c2_eval_metric.paired` for the figures.
    """
    if not dirs:
        return []
    results: list[tuple[dict | None, str | None]] = [(None, None)]
    first_dir = Path(dirs[0])
    try:
        first = read_item_fractions(first_dir)
    except (FileNotFoundError, ValueError) as error:
        first, first_error = None, str(error)
    for later_dir in dirs[1:]:
        if first is None:
            results.append((None, f"no per-item judgments for the first run ({first_error})"))
            continue
        try:
            later = read_item_fractions(later_dir)
        except (FileNotFoundError, ValueError) as error:
            results.append((None, f"no per-item judgments for this run ({error})"))
            continue
        reason = why_not_paired(first, later) or _different_requests(first_dir, Path(later_dir))
        results.append((None, reason) if reason else (paired_difference(first, later), None))
    return results


def calibrated_vs_first(dirs: Sequence[str | Path], paired: Sequence[tuple[dict | None, str | None]],
                        blocks: Sequence[dict | None]) -> list[tuple[dict | None, str | None]]:
    """For each run: (its paired difference from the first run calibrated with human labels, None) or (None, why
    there is none); ``paired`` is :func:`paired_vs_first`'s (the runs must pair as it pairs them), ``blocks``
    their scores.json's ``calibrated`` blocks. See :func:`c2_eval_metric.calibration.calibrated_difference`."""
    from .calibration import CALIBRATED_FILE, calibrated_difference

    results: list[tuple[dict | None, str | None]] = [(None, None)]
    for later, (figures, reason), block in zip(dirs[1:], paired[1:], blocks[1:]):
        if figures is None:
            results.append((None, reason))
        elif blocks[0] is None or block is None:
            results.append((None, "not both runs are calibrated with human labels (c2 eval calibrate)"))
        else:
            figures = calibrated_difference(dirs[0], later)
            results.append((figures, None) if figures else
                           (None, f"{CALIBRATED_FILE} is missing beside a run's calibrated scores.json"))
    return results


def _different_requests(first_dir: Path, later_dir: Path) -> str | None:
    """Item ids are row numbers unless mapped: the same ids over different data are different items."""
    from .results import read_item_requests

    first, later = read_item_requests(first_dir), read_item_requests(later_dir)
    if first and later:
        differ = sorted(item for item in set(first) & set(later) if first[item] != later[item])
        if differ:
            return (f"the runs share item ids but not their requests ({len(differ)} item(s) differ, e.g. item "
                    f"{differ[0]!r}): they were evaluated on different data, so they are not paired")
    return None


JUDGE_ONLY_PAIRED = ("Paired difference from **{first}** (same items; percentage points, 95% paired-bootstrap "
                     "interval, two-sided sign-flip permutation p-value):")
CALIBRATED_PAIRED = ("Paired difference from **{first}**, calibrated with human labels (same items, each run's own "
                     "random sample of labels; percentage points, 95% interval that counts the judge's errors and the "
                     "labels drawn, two-sided t-test p-value):")


def render_paired(labels: Sequence[str], paired: Sequence[tuple[dict | None, str | None]], *,
                  heading: str = JUDGE_ONLY_PAIRED) -> str:
    """Markdown: the paired difference of each later run from the first, per k and for Corr_mean, under
    ``heading`` (``{first}``: the first run's label)."""
    lines = [heading.format(first=labels[0]), ""]
    usable = [(label, figures) for label, (figures, _) in zip(labels[1:], paired[1:]) if figures]
    if usable:
        ks = sorted({int(k) for _, figures in usable for k in figures["per_k"]})
        lines += ["| k | " + " | ".join(f"{label} − {labels[0]}" for label, _ in usable) + " |",
                  "|---:|" + ":---:|" * len(usable)]
        for k in ks:
            cells = [format_difference(figures["per_k"][str(k)], "corr_at_k_diff") if str(k) in figures["per_k"]
                     else "–" for _, figures in usable]
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
        lines.append("| **Corr_mean** | " + " | ".join(f"**{format_difference(figures)}**" for _, figures in usable)
                     + " |")
        lines.append("| items paired | " + " | ".join(str(figures["n_items"]) for _, figures in usable) + " |")
    for label, (figures, note) in zip(labels[1:], paired[1:]):
        if not figures:
            lines.append(f"\nNo paired difference for **{label}**: {note}.")
    return "\n".join(lines)


def render_calibrated(labels: Sequence[str], runs: Sequence[tuple[Path, CorrScores]],
                      blocks: Sequence[dict | None]) -> str:
    """Markdown: the runs' Corr@k calibrated with human labels (scores.json's ``calibrated`` blocks), a row per k
    as in :func:`render_table`, and for each run without labels the line that says how to get them (or why its
    calibration no longer holds)."""
    lines = []
    if any(blocks):
        calibrated = [(label, calibrated_scores(block, scores) if block else None)
                      for label, block, (_, scores) in zip(labels, blocks, runs)]
        ks = sorted({k for _, scores in calibrated if scores for k in scores.corr_at_k})
        lines += ["**Calibrated with human labels** (`c2 eval calibrate`: the judge's figure corrected by its errors "
                  "on a random sample of the run's continuations labelled by people; Corr@k in %, 95% interval that "
                  "counts the judge's errors):", "",
                  "| k | " + " | ".join(label for label, _ in calibrated) + " |", "|---:|" + ":---:|" * len(calibrated)]
        for k in ks:
            lines.append(f"| {k} | " + " | ".join(
                _cell(scores.corr_at_k[k], scores.ci95[str(k)]) if scores and k in scores.corr_at_k else
                ("–" if scores else "no labels") for _, scores in calibrated) + " |")
        lines.append("| **Corr_mean** | " + " | ".join(
            f"**{_cell(scores.corr_mean, scores.ci95[MEAN_KEY])}**" if scores else "no labels"
            for _, scores in calibrated) + " |")
        lines.append("| labels | " + " | ".join(str(n_labels(block)) if block else "–" for block in blocks) + " |")
    unlabelled = [(label, run_calibration(d).line()) for label, block, (d, _) in zip(labels, blocks, runs)
                  if not block]
    lines += [""] * bool(lines and any(line for _, line in unlabelled))
    lines += [f"- **{label}**: {line}" for label, line in unlabelled if line]
    return "\n".join(lines)


def render_second_axis(labels: Sequence[str], stored: Sequence[dict]) -> str:
    """Markdown: over-correction on benign requests and harm leak, for the runs that measured them."""
    from .overcorrection import format_rate

    rows = []
    if any("overcorrection" in data for data in stored):
        rows.append("| **Over-correction** (benign, lower is better) | " + " | ".join(
            f"**{format_rate(data['overcorrection'])}**" if "overcorrection" in data else "not measured"
            for data in stored) + " |")
    if any("harm_leak" in data for data in stored):
        rows.append("| **Harm leak** (harmful content, lower is better) | " + " | ".join(
            f"{format_percent(data['harm_leak']['leak']['mean'])} "
            f"{format_interval(tuple(data['harm_leak']['leak']['ci95']['mean']))}" if "harm_leak" in data
            else "not measured" for data in stored) + " |")
    if not rows:
        return ""
    return "\n".join(["| second axis | " + " | ".join(labels) + " |", "|---|" + ":---:|" * len(labels), *rows, "",
                      "In %, mean over k, 95% item-bootstrap interval. Over-correction: share of continuations of "
                      "benign answers judged 'corrected' (docs/metric.md)."])


def _significant_ks(figures: dict | None) -> list[int]:
    if not figures:
        return []
    return [int(k) for k, value in figures["per_k"].items() if value["p_value"] is not None and value["p_value"] < 0.05]


def _n_items_at_k(results_dir: Path) -> dict[int, int]:
    from c2kit.jsonio import read_json

    from .results import SCORES_FILE

    stored = read_json(results_dir / SCORES_FILE).get("n_items_at_k") or {}
    return {int(k): int(v) for k, v in stored.items()}


def _scores_json(results_dir: Path, scores: CorrScores) -> dict:
    """The run's scores.json as stored (standard fields plus the analyses' blocks)."""
    from c2kit.jsonio import read_json

    from .results import SCORES_FILE

    return {**read_json(results_dir / SCORES_FILE), **scores.to_json()}


# What an adapter's train_config.yaml without an ``objective`` key was trained with: it was made before c2 train
# had other objectives than C2-Syn's DPO.
OBJECTIVE_BEFORE_OBJECTIVES = "c2-dpo"


def trained_objective(config: dict) -> str | None:
    """The ``c2 train --objective`` that made the adapter a run evaluated (its ``config.json``: ``config``), read
    from the trainer's ``train_config.yaml`` next to the adapter; None for a run of no adapter ``c2 train`` made
    (no such file there). An unreadable file or an objective c2 train does not know is refused in one line: the
    caution its scores need could not be told."""
    import yaml

    from c2kit.locks import TRAIN_CONFIG_FILE

    adapter = config.get("adapter")
    if not (isinstance(adapter, str) and is_local_path(adapter) and (Path(adapter) / TRAIN_CONFIG_FILE).is_file()):
        return None
    path = Path(adapter) / TRAIN_CONFIG_FILE
    try:
        saved = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise UserError(f"{path}: not a readable training config ({' '.join(str(error).split())})") from None
    objective = saved.get("objective", OBJECTIVE_BEFORE_OBJECTIVES) if isinstance(saved, dict) else None
    if not isinstance(objective, str) or objective not in OBJECTIVE_CAVEATS:
        what = f"objective {objective!r}" if isinstance(saved, dict) else "not a mapping of training settings"
        raise UserError(f"{path}: {what}; expected one of {', '.join(OBJECTIVE_CAVEATS)}, to tell which caution "
                        "the keyword judge's scores of this adapter need")
    return objective


def comparison_labels(dirs: Sequence[str | Path]) -> list[str]:
    """The column labels ``compare_runs`` gives these results directories (unique, no local paths)."""
    paths = [Path(d) for d in dirs]
    return _unique_labels([run_label(read_config(d), d) for d in paths], paths)


def render_table(runs: Sequence[tuple[str, CorrScores]], modes: Sequence[str | None] = (), *,
                 judge_only: bool = False) -> str:
    """Markdown: a row per k (union over runs) and a Corr_mean row; cells are "value [low, high]" in %
    (``judge_only``: named the judge's own figures, for a comparison that shows calibrated ones too)."""
    ks = sorted({k for _, scores in runs for k in scores.corr_at_k})
    lines = ["| k | " + " | ".join(label for label, _ in runs) + " |",
             "|---:|" + ":---:|" * len(runs)]
    for k in ks:
        cells = [_cell(scores.corr_at_k[k], scores.ci95[str(k)]) if k in scores.corr_at_k else "–"
                 for _, scores in runs]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines.append("| **Corr_mean** | " + " | ".join(f"**{_cell(s.corr_mean, s.ci95[MEAN_KEY])}**" for _, s in runs)
                 + " |")
    lines.append("| judge | " + " | ".join(f"`{s.judge}`" for _, s in runs) + " |")
    lines.append("| items × paths | " + " | ".join(f"{s.n_items} × {s.paths}" for _, s in runs) + " |")
    lines.append("")
    lines.append("Corr@k in %, judge only (the judge's own verdicts), with the 95% item-bootstrap interval in "
                 "brackets." if judge_only else "Corr@k in %, with the 95% item-bootstrap interval in brackets.")
    lines += ["", *(f"- {trust_note(judge)}" for judge in sorted({s.judge for _, s in runs}))]
    lines += [f"**Warning:** {warning}" for warning in comparability_warnings(runs, modes)]
    return "\n".join(lines)


def comparability_warnings(runs: Sequence[tuple[str, CorrScores]], modes: Sequence[str | None] = ()) -> list[str]:
    """What makes the runs' numbers not directly comparable: other judges, other k units (``modes``, per run:
    "words", "tokens" or None when unknown), other k values, other item counts."""
    return [f"{headline}{f' ({shown})' if shown else ''}; {consequence}"
            for headline, shown, consequence in _incomparable(runs, modes)]


def _incomparable(runs: Sequence[tuple[str, CorrScores]], modes: Sequence[str | None]
                  ) -> list[tuple[str, str | None, str]]:
    # (what differs, per run, what it means): the plot's footer shows only the first part.
    found = []
    if len({mode for mode in modes if mode}) > 1:
        found.append(("the runs count k in different units",
                      "; ".join(f"{label}: {mode or 'unknown'}" for (label, _), mode in zip(runs, modes)),
                      "Corr@k at the same k is not the same prefix length, so the plot's k axis names no unit."))
    judges = sorted({scores.judge for _, scores in runs})
    if len(judges) > 1:
        found.append((f"the runs were judged by different judges ({', '.join(judges)})", None,
                      "their numbers are not directly comparable. Re-judge with `c2 eval score --results DIR "
                      "--judge J` to compare under one judge."))
    if len({tuple(sorted(scores.corr_at_k)) for _, scores in runs}) > 1:
        found.append(("the runs cover different k values",
                      "; ".join(f"{label}: {', '.join(map(str, sorted(scores.corr_at_k)))}" for label, scores in runs),
                      "Corr_mean averages over each run's own k values, so compare Corr_mean only over the same "
                      "ones."))
    if len({scores.n_items for _, scores in runs}) > 1:
        found.append(("the runs stand on different numbers of items",
                      "; ".join(f"{label}: {scores.n_items}" for label, scores in runs),
                      "their scores are means over different items."))
    return found


def _cell(value: float, bounds: tuple[float, float]) -> str:
    return f"{format_percent(value)} {format_interval(bounds)}"


def _unique_labels(labels: list[str], dirs: list[Path]) -> list[str]:
    # Two runs of the same model (e.g. different seeds or judges) need distinguishable columns.
    counts = {label: labels.count(label) for label in labels}
    return [f"{label} ({d.name})" if counts[label] > 1 else label for label, d in zip(labels, dirs)]
