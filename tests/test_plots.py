"""Every plot the toolkit writes fits its figure: for 1 to 8 runs with long names, each text (title, legend,
axis labels, tick labels, point labels, footer) lies inside the figure, the legend stays off the data, the axes
keep their width, k ticks are integers and the k axis names its unit. A run calibrated with human labels gets its
calibrated curve and band beside its own, each named."""

from __future__ import annotations

import json
import random
from unittest import mock

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from c2_eval_metric.compare import compare_runs
from c2_eval_metric.corr import CorrScores, compute_corr
from c2_eval_metric.latency import compute_latency
from c2_eval_metric.plots import AXES_HEIGHT_IN, CalibratedCurve, draw_corr_at_k, wrap_text
from c2_eval_metric.results import write_scored_results
from view_synthetic import label_file, write_improved_copy, write_rejudged_copy, write_synthetic_run

LONG = "meta-llama/Llama-2-7b-chat-hf + llama2-7b-chat-c2-dpo-rank1-5-seed{}-with-a-very-long-adapter-name"
FOOTNOTE = ("Caution: keyword judge on a C2-Syn-trained adapter: it can be gamed by the training triggers; "
            "confirm with a model judge before trusting the difference; the runs were judged by different judges")


@pytest.fixture
def saved_figures(monkeypatch) -> list[Figure]:
    """Every figure saved while the test runs (the plotting code draws and saves them as it always does)."""
    figures: list[Figure] = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        figures.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return figures


