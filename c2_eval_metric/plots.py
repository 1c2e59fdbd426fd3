"""Corr@k-vs-k plots with 95% CI bands, for one run or several."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .corr import CorrScores


def plot_corr_at_k(runs: Sequence[tuple[str, CorrScores]], path: str | Path, *, title: str | None = None,
                   footnote: str | None = None, n_items_at_k: Mapping[str, Mapping[int, int]] | None = None,
                   significant: Mapping[str, Sequence[int]] | None = None, log_k: bool = False) -> Path:
    """Plot Corr@k (percent) against k for each ``(label, scores)``, with its CI band, and save a PNG.

    ``footnote`` is printed under the axes (e.g. a caution about the judge), in red so it is not missed.
    ``n_items_at_k`` (per label: {k: items}) puts each point's item count next to it when counts differ across k
    (else once, in the legend); ``significant`` (per label: k values) rings the points whose paired difference
    from the first run has p < 0.05; ``log_k`` draws k on a log scale (deep token prefixes).
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
        counts = (n_items_at_k or {}).get(label) or {}
        constant = len({counts.get(k) for k in ks}) == 1 and counts.get(ks[0]) is not None
        suffix = f", n={counts[ks[0]]} items at every k" if constant else ""
        line, = axes.plot(ks, values, marker="o",
                          label=f"{label} (Corr_mean {100 * scores.corr_mean:.1f}%{suffix})")
        axes.fill_between(ks, lows, highs, color=line.get_color(), alpha=0.2, linewidth=0)
        if counts and not constant:
            for k, value in zip(ks, values):
                if k in counts:
                    axes.annotate(f"n={counts[k]}", (k, value), textcoords="offset points", xytext=(4, 5),
                                  fontsize=7, color=line.get_color())
        marked = [k for k in (significant or {}).get(label, ()) if k in scores.corr_at_k]
        if marked:
            axes.scatter(marked, [100 * scores.corr_at_k[k] for k in marked], s=110, facecolors="none",
                         edgecolors=line.get_color(), linewidths=1.2, zorder=3)
    if any((significant or {}).values()):
        axes.scatter([], [], s=110, facecolors="none", edgecolors="grey", label="paired p < 0.05 vs first run")
    if log_k:
        all_ks = sorted({k for _, scores in runs for k in scores.corr_at_k})
        axes.set_xscale("log")
        axes.set_xticks(all_ks, [str(k) for k in all_ks])
        axes.minorticks_off()
    axes.set_xlabel("prefix length k (words or tokens of the harmful answer" + (", log scale)" if log_k else ")"))
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
