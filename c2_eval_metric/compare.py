"""Compare several results directories: one Markdown table, one JSON file and one plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .corr import MEAN_KEY, CorrScores, format_interval, format_percent
from .plots import plot_corr_at_k
from c2kit.jsonio import write_json
from c2kit.judges.caveats import KEYWORD_GAMING_CAVEAT, SHORT_GAMING_CAVEAT, is_keyword_judge

from .results import PLOT_FILE, is_local_path, read_config, read_scores, run_label

COMPARISON_MD = "comparison.md"
COMPARISON_JSON = "comparison.json"


def compare_runs(dirs: Sequence[str | Path], *, out_dir: str | Path) -> str:
    """Table of Corr@k (rows k and Corr_mean) with one column per run; writes comparison.md/.json and a plot.

    Columns are labelled by the run's adapter or model (from config.json; a local model or adapter by its
    directory's name, a Hub model by its id), else the directory name. Every directory must hold a scores.json.
    """
    if not dirs:
        raise ValueError("compare needs at least one results directory")
    runs = [(Path(d), read_scores(d)) for d in dirs]  # fails first, before anything is written
    labels = comparison_labels([d for d, _ in runs])
    gamed = [label for label, (d, scores) in zip(labels, runs)
             if is_keyword_judge(scores.judge) and trained_by_c2(read_config(d))]
    table = render_table(list(zip(labels, (scores for _, scores in runs))))
    if gamed:
        table += f"\n\n**Caution ({', '.join(gamed)}):** {KEYWORD_GAMING_CAVEAT}"

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / COMPARISON_MD).write_text(table + "\n", encoding="utf-8")
    write_json(out / COMPARISON_JSON, {
        "runs": [{"label": label, "dir": str(d.resolve()), "scores": scores.to_json()}
                 for label, (d, scores) in zip(labels, runs)],
        "caveats": [{"runs": gamed, "text": KEYWORD_GAMING_CAVEAT}] if gamed else [],
    })
    plot_corr_at_k(list(zip(labels, (scores for _, scores in runs))), out / PLOT_FILE,
                   title="Course-correction: Corr@k by run (band: 95% CI)",
                   footnote=f"Caution: {SHORT_GAMING_CAVEAT}" if gamed else None)
    return table


def trained_by_c2(config: dict) -> bool:
    """Whether a run evaluated an adapter made by ``c2 train`` (on C2-Syn pairs): its folder has the trainer's
    ``train_config.yaml`` next to the adapter."""
    from c2kit.training.trainer import CONFIG_FILE

    adapter = config.get("adapter")
    return isinstance(adapter, str) and is_local_path(adapter) and (Path(adapter) / CONFIG_FILE).is_file()


def comparison_labels(dirs: Sequence[str | Path]) -> list[str]:
    """The column labels ``compare_runs`` gives these results directories (unique, no local paths)."""
    paths = [Path(d) for d in dirs]
    return _unique_labels([run_label(read_config(d), d) for d in paths], paths)


def render_table(runs: Sequence[tuple[str, CorrScores]]) -> str:
    """Markdown: a row per k (union over runs) and a Corr_mean row; cells are "value [low, high]" in %."""
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
    lines.append("Corr@k in %, with the 95% item-bootstrap interval in brackets.")
    judges = {scores.judge for _, scores in runs}
    if len(judges) > 1:
        lines.append(f"**Warning:** the runs were judged by different judges ({', '.join(sorted(judges))}); "
                     "their numbers are not directly comparable. Re-judge with `c2 eval score --results DIR "
                     "--judge J` to compare under one judge.")
    return "\n".join(lines)


def _cell(value: float, bounds: tuple[float, float]) -> str:
    return f"{format_percent(value)} {format_interval(bounds)}"


def _unique_labels(labels: list[str], dirs: list[Path]) -> list[str]:
    # Two runs of the same model (e.g. different seeds or judges) need distinguishable columns.
    counts = {label: labels.count(label) for label in labels}
    return [f"{label} ({d.name})" if counts[label] > 1 else label for label, d in zip(labels, dirs)]
