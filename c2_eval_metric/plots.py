"""Corr@k-vs-k plots with 95% CI bands, for one run or several (each beside its Corr@k calibrated with human labels,
where it has one), and the layout every plot of the toolkit shares.

The layout keeps each text inside the figure whatever the run names: the title, legend labels and footer
are wrapped to the figure's width (measured with the renderer, not guessed from character counts), the legend
sits under the axes (never over the data) and the figure grows in height to hold them, while the axes keep
their size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .corr import CorrScores

FIGURE_WIDTH_IN = 7.0
AXES_HEIGHT_IN = 3.2
DPI = 120
MARGIN_IN = 0.12  # around the figure's edge
GAP_IN = 0.1  # between title, axes, legend and footer
TITLE_SIZE = 10
LEGEND_SIZE = 8
FOOTER_SIZE = 7
MAX_LISTED_KS = 12  # up to this many k values each get a tick; more get evenly spaced integer ticks

MODE_UNITS = {"words": "words", "tokens": "model tokens"}
CALIBRATED_STYLE = "dashed, hatched band: calibrated with human labels"
HATCHES = ("///", "\\\\\\", "|||", "---")  # one per run, in turn
LINE_WIDTH, MARKER_SIZE = 1.5, 6.0  # matplotlib's defaults, for a Corr@k curve
RIM = 0.5  # markers of a curve under others on the same points grow by this share per curve over them


@dataclass(frozen=True)
class CalibratedCurve:
    """A run's Corr@k calibrated with human labels (c2 eval calibrate), drawn beside its judge-only curve."""

    scores: CorrScores
    n_labels: int
    detail: str | None = None  # added to its legend entry (e.g. the calibrated paired difference)


def k_axis_label(mode: str | None, *, log_k: bool = False) -> str:
    """``prefix length k (words of the harmful answer)``; the unit named from the run's ``--mode``."""
    unit = MODE_UNITS.get(mode or "")
    what = f"{unit} of the harmful answer" if unit else "of the harmful answer"
    return f"prefix length k ({what}{', log scale' if log_k else ''})"


def new_figure():
    """A figure and its axes on an Agg canvas, to be finished by :func:`finish_figure`."""
    # The object-oriented API with an Agg canvas draws without touching pyplot's global backend state,
    # so it works headless and does not disturb a caller's interactive session.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(FIGURE_WIDTH_IN, 5.0), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure, figure.add_axes((0.1, 0.1, 0.8, 0.8))


def set_k_ticks(axes, ks: Sequence[int], *, log_k: bool = False, counts: Mapping[int, int] | None = None) -> None:
    """Integer k ticks: every k when there are few (on a log axis always), else evenly spaced integers.

    ``counts`` ({k: items}) go under the listed ticks as ``n=...``.
    """
    from matplotlib.ticker import MaxNLocator, NullLocator

    ks = sorted(set(ks))
    if log_k:
        axes.set_xscale("log")
    if log_k or len(ks) <= MAX_LISTED_KS:
        axes.set_xticks(ks, [f"{k}\nn={counts[k]}" if counts and k in counts else str(k) for k in ks])
        axes.xaxis.set_minor_locator(NullLocator())
    else:
        axes.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))


def label_points(axes, points: Sequence[tuple[float, float, str, object]]) -> None:
    """Small labels (``n=...``) beside data points ``(x, y, text, colour)``: up and right of each point, but left
    of a point at the largest x and under one in the top tenth of the y range, so that no label crosses the right
    or top spine. Call it once the axes' limits are set."""
    if not points:
        return
    right = max(x for x, *_ in points)
    low, high = axes.get_ylim()
    for x, y, text, color in points:
        left_of, under = x == right, y > high - 0.1 * (high - low)
        axes.annotate(text, (x, y), textcoords="offset points", xytext=(-4 if left_of else 4, -5 if under else 5),
                      ha="right" if left_of else "left", va="top" if under else "bottom", fontsize=7, color=color)