def drawn_texts(figure: Figure) -> list[Text]:
    """The texts a draw of ``figure`` really puts on the canvas (visible, non-empty), in drawing order."""
    drawn: list[Text] = []
    original = Text.draw

    def draw(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return original(self, renderer)

    with mock.patch.object(Text, "draw", draw):  # Annotation.draw calls Text.draw too
        figure.canvas.draw()
    return drawn


def check_fits(figure: Figure, *, expect: tuple[str, ...] = ()) -> list[Text]:
    """Each drawn text inside the figure, the legend off the axes, the axes not squeezed; returns the texts."""
    texts = drawn_texts(figure)
    renderer = figure.canvas.get_renderer()
    bounds = figure.bbox
    for text in texts:
        box = text.get_window_extent(renderer)
        assert (box.x0 >= bounds.x0 - 0.5 and box.y0 >= bounds.y0 - 0.5 and box.x1 <= bounds.x1 + 0.5
                and box.y1 <= bounds.y1 + 0.5), f"{text.get_text()!r} at {box} is not inside the figure {bounds}"
    strings = [text.get_text() for text in texts]
    for wanted in expect:  # the title, footer and legend labels were among the texts checked
        assert any(wanted in s.replace("\n", " ") for s in strings), f"{wanted!r} not drawn: {strings}"
    axes = figure.axes[0]
    assert {axes.xaxis.label, axes.yaxis.label} <= set(texts)
    assert sum(1 for text in texts if text in axes.get_xticklabels()) >= 2
    assert sum(1 for text in texts if text in axes.get_yticklabels()) >= 2
    area = axes.get_window_extent(renderer)
    check_inside_spines(figure)
    for legend in figure.legends:
        assert set(legend.get_texts()) <= set(texts)
        assert not legend.get_window_extent(renderer).overlaps(area), "the legend covers the data"
    assert area.width >= 0.75 * bounds.width  # the plot area is not squeezed aside by long labels
    assert area.height == pytest.approx(AXES_HEIGHT_IN * figure.dpi, abs=1)
    return texts


def check_inside_spines(figure: Figure) -> list[Text]:
    """Each text drawn in the axes (the n=... beside the points) lies within its spines, crossing none."""
    drawn = set(drawn_texts(figure))
    axes = figure.axes[0]
    renderer = figure.canvas.get_renderer()
    area = axes.get_window_extent(renderer)
    inner = [text for text in axes.texts if text in drawn]
    for text in inner:
        box = text.get_window_extent(renderer)
        assert (box.x0 >= area.x0 and box.x1 <= area.x1 and box.y0 >= area.y0 and box.y1 <= area.y1), \
            f"{text.get_text()!r} at {box} crosses a spine of the axes {area}"
    return inner


def x_ticks(figure: Figure) -> list[str]:
    axes = figure.axes[0]
    lo, hi = sorted(axes.get_xlim())
    return [label.get_text() for label, tick in zip(axes.get_xticklabels(), axes.get_xticks()) if lo <= tick <= hi]


def _scores(seed: int, ks, judge: str = "keyword-v4", items: int = 12):
    rng = random.Random(seed)
    rows = [(f"item{i}", k, rng.random() < 0.5) for i in range(items) for k in ks for _ in range(3)]
    return compute_corr(rows, judge=judge, n_bootstrap=50)


@pytest.mark.parametrize("n_runs", [1, 2, 3, 5, 8])
def test_corr_plot_fits_long_names_and_many_runs(n_runs):
    ks = list(range(10, 90, 10))
    labels = [LONG.format(i) for i in range(n_runs)]
    runs = [(label, _scores(i, ks)) for i, label in enumerate(labels)]
    # Counts that differ between runs go next to the points (annotations must fit as well).
    counts = {label: {k: 12 - (k // 20) - i for k in ks} for i, label in enumerate(labels)}
    figure = draw_corr_at_k(runs, title="Course-correction: Corr@k by run (judge: keyword-v4; band: 95% CI;\n"
                            "Δ: paired difference from the first run, percentage points)", footnote=FOOTNOTE,
                            significant={label: [10, 30] for label in labels[1:]}, n_items_at_k=counts,
                            details={label: "Δ vs base +47.5 [+35.8, +59.2] p=0.002" for label in labels[1:]},
                            mode="words")
    texts = check_fits(figure, expect=("Course-correction: Corr@k by run", "percentage points)", FOOTNOTE,
                                       *(f"Corr_mean {100 * s.corr_mean:.1f}%" for _, s in runs)))
    detailed = [t for t in texts if "; Δ vs base +47.5 [+35.8, +59.2] p=0.002)" in t.get_text().replace("\n", " ")]
    assert len(detailed) == n_runs - 1
    if n_runs == 1:  # one run's counts go under the k ticks
        assert x_ticks(figure) == [f"{k}\nn={counts[labels[0]][k]}" for k in ks]
        assert figure.axes[0].get_xlabel() == "prefix length k (words of the harmful answer); n: items at that k"
    else:  # counts differing between runs go next to each point: those labels were checked too
        assert sum(1 for text in texts if text.get_text().startswith("n=")) == n_runs * len(ks)
        assert x_ticks(figure) == [str(k) for k in ks]
        assert figure.axes[0].get_xlabel() == "prefix length k (words of the harmful answer)"


def test_single_run_ticks_are_the_ks_and_counts_go_under_them():
    figure = draw_corr_at_k([("base-model", _scores(0, [10, 20, 30]))], mode="words",
                            n_items_at_k={"base-model": {10: 12, 20: 11, 30: 9}})
    check_fits(figure, expect=("Course-correction (judge: keyword-v4", "base-model (Corr_mean"))
    assert x_ticks(figure) == ["10\nn=12", "20\nn=11", "30\nn=9"]  # no 12.5, 17.5, ...
    assert figure.axes[0].get_xlabel() == "prefix length k (words of the harmful answer); n: items at that k"


def test_many_ks_get_integer_ticks_and_tokens_name_their_unit():
    many = draw_corr_at_k([("run", _scores(0, range(3, 40, 3)))], mode="words")  # 13 k values
    check_fits(many)
    assert x_ticks(many) and all(label.isdigit() for label in x_ticks(many))
    tokens = draw_corr_at_k([("run", _scores(0, [8, 16, 32, 64, 128, 256, 500]))], mode="tokens", log_k=True)
    check_fits(tokens)
    assert x_ticks(tokens) == ["8", "16", "32", "64", "128", "256", "500"]
    assert tokens.axes[0].get_xlabel() == "prefix length k (model tokens of the harmful answer, log scale)"
    unknown = draw_corr_at_k([("run", _scores(0, [10, 20]))])
    assert unknown.axes[0].get_xlabel() == "prefix length k (of the harmful answer)"


def test_a_word_longer_than_a_line_is_broken_and_names_are_not_math():
    figure = draw_corr_at_k([("org/" + "x" * 300 + "$a$_b", _scores(0, [10, 20]))])
    renderer = figure.canvas.get_renderer()
    check_fits(figure)
    label = figure.legends[0].get_texts()[0].get_text()
    assert label.replace("\n", "").startswith("org/" + "x" * 300 + "$a$_b")  # shown whole, "$" not read as TeX
    assert wrap_text("a-b/c " * 40, 8, 200, renderer).count("\n") >= 3


def _judgments(seed: int, ks, items: int = 6, paths: int = 2, judge: str = "keyword-v4") -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(items):
        for k in ks:
            if k > 30 and i >= items - 2:  # two items too short for the deepest prefixes: counts vary with k
                continue
            for p in range(paths):
                corrected = rng.random() < 0.6
                rows.append({"item_id": f"item{i}", "k": k, "path": p, "judge": judge, "corrected": corrected,
                             **({"correction_char": 3, "correction_word": rng.randint(0, 9)} if corrected else {})})
    return rows


def test_every_plot_a_run_and_a_comparison_write_fits(tmp_path, saved_figures):
    # The real writers: a run's corr_at_k.png and latency_by_k.png, and the comparison of 3 runs whose adapters
    # have long local names, in tokens mode, the last judged by another judge (a caution footer).
    dirs = []
    for i in range(3):
        judge = "keyword-v3" if i == 2 else "keyword-v4"
        adapter = tmp_path / "adapters" / LONG.format(i).split(" + ")[1]
        dirs.append(tmp_path / f"run{i}")
        write_scored_results(dirs[-1], _judgments(i, [8, 16, 32, 64], judge=judge), judge=judge,
                             config={"model": "meta-llama/Llama-2-7b-chat-hf", "adapter": str(adapter),
                                     "mode": "tokens"})
    single = list(saved_figures)
    assert len(single) == 6  # Corr@k and latency, per run
    for figure in single:
        check_fits(figure, expect=("judge: keyword-v",))
        assert "model tokens of the harmful answer" in figure.axes[0].get_xlabel()
    compare_runs(dirs, out_dir=tmp_path / "cmp")
    figure = saved_figures[-1]
    texts = check_fits(figure, expect=("Corr@k by run", "seed2-with-a-very-long-adapter-name",
                                       "Caution: the runs were judged by different judges (keyword-v3, keyword-v4)",
                                       "; Δ vs meta-llama/Llama-2-7b-chat-hf"))
    assert x_ticks(figure) == ["8\nn=6", "16\nn=6", "32\nn=4", "64\nn=4"]
    assert sum(1 for text in texts if "Corr_mean" in text.get_text()) == 3


def test_a_plot_drawn_again_for_publishing_keeps_its_unit_and_counts(tmp_path, saved_figures):
    """``c2 publish`` redraws a local model's plot with a clean label: the k axis keeps its unit and counts."""
    from c2_eval_metric.results import read_config, read_scores
    from c2kit.publish.local_paths import run_plot

    run = tmp_path / "run"
    write_scored_results(run, _judgments(0, [8, 16, 32, 64]), judge="keyword-v4",
                         config={"model": str(tmp_path / "models" / "base"), "mode": "tokens"})
    written = saved_figures[0]
    assert isinstance(run_plot(run, read_config(run), read_scores(run)), bytes)  # drawn again, not the file
    redrawn = saved_figures[-1]
    assert redrawn is not written
    assert redrawn.axes[0].get_xlabel() == written.axes[0].get_xlabel()
    assert "model tokens of the harmful answer, log scale" in redrawn.axes[0].get_xlabel()
    assert x_ticks(redrawn) == x_ticks(written) == ["8\nn=6", "16\nn=6", "32\nn=4", "64\nn=4"]
    check_fits(redrawn)


def test_a_plot_drawn_again_for_publishing_keeps_its_calibrated_band(tmp_path, saved_figures):
    from c2_eval_metric.results import read_config, read_scores
    from c2kit.cli import main
    from c2kit.publish.local_paths import run_plot

    exact = write_synthetic_run(tmp_path / "exact", items=12, ks=(10, 20, 30), paths=3, seed=0)
    run = write_rejudged_copy(exact, tmp_path / "run", flip_every=4)
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    (run / "config.json").write_text(json.dumps({**config, "model": str(tmp_path / "models" / "base")}))
    labels = tmp_path / "labels.jsonl"
    assert main(["eval", "sample", str(run), "--n", "36", "--out", str(labels)]) == 0
    assert main(["eval", "calibrate", str(run), "--labels", str(label_file(labels))]) == 0
    written = saved_figures[-1]
    assert isinstance(run_plot(run, read_config(run), read_scores(run)), bytes)  # drawn again: a local model's name
    redrawn = saved_figures[-1]
    assert redrawn is not written and len(hatched_bands(redrawn)) == len(hatched_bands(written)) == 1
    check_fits(redrawn, expect=("base, judge only (Corr_mean", "base, calibrated with 36 human labels (Corr_mean"))


def test_runs_counting_k_in_other_units_are_flagged_and_the_axis_names_no_unit(tmp_path, saved_figures):
    for mode in ("words", "tokens"):
        write_scored_results(tmp_path / mode, _judgments(0, [10, 20]), judge="keyword-v4", config={"mode": mode})
    table = compare_runs([tmp_path / "words", tmp_path / "tokens"], out_dir=tmp_path / "cmp")
    assert ("**Warning:** the runs count k in different units (words: words; tokens: tokens); Corr@k at the same k "
            "is not the same prefix length, so the plot's k axis names no unit.") in table
    figure = saved_figures[-1]
    check_fits(figure, expect=("Caution: the runs count k in different units",))
    assert figure.axes[0].get_xlabel().startswith("prefix length k (of the harmful answer)")


def hatched_bands(figure: Figure) -> list:
    """The hatched bands of the figure's axes: the calibrated Corr@k's 95% intervals."""
    from matplotlib.collections import PolyCollection

    return [band for band in figure.axes[0].collections if isinstance(band, PolyCollection) and band.get_hatch()]


@pytest.mark.parametrize("n_runs", [1, 2, 5])
def test_calibrated_curves_are_drawn_beside_each_run_named_and_fit(n_runs):
    from matplotlib.colors import to_rgba

    ks = [10, 20, 30, 40]
    labels = [LONG.format(i) for i in range(n_runs)]
    runs = [(label, _scores(i, ks)) for i, label in enumerate(labels)]
    detail = "Δ vs base +12.0 [+1.0, +23.0] p=0.030"
    curves = {label: CalibratedCurve(_scores(10 + i, ks), 40 + i, detail if i else None)
              for i, label in enumerate(labels)}
    figure = draw_corr_at_k(runs, calibrated=curves, mode="words")
    texts = check_fits(figure, expect=("dashed, hatched band: calibrated with human labels",
                                       *(f"calibrated with {curve.n_labels} human labels (Corr_mean "
                                         f"{100 * curve.scores.corr_mean:.1f}%" for curve in curves.values())))
    legend = [text.get_text().replace("\n", " ") for text in figure.legends[0].get_texts()]
    assert len(legend) == 2 * n_runs  # each run's two curves, each named
    assert sum(", judge only (Corr_mean" in entry for entry in legend) == n_runs
    assert sum("; Δ vs base +12.0 [+1.0, +23.0] p=0.030)" in entry for entry in legend) == n_runs - 1
    assert set(legend) <= {text.get_text().replace("\n", " ") for text in texts}
    lines = figure.axes[0].get_lines()
    dashed = [line for line in lines if line.get_linestyle() == "--"]
    solid = [line for line in lines if line.get_linestyle() == "-"]
    bands = hatched_bands(figure)
    assert len(dashed) == len(solid) == len(bands) == n_runs
    assert len({band.get_hatch() for band in bands}) == min(n_runs, 4)  # side by side, told apart
    for (label, _), line, own, band in zip(runs, dashed, solid, bands):
        scores = curves[label].scores
        assert list(line.get_ydata()) == pytest.approx([100 * scores.corr_at_k[k] for k in ks])
        assert line.get_color() == own.get_color()  # the run's colour
        assert tuple(band.get_edgecolor()[0][:3]) == pytest.approx(to_rgba(own.get_color())[:3])
        heights = band.get_paths()[0].vertices[:, 1]  # the band spans the calibrated 95% intervals
        assert min(heights) == pytest.approx(100 * min(scores.ci95[str(k)][0] for k in ks))
        assert max(heights) == pytest.approx(100 * max(scores.ci95[str(k)][1] for k in ks))


def test_every_plot_of_calibrated_runs_and_their_comparison_fits(tmp_path, saved_figures):
    # The real writers: c2 eval calibrate draws each run's corr_at_k.png again, c2 eval compare the comparison.
    from c2kit.cli import main

    exact = write_synthetic_run(tmp_path / "exact", items=12, ks=(10, 20, 30), paths=3, seed=0)
    runs = [write_rejudged_copy(exact, tmp_path / "first", flip_every=4),
            write_rejudged_copy(write_improved_copy(exact, tmp_path / "later-exact", model=LONG.format(1)),
                                tmp_path / "later", flip_every=4)]
    for seed, run in enumerate(runs):
        labels = tmp_path / f"{run.name}-labels.jsonl"
        assert main(["eval", "sample", str(run), "--n", "36", "--seed", str(seed), "--out", str(labels)]) == 0
        before = len(saved_figures)
        assert main(["eval", "calibrate", str(run), "--labels", str(label_file(labels))]) == 0
        [figure] = saved_figures[before:]
        check_fits(figure, expect=(", judge only (Corr_mean", "calibrated with 36 human labels (Corr_mean",
                                   "band: 95% CI; dashed, hatched band: calibrated with human labels"))
        assert len(hatched_bands(figure)) == 1
    compare_runs(runs, out_dir=tmp_path / "cmp")
    figure = saved_figures[-1]
    check_fits(figure, expect=("Corr@k by run", "dashed, hatched band: calibrated with human labels",
                               "seed1-with-a-very-long-adapter-name, calibrated with 36 human labels",
                               "; Δ vs synthetic/full-size"))
    assert len(hatched_bands(figure)) == 2
    legend = " ".join(text.get_text().replace("\n", " ") for text in figure.legends[0].get_texts())
    assert legend.count("; Δ vs synthetic/full-size") == 2  # the judge-only and the calibrated paired difference


def test_latency_plot_of_several_long_named_runs_fits():
    from c2_eval_metric.latency import draw_latency

    runs = [(LONG.format(i), compute_latency(_judgments(i, [10, 20, 30, 40]))) for i in range(3)]
    figure = draw_latency(runs, judge="keyword-v4", mode="words")
    check_fits(figure, expect=("Correction latency (judge: keyword-v4", "seed2-with-a-very-long-adapter-name"))
    assert x_ticks(figure) == ["10", "20", "30", "40"]
    assert figure.axes[0].get_xlabel() == "prefix length k (words of the harmful answer)"


def test_point_labels_at_the_right_and_top_edges_stay_inside_the_spines():
    """latency_by_k.png and a comparison's Corr@k: the n= of the last k (and of a point at the top) used to cross
    the right (and top) spine."""
    from c2_eval_metric.latency import draw_latency

    rows = [{"item_id": f"item{i}", "k": k, "path": p, "judge": "keyword-v4", "corrected": True,
             "correction_char": 3, "correction_word": k // 10 + p} for i in range(5) for k in (10, 20, 30)
            for p in range(2)]
    figure = draw_latency([("run", compute_latency(rows))], judge="keyword-v4", mode="words")
    labels = check_inside_spines(figure)
    assert sorted(text.get_text() for text in labels) == ["n=10"] * 3
    counts = {"a": {10: 6, 20: 5}, "b": {10: 4, 20: 3}}  # counts that differ between runs go beside each point
    top = CorrScores.from_json({"corr_at_k": {"10": 0.5, "20": 1.0}, "corr_mean": 0.75, "n_items": 6, "paths": 2,
                                "judge": "keyword-v4",
                                "ci95": {"10": [0.3, 0.7], "20": [1.0, 1.0], "mean": [0.6, 0.9]}})
    figure = draw_corr_at_k([("a", top), ("b", top)], n_items_at_k=counts)
    assert len(check_inside_spines(figure)) == 4


def test_curves_on_the_same_points_all_show():
    """Three adapters that all reach 100% at every k: the last curve drawn used to cover the others exactly, so a
    comparison of five runs showed three colours in its axes. Each is now drawn wider than the ones over it, and a
    later one's legend entry names the curve it lies on."""
    import numpy as np
    from matplotlib.colors import to_rgb

    perfect = CorrScores.from_json({"corr_at_k": {"10": 1.0, "20": 1.0, "30": 1.0}, "corr_mean": 1.0, "n_items": 10,
                                    "paths": 4, "judge": "keyword-v5",
                                    "ci95": {"10": [1.0, 1.0], "20": [1.0, 1.0], "30": [1.0, 1.0], "mean": [1.0, 1.0]}})
    runs = [("base", _scores(0, [10, 20, 30])), ("recovery-sft", perfect), ("derta", perfect), ("backtrack", perfect)]
    figure = draw_corr_at_k(runs, mode="words")
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3].astype(int)
    box = figure.axes[0].get_window_extent()  # the data area only: the legend shows every colour anyway
    pixels = pixels[round(pixels.shape[0] - box.y1):round(pixels.shape[0] - box.y0), round(box.x0):round(box.x1)]
    lines = figure.axes[0].get_lines()
    for line, label in zip(lines[1:], ("recovery-sft", "derta", "backtrack")):
        colour = np.array([round(255 * channel) for channel in to_rgb(line.get_color())])
        assert (np.abs(pixels - colour).sum(axis=-1) <= 30).sum() > 200, f"{label}'s curve is hidden"
    assert [line.get_linewidth() for line in lines] == [1.5, 4.5, 3.0, 1.5]
    legend = [text.get_text().replace("\n", " ") for text in figure.legends[0].get_texts()]
    assert [entry.endswith("; same values as recovery-sft)") for entry in legend] == [False, False, True, True]
    check_fits(figure)
