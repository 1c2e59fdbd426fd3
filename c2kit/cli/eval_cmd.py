"""``c2 eval``: run the C2-Eval benchmark, score existing outputs, compare runs."""

from __future__ import annotations

import argparse
import math

from c2kit.cli import calibrate_cmd
from c2kit.cli.options import (
    add_column_mapping,
    add_data_argument,
    add_engine_options,
    add_model_argument,
    add_model_options,
    add_out_argument,
    add_progress_option,
    add_source_options,
    engine_settings,
    output_dir,
    positive_int,
)
from c2_eval_metric.overcorrection import BENIGN_FIELDS, BENIGN_MAPPING_FLAG
from c2kit.cli.unparsed import ACCEPT_FLAG, ACCEPT_HELP, report_results
from c2kit.errors import UserError
from c2kit.presets import PRESET_HELP, preset_names
from c2kit.protocol import DEFAULT_MAX_NEW_TOKENS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P

# Options a --preset sets. Their parser default is None, so a flag given explicitly is told apart from an
# omitted one and wins over the preset; omitted ones take the preset's value, else EvalConfig's default.
PRESETTABLE = (
    "ks", "paths", "mode", "temperature", "top_p", "max_new_tokens", "load_in_4bit", "dtype",
    "opener_per", "top_k", "repetition_penalty", "use_generation_config",
)


JUDGE_HELP = ("'keyword' (keyword-v5, offline, default; keyword-v4, keyword-v3, keyword-v2 frozen), 'openai-paper:MODEL' (the paper's GPT-4o request, "
              "verbatim), 'openai:MODEL' (our question; both need OPENAI_API_KEY, optional OPENAI_BASE_URL), "
              "'hf:MODEL' (a local chat model, e.g. 'hf:Qwen/Qwen2.5-7B-Instruct?load_in_4bit=true') or "
              "'wildguard'; docs/judges.md, and 'c2 judge validate' to check one")


def _ks(text: str) -> list[int]:
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ks must be comma-separated integers, got {text!r}") from None
    if not ks or any(k <= 0 for k in ks):
        raise argparse.ArgumentTypeError(f"--ks must list positive integers, got {text!r}")
    repeated = sorted({k for k in ks if ks.count(k) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"--ks lists {', '.join(map(str, repeated))} more than once ({text!r}); "
                                         "give each prefix length once")
    return ks


def _temperature(text: str) -> float:
    value = _finite_float(text, "--temperature")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--temperature must be > 0 (sampling), got {text!r}")
    return value


def _top_p(text: str) -> float:
    value = _finite_float(text, "--top-p")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"--top-p must be in (0, 1], got {text!r}")
    return value