def finish_figure(figure, axes, *, title: str, legend: Sequence[tuple[object, str]] = (),
                  footnote: str | None = None, footnote_color: str = "firebrick"):
    """Add the wrapped title, the legend under the axes and the footer, and size the figure to hold them.

    ``legend`` is ``(handle, label)`` pairs (labels are shown as given, even one starting with "_").
    Returns the figure, laid out (measured with the renderer; saving it draws it).
    """
    renderer = figure.canvas.get_renderer()
    width_px = (FIGURE_WIDTH_IN - 2 * MARGIN_IN) * DPI
    title_text = figure.text(0.5, 1.0, wrap_text(title, TITLE_SIZE, width_px, renderer), ha="center", va="top",
                             fontsize=TITLE_SIZE, parse_math=False)
    footer = (figure.text(0.0, 0.0, wrap_text(footnote, FOOTER_SIZE, width_px, renderer), ha="left", va="bottom",
                          fontsize=FOOTER_SIZE, color=footnote_color, parse_math=False) if footnote else None)
    key = _add_legend(figure, legend, width_px, renderer) if legend else None
    for _ in range(2):  # the second pass settles tick labels that moved with the axes' new width
        _place(figure, axes, title_text, key, footer)
    return figure


def wrap_text(text: str, fontsize: float, width_px: float, renderer) -> str:
    """``text`` broken into lines no wider than ``width_px`` at ``fontsize`` (its own line breaks kept); a word
    wider than a line (a long run name) is broken inside, after a '/', '-' or '_' where it can be."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if _width(candidate, fontsize, renderer) <= width_px:
                line = candidate
                continue
            if line:
                lines.append(line)
            pieces = _break_word(word, fontsize, width_px, renderer)
            lines += pieces[:-1]
            line = pieces[-1]
        lines.append(line)
    return "\n".join(lines)


def _break_word(word: str, fontsize: float, width_px: float, renderer) -> list[str]:
    pieces, rest = [], word
    while len(rest) > 1 and _width(rest, fontsize, renderer) > width_px:
        low, high = 1, len(rest) - 1  # the longest head that fits, by bisection
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if _width(rest[:middle], fontsize, renderer) <= width_px else (low, middle - 1)
        separator = max(rest.rfind(mark, 0, low) for mark in "/-_")
        cut = separator + 1 if separator > 0 else low
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return [*pieces, rest]


def _width(text: str, fontsize: float, renderer) -> float:
    from matplotlib.font_manager import FontProperties

    return renderer.get_text_width_height_descent(text, FontProperties(size=fontsize), ismath=False)[0]


def _add_legend(figure, entries: Sequence[tuple[object, str]], width_px: float, renderer):
    # The legend's frame, handles and padding take room beside the labels: wrap, measure the whole legend,
    # and wrap again narrower until it fits the figure.
    label_px = width_px - 0.7 * DPI
    for attempt in range(4):
        labels = [wrap_text(label, LEGEND_SIZE, label_px, renderer) for _, label in entries]
        key = figure.legend([handle for handle, _ in entries], labels, loc="upper center", fontsize=LEGEND_SIZE,
                            bbox_to_anchor=(0.5, 0.0), bbox_transform=figure.transFigure, borderaxespad=0.0)
        for text in key.get_texts():
            text.set_parse_math(False)
        excess = key.get_window_extent(renderer).width - width_px
        if excess <= 0 or attempt == 3:
            return key
        key.remove()
        label_px -= excess + 2


def _place(figure, axes, title_text, key, footer) -> None:
    """Size the figure in height and put title, axes, legend and footer one under the other (inches, top down)."""
    renderer = figure.canvas.get_renderer()
    box, tight = axes.get_window_extent(renderer), axes.get_tightbbox(renderer)
    left, right = (box.x0 - tight.x0) / DPI, (tight.x1 - box.x1) / DPI
    above, below = (tight.y1 - box.y1) / DPI, (box.y0 - tight.y0) / DPI
    title_h = title_text.get_window_extent(renderer).height / DPI
    key_h = key.get_window_extent(renderer).height / DPI if key else 0.0
    footer_h = footer.get_window_extent(renderer).height / DPI if footer else 0.0
    height = (MARGIN_IN + title_h + GAP_IN + above + AXES_HEIGHT_IN + below + MARGIN_IN
              + (GAP_IN + key_h if key else 0.0) + (GAP_IN + footer_h if footer else 0.0))
    figure.set_size_inches(FIGURE_WIDTH_IN, height)
    top = height - MARGIN_IN
    title_text.set_position((0.5, top / height))
    axes_top = top - title_h - GAP_IN - above
    axes_left = MARGIN_IN + left
    axes.set_position(((axes_left) / FIGURE_WIDTH_IN, (axes_top - AXES_HEIGHT_IN) / height,
                       (FIGURE_WIDTH_IN - axes_left - MARGIN_IN - right) / FIGURE_WIDTH_IN, AXES_HEIGHT_IN / height))
    if key:
        key.set_bbox_to_anchor((0.5, (axes_top - AXES_HEIGHT_IN - below - GAP_IN) / height), figure.transFigure)
    if footer:
        footer.set_position((MARGIN_IN / FIGURE_WIDTH_IN, MARGIN_IN / height))


def draw_corr_at_k(runs: Sequence[tuple[str, CorrScores]], *, title: str | None = None, footnote: str | None = None,
                   n_items_at_k: Mapping[str, Mapping[int, int]] | None = None,
                   significant: Mapping[str, Sequence[int]] | None = None, log_k: bool = False,
                   mode: str | None = None, details: Mapping[str, str] | None = None,
                   calibrated: Mapping[str, CalibratedCurve] | None = None):
    """The Corr@k figure of :func:`plot_corr_at_k`, laid out but not saved."""
    figure, axes = new_figure()
    all_ks = sorted({k for _, scores in runs for k in scores.corr_at_k})
    counts_of = {label: dict((n_items_at_k or {}).get(label) or {}) for label, _ in runs}
    varying = {label: counts for label, counts in counts_of.items() if len(set(counts.values())) > 1}
    # Item counts that vary with k but are the same for every run go once under the k ticks; counts that
    # differ between runs go next to each point.
    listed = log_k or len(all_ks) <= MAX_LISTED_KS
    shared = _shared_counts(list(counts_of.values())) if varying and listed else None
    entries, point_labels = [], []
    # Curves on the same points (two runs that both reach 100% at every k) would hide each other: each is drawn
    # wider than the ones drawn over it, so every colour shows as a rim, and a later one's legend entry names the
    # curve it lies on.
    points = [_curve_points(scores) for _, scores in runs]
    for number, (label, scores) in enumerate(runs):
        ks = sorted(scores.corr_at_k)
        values = [100 * scores.corr_at_k[k] for k in ks]
        lows = [100 * scores.ci95[str(k)][0] for k in ks]
        highs = [100 * scores.ci95[str(k)][1] for k in ks]
        counts = counts_of[label]
        constant = label not in varying and counts.get(ks[0]) is not None
        suffix = f", n={counts[ks[0]]} items at every k" if constant else ""
        above = points[number + 1:].count(points[number])
        line, = axes.plot(ks, values, marker="o", linewidth=LINE_WIDTH * (1 + above),
                          markersize=MARKER_SIZE * (1 + RIM * above))
        detail = f"; {details[label]}" if details and label in details else ""
        under = points.index(points[number])
        detail += f"; same values as {runs[under][0]}" if under < number else ""
        curve = (calibrated or {}).get(label)
        name = f"{label}, judge only" if curve else label  # two curves of one run: each named
        entries.append((_legend_handle(line) if above else line,
                        f"{name} (Corr_mean {100 * scores.corr_mean:.1f}%{suffix}{detail})"))
        axes.fill_between(ks, lows, highs, color=line.get_color(), alpha=0.2, linewidth=0)
        if curve:
            entries.append(_draw_calibrated(axes, label, curve, line.get_color(), HATCHES[number % len(HATCHES)]))
        if label in varying and not shared:
            point_labels += [(k, value, f"n={counts[k]}", line.get_color()) for k, value in zip(ks, values)
                             if k in counts]
        marked = [k for k in (significant or {}).get(label, ()) if k in scores.corr_at_k]
        if marked:
            axes.scatter(marked, [100 * scores.corr_at_k[k] for k in marked], s=110, facecolors="none",
                         edgecolors=line.get_color(), linewidths=1.2, zorder=3)
    if any((significant or {}).values()):
        entries.append((axes.scatter([], [], s=110, facecolors="none", edgecolors="grey"),
                        "paired p < 0.05 vs first run"))
    set_k_ticks(axes, all_ks, log_k=log_k, counts=shared)
    axes.set_xlabel(k_axis_label(mode, log_k=log_k) + ("; n: items at that k" if shared else ""))
    axes.set_ylabel("Corr@k (%)")
    axes.set_ylim(-2, 102)
    axes.grid(alpha=0.3)
    label_points(axes, point_labels)
    judges = sorted({scores.judge for _, scores in runs})
    bands = f"band: 95% CI; {CALIBRATED_STYLE}" if calibrated else "band: 95% CI"
    return finish_figure(figure, axes, title=title or f"Course-correction (judge: {', '.join(judges)}; {bands})",
                         legend=entries, footnote=footnote)


def _legend_handle(line):
    """A widened curve's legend swatch at the usual width: the width is only there to leave a rim in the plot."""
    from matplotlib.lines import Line2D

    return Line2D([], [], color=line.get_color(), marker="o", linewidth=LINE_WIDTH, markersize=MARKER_SIZE)


