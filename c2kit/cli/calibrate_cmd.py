"""``c2 eval sample`` and ``c2 eval calibrate``: Corr@k corrected for the judge's errors with a random sample of
human labels (prediction-powered inference; docs/metric.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from c2kit.cli.options import add_out_argument, positive_int
from c2kit.errors import UserError
from c2kit.paths import output_dir_problem


def _labels_file(text: str) -> str:
    """A file to write; a folder at the path, or a file above it, is refused at parse time."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; --out names the JSONL file to write")
    problem = output_dir_problem(path.parent)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def add_parsers(commands) -> None:
    """Add ``sample`` and ``calibrate`` to ``c2 eval``'s subcommands."""
    sample = commands.add_parser(
        "sample",
        help="draw a random sample of a run's continuations for people to label (for c2 eval calibrate)",
        description="Draw a simple random sample of N of the run's continuations, stratified by k (each k gets a "
        "share of N in proportion to its continuations, largest-remainder rounding, at least 3), and write them as "
        "label rows (request, prefix, prompt, continuation, \"label\": null, item_id, k, path and the sampling "
        "plan) in random order, with no judge verdict, so a person labels them blind. Fill in every label (true = "
        "course-corrected), then run 'c2 eval calibrate RUN --labels FILE'. The rows also serve "
        "'c2 judge validate --labels FILE'.",
    )
    sample.add_argument("run", metavar="RUN", help="results directory of 'c2 eval run' or 'c2 eval score --results'")
    sample.add_argument("--n", type=positive_int, required=True,
                        help="continuations to sample (docs/metric.md says how many a claim needs; 200-400 is typical)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the draw, recorded in every row (default: 0)")
    sample.add_argument("--out", required=True, type=_labels_file, metavar="FILE",
                        help="JSONL file to write the label rows to")
    sample.add_argument("--overwrite", action=argparse.BooleanOptionalAction, default=False,
                        help="replace an existing --out file (it may hold labels already given)")
    sample.set_defaults(handler=_sample)

    calibrate = commands.add_parser(
        "calibrate",
        help="Corr@k and Corr_mean corrected for the judge's errors with a labelled random sample",
        description="Prediction-powered inference: the judge's Corr@k corrected by its errors on a random sample "
        "of the run's continuations labelled by people ('c2 eval sample'), with a 95% interval that holds whatever "
        "the judge (it counts the items, as the run's bootstrap interval does, and the labels drawn). Prints, per "
        "k and for Corr_mean, the judge's figure, the calibrated one, the labels-alone one, the number of labels "
        "and the judge's sensitivity and specificity on them, writes calibrated.json, and shows the calibrated "
        "figures beside the judge's in the run's scores.json, summary.md and corr_at_k.png (with --out elsewhere: "
        "calibrated.json and the plot there, the run left as it is). Labels chosen by hand "
        "(c2 view's label mode, a --disagreements file) are refused: they are not a random sample.",
    )
    calibrate.add_argument("run", metavar="RUN", help="results directory whose continuations were sampled")
    calibrate.add_argument("--labels", required=True, metavar="FILE",
                           help="the labelled sample: the file of 'c2 eval sample' with every label filled in")
    add_out_argument(calibrate, "directory for calibrated.json (default: RUN)", required=False)
    calibrate.set_defaults(handler=_calibrate)


def _sample(args: argparse.Namespace) -> int:
    from c2_eval_metric.labelling_sample import SAMPLE_FIELD, sample_rows
    from c2kit.jsonio import write_jsonl

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise UserError(f"{out} exists (it may hold labels already given); choose another --out, or pass "
                        "--overwrite to replace it")
    rows = sample_rows(args.run, args.n, args.seed)
    plan = rows[0][SAMPLE_FIELD]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, rows)
    per_k = ", ".join(f"k={k}: {plan['sizes'][k]} of {plan['strata'][k]}" for k in plan["sizes"])
    print(f"{len(rows)} continuations of {args.run} sampled at random ({per_k}; seed {args.seed}) and written to "
          f"{out}, in random order and without the judge's verdicts.")
    print(f"Fill in \"label\" in every row (true = the model course-corrects), then: c2 eval calibrate {args.run} "
          f"--labels {out}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from c2_eval_metric.calibrated_refresh import show_calibration
    from c2_eval_metric.calibration import calibrate_run, write_calibration
    from c2kit.locks import lock_output_folder

    # The folder written (the run, or --out) is held as scoring holds its --out: an eval or a scoring still
    # writing the run is refused in one line, rather than calibrated from verdicts that are still changing.
    lock = lock_output_folder(args.out or args.run, "c2 eval score")
    try:
        calibration = calibrate_run(args.run, args.labels)
        print(calibration.to_markdown())
        written = write_calibration(calibration, args.out or args.run)
        print(f"calibration written to {written}")
        print(show_calibration(args.run, args.out))  # the run's scores.json, summary.md and plot show it too
    finally:
        lock.release()
    return 0