def _finite_float(text: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{flag} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{flag} must be a finite number, got {text!r}")
    return value


def add_parser(subparsers) -> None:
    eval_parser = subparsers.add_parser("eval", help="C2-Eval: measure course-correction")
    commands = eval_parser.add_subparsers(dest="eval_command", required=True, metavar="SUBCOMMAND")

    run = commands.add_parser(
        "run",
        help="prefill harmful prefixes, sample continuations, judge and score",
        description="Prefill each harmful request's answer with the first k words (or tokens) of a harmful "
        "response, sample continuations, judge whether each course-corrects, and write Corr@k, Corr_mean, "
        "95% bootstrap intervals, a summary and a plot to --out. Re-running the same command resumes.",
    )
    add_model_argument(run, "Hub id or local path of the chat model (or the base of --adapter)")
    add_data_argument(run, "benchmark source: 'c2eval-500' (shipped, default), a .jsonl/.parquet/.csv file or a Hub "
                      "dataset id", default="c2eval-500")
    add_source_options(run)
    add_model_options(run, presettable=True)  # None: not given (see PRESETTABLE)
    add_engine_options(run)
    run.add_argument("--preset", choices=preset_names(),
                     help="a bundle of settings; flags given explicitly win over it. "
                     + "; ".join(f"{name}: {text}" for name, text in PRESET_HELP.items()))
    run.add_argument("--limit", type=positive_int, help="evaluate only the first N items")
    run.add_argument("--ks", type=_ks, help="prefix lengths (default: 10,20,...,80; in --mode tokens 8,16,32,64,128,"
                     "256,500, log-spaced; items shorter than k are counted per k and, in tokens mode, skipped there)")
    run.add_argument("--paths", type=positive_int, help="sampled continuations per (item, k) (default: 20)")
    run.add_argument("--mode", choices=["words", "tokens"],
                     help="prefix in whitespace words with an opener (paper, default) or in model tokens")
    run.add_argument("--opener-per", choices=["item", "path"],
                     help="words mode: one opener per item (default) or a new one per (item, k, path), as the "
                     "official code (--preset paper)")
    run.add_argument("--judge", default="keyword", help=JUDGE_HELP)
    run.add_argument("--seed", type=int, default=0, help="seed for openers and sampling (default: 0)")
    run.add_argument("--temperature", type=_temperature, help=f"sampling temperature (default: {DEFAULT_TEMPERATURE})")
    run.add_argument("--top-p", type=_top_p, help=f"nucleus sampling threshold (default: {DEFAULT_TOP_P})")
    run.add_argument("--top-k", type=int,
                     help="top-k sampling, 0 = off (default: off; with --use-generation-config the model's own, "
                     "else 50)")
    run.add_argument("--repetition-penalty", type=float,
                     help="repetition penalty (default: 1.0; with --use-generation-config the model's own)")
    run.add_argument("--use-generation-config", action=argparse.BooleanOptionalAction,
                     help="sample as transformers generate() does: the model's generation_config top_k (else 50) "
                     "and repetition_penalty apply, under the explicit temperature and top-p (--preset paper)")
    run.add_argument("--max-new-tokens", type=positive_int,
                     help=f"tokens per continuation (default: {DEFAULT_MAX_NEW_TOKENS})")
    run.add_argument("--reset-logit-bias", type=float, default=0.0, metavar="BIAS",
                     help="for a model trained to backtrack: added to the logit of its [RESET] token at every step, "
                     "from -100 to 100 (default: 0, none); docs/eval.md, Backtracking models")
    run.add_argument("--cache-dir", type=output_dir, metavar="DIR", help="generation cache (default: OUT/cache); runs one after another with the "
                     "same model and settings reuse its finished work (one writer at a time)")
    run.add_argument("--group-by", metavar="FIELD",
                     help="also score each group of items by this source column (default: harm_category where the "
                     "source has PKU-SafeRLHF's response_*_harm_category); FIELD or response_<h>_FIELD of the harmful "
                     "response")
    run.add_argument("--overcorrection", action=argparse.BooleanOptionalAction, default=False,
                     help="also measure over-correction: the same procedure on benign requests with benign answer "
                     "prefixes (lower is better), printed under the Corr@k table and in OUT/summary.md and "
                     "OUT/scores.json")
    run.add_argument("--benign-data", metavar="FILE",
                     help="benign (request, answer) rows for --overcorrection: JSONL/CSV/Parquet with 'request' and "
                     "'answer' (default: the bundled benign-c2 set, 100 rows, CC BY 4.0)")
    add_column_mapping(run, BENIGN_MAPPING_FLAG, BENIGN_FIELDS, "request=question,answer=response",
                       "--benign-data")
    run.add_argument("--benign-limit", type=positive_int, help="use only the first N benign rows")
    run.add_argument("--prefix-source", choices=["shipped", "on-policy"], default="shipped",
                     help="benign prefixes for --overcorrection: the data's answers (default) or the model's own "
                     "greedy answer (on-policy)")
    add_out_argument(run, "results directory (new, or a run with the same settings: it resumes)")
    run.add_argument("--overwrite", action=argparse.BooleanOptionalAction, default=False,
                     help="replace the results of another run in --out (without it, such a directory is refused)")
    run.add_argument(ACCEPT_FLAG, action=argparse.BooleanOptionalAction, default=False, help=ACCEPT_HELP)
    add_progress_option(run)
    run.set_defaults(handler=_run)

    score = commands.add_parser(
        "score",
        help="score stored outputs: official raw results, judged rows, or re-judge a results directory",
        description="Score without generating. --official: the original C2-Eval raw result JSONL (keys k, request, "
        "'full response', 'truly response'). --judged: JSONL rows item_id, k, path, corrected. --results: a "
        "results directory from 'c2 eval run', re-judged with --judge; its agreement with the stored judge is "
        "printed under the Corr@k table and written to OUT/agreement.json and OUT/summary.md.",
    )
    source = score.add_mutually_exclusive_group(required=True)
    source.add_argument("--official", help="official raw result JSONL file (any chat template: prefix and continuation "
                        "are recovered; reports the paper's pooled fraction per k and the item mean)")
    source.add_argument("--judged", help="judged JSONL file (item_id, k, path, corrected)")
    source.add_argument("--results", help="results directory of 'c2 eval run' to re-judge")
    score.add_argument("--judge", help=f"judge for --official/--results: {JUDGE_HELP}")
    add_out_argument(score, "results directory to write")
    score.add_argument("--disagreements", metavar="FILE",
                       help="with --results: write the paths where --judge and the stored judge disagree as "
                       "JSONL label rows (label: null) for a person to label; check both judges on them with "
                       "'c2 judge validate --labels FILE'")
    score.add_argument(ACCEPT_FLAG, action=argparse.BooleanOptionalAction, default=False, help=ACCEPT_HELP)
    add_progress_option(score)
    score.set_defaults(handler=_score)

    compare = commands.add_parser("compare", help="one table and one plot for several results directories")
    compare.add_argument("dirs", nargs="+", help="results directories (each with scores.json)")
    add_out_argument(compare, "directory for comparison.md, comparison.json and corr_at_k.png")
    compare.set_defaults(handler=_compare)
    calibrate_cmd.add_parsers(commands)  # c2 eval sample, c2 eval calibrate
    _add_import_parser(commands)


def _add_import_parser(commands) -> None:
    imported = commands.add_parser(
        "import",
        help="a harness's log (lm-eval --log_samples, or Inspect) as a results directory",
        description="Write the continuations of an lm-evaluation-harness or Inspect run of C2-Eval to --out as "
        "'c2 eval run' does (generations.jsonl, judgments.jsonl, scores.json, summary.md), judged with the judge "
        "the harness used (or --judge), so that c2 eval score, compare, view and calibrate work on it. "
        "docs/harnesses.md.",
    )
    imported.add_argument("samples", metavar="SAMPLES_PATH",
                          help="lm-eval samples: a samples_c2_eval_k*.jsonl file or the folder lm_eval --log_samples "
                          "wrote (one run); or an Inspect log (.eval or .json)")
    imported.add_argument("--judge", help=f"judge the continuations with this judge instead of the harness's: {JUDGE_HELP}")
    add_out_argument(imported, "results directory to write")
    imported.add_argument(ACCEPT_FLAG, action=argparse.BooleanOptionalAction, default=False, help=ACCEPT_HELP)
    add_progress_option(imported)
    imported.set_defaults(handler=_import)


def _import(args: argparse.Namespace) -> int:
    from c2kit.harness.importer import import_harness_log

    report = import_harness_log(args.samples, out_dir=args.out, judge=args.judge)
    if report.differing:
        item, k = report.differing[0]
        note = (f"NOTE: {len(report.differing)} of {len(report.log.fractions)} (item, k) fractions differ from "
                f"{report.log.harness}'s own (judged there with {report.log.judge!r}, here with {report.judge!r}), "
                f"e.g. item {item!r} at k={k}")
    else:
        note = f"every (item, k) fraction equals {report.log.harness}'s own ({len(report.log.fractions)} compared)"
    return report_results(args.out, report.scores, accept=args.accept_unparsed, command="c2 eval import",
                          notes=[note])


def _run(args: argparse.Namespace) -> int:
    from c2_eval_metric.runner import EvalConfig, run_eval

    explicit = {name: getattr(args, name) for name in PRESETTABLE if getattr(args, name) is not None}
    config = EvalConfig.from_preset(
        args.preset,
        model=args.model,
        adapter=args.adapter,
        revision=args.revision,
        data=args.data,
        split=args.split,
        column_mapping=args.column_mapping,
        limit=args.limit,
        judge=args.judge,
        seed=args.seed,
        batch_tokens=args.batch_tokens,
        plain_template=args.plain_template,
        trust_remote_code=args.trust_remote_code,
        group_by=args.group_by,
        overcorrection=(args.overcorrection or args.benign_data is not None or bool(args.benign_column_mapping)
                        or args.prefix_source != "shipped"),
        benign_data=args.benign_data,
        benign_column_mapping=args.benign_column_mapping or None,
        benign_limit=args.benign_limit,
        prefix_source=args.prefix_source,
        reset_logit_bias=args.reset_logit_bias,
        engine=engine_settings(args),
        **explicit,
    )
    scores = run_eval(config, out_dir=args.out, cache_dir=args.cache_dir, overwrite=args.overwrite,
                      progress=args.progress)
    return report_results(args.out, scores, accept=args.accept_unparsed, command="c2 eval run")


def _score(args: argparse.Namespace) -> int:
    from c2_eval_metric import scoring
    from c2_eval_metric.official import score_official

    if args.disagreements and not args.results:
        raise UserError("--disagreements needs --results: it compares the new judge with a run's stored one")
    if args.judged and args.judge is not None:  # else the rows would pass for that judge's verdicts
        raise UserError(f"--judge {args.judge} cannot apply to --judged: its rows were judged already (by the judge "
                        "in their 'judge' field); leave --judge out, or re-judge a results directory with --results")
    judge = args.judge or "keyword"
    if args.official:
        scores = score_official(args.official, out_dir=args.out, judge=judge)
    elif args.judged:
        scores = scoring.score_judged(args.judged, out_dir=args.out)
    else:
        scores = scoring.rejudge_results(args.results, out_dir=args.out, judge=judge,
                                         disagreements=args.disagreements)
    # --judged: no judge ran here, so a judge_info in --out is an earlier run's
    return report_results(args.out, scores, accept=args.accept_unparsed, command="c2 eval score",
                          judged_here=not args.judged)


def _compare(args: argparse.Namespace) -> int:
    from c2_eval_metric.compare import compare_runs

    table = compare_runs(args.dirs, out_dir=args.out)
    print(table)
    print(f"comparison written to {args.out}")
    return 0