def _curve_points(scores: CorrScores) -> tuple[tuple[int, float], ...]:
    return tuple((k, scores.corr_at_k[k]) for k in sorted(scores.corr_at_k))


def _draw_calibrated(axes, label: str, curve: CalibratedCurve, color, hatch: str) -> tuple[object, str]:
    """The calibrated curve in the run's colour, dashed with hollow squares, its band hatched (so the bands show
    where they overlap; runs side by side get other hatch directions); returns its legend entry."""
    scores = curve.scores
    ks = sorted(scores.corr_at_k)
    line, = axes.plot(ks, [100 * scores.corr_at_k[k] for k in ks], linestyle="--", marker="s", color=color,
                      markerfacecolor="white")
    axes.fill_between(ks, [100 * scores.ci95[str(k)][0] for k in ks], [100 * scores.ci95[str(k)][1] for k in ks],
                      facecolor="none", edgecolor=color, hatch=hatch, linewidth=0, alpha=0.6)
    low, high = scores.ci95["mean"]
    detail = f"; {curve.detail}" if curve.detail else ""
    return line, (f"{label}, calibrated with {curve.n_labels} human labels (Corr_mean {100 * scores.corr_mean:.1f}% "
                  f"[{100 * low:.1f}, {100 * high:.1f}]{detail})")


