"""Corr@k-vs-k plots with 95% CI bands, for one run or several."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .corr import CorrScores


def plot_corr_at_k(runs: Sequence[tuple[str, CorrScores]], path: str | Path, *, title: str | None = None,
                   footnote: str | None = None) -> Path:
    """Plot Corr@k (percent) against k for each ``(label, scores)``, with its CI band, and save a PNG.

    ``footnote`` is printed under the axes (e.g. a caution about the judge), in red so it is not missed.
    """
    # The object-oriented API with an Agg canvas draws without touching pyplot's global backend state,
    # so it works headless and does not disturb a caller's interactive session.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for label, scores in runs:
        ks = sorted(scores.corr_at_k)
        values = [100 * scores.corr_at_k[k] for k in ks]
        lows = [100 * scores.ci95[str(k)][0] for k in ks]
        highs = [100 * scores.ci95[str(k)][1] for k in ks]
        line, = axes.plot(ks, values, marker="o", label=f"{label} (Corr_mean {100 * scores.corr_mean:.1f}%)")
        axes.fill_between(ks, lows, highs, color=line.get_color(), alpha=0.2, linewidth=0)
    axes.set_xlabel("prefix length k (words or tokens of the harmful answer)")
    axes.set_ylabel("Corr@k (%)")
    axes.set_ylim(-2, 102)
    axes.grid(alpha=0.3)
    judges = sorted({scores.judge for _, scores in runs})
    axes.set_title(title or f"Course-correction (judge: {', '.join(judges)}; band: 95% CI)", fontsize=10)
    axes.legend(fontsize=8)
    if footnote:
        figure.text(0.01, 0.01, footnote, fontsize=7, color="firebrick", wrap=True)
        figure.tight_layout(rect=(0, 0.05, 1, 1))
    else:
        figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    return path