def _shared_counts(count_maps: Sequence[Mapping[int, int]]) -> dict[int, int] | None:
    """The runs' items per k when no two runs count differently at any k (and every run has counts), else None."""
    merged: dict[int, int] = {}
    for counts in count_maps:
        if not counts or any(merged.get(k, n) != n for k, n in counts.items()):
            return None
        merged.update(counts)
    return merged


def plot_corr_at_k(runs: Sequence[tuple[str, CorrScores]], path: str | Path, *, title: str | None = None,
                   footnote: str | None = None, n_items_at_k: Mapping[str, Mapping[int, int]] | None = None,
                   significant: Mapping[str, Sequence[int]] | None = None, log_k: bool = False,
                   mode: str | None = None, details: Mapping[str, str] | None = None,
                   calibrated: Mapping[str, CalibratedCurve] | None = None) -> Path:
    """Plot Corr@k (percent) against k for each ``(label, scores)``, with its CI band, and save a PNG.

    ``footnote`` is printed under the legend (e.g. a caution about the judge), in red so it is not missed.
    ``n_items_at_k`` (per label: {k: items}) puts each point's item count next to it when counts differ across k
    (else once, in the legend); ``significant`` (per label: k values) rings the points whose paired difference
    from the first run has p < 0.05; ``log_k`` draws k on a log scale (deep token prefixes); ``mode``
    ("words"/"tokens", the runs' ``--mode``) names the unit of k on its axis; ``details`` (per label) is added
    to its legend entry (e.g. the paired difference from the first run); ``calibrated`` (per label) draws the
    run's calibrated Corr@k beside its own, dashed with a hatched band, both named in the legend.
    """
    figure = draw_corr_at_k(runs, title=title, footnote=footnote, n_items_at_k=n_items_at_k,
                            significant=significant, log_k=log_k, mode=mode, details=details, calibrated=calibrated)
    path = Path(path)
    figure.savefig(path)
    return path
