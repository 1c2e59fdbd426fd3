"""``c2 publish``: put a C2-Syn dataset, the C2-Eval metric, an adapter or eval results on the Hugging Face Hub."""

from __future__ import annotations

import argparse

from c2kit.cli.options import add_out_argument
from c2kit.errors import UserError

TOKEN_HELP = ("The token comes from HF_TOKEN or `hf auth login` and is never written or printed. Repos are created "
              "private unless --public; an existing repo keeps its visibility.")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo-id", required=True, help="target repo on the Hub, ORG/NAME")
    parser.add_argument("--public", action=argparse.BooleanOptionalAction, default=False,
                        help="create the repo public (default: private)")
    parser.add_argument("--dry-run", action=argparse.BooleanOptionalAction, default=False,
                        help="write the exact folder that would be uploaded to --out and print its tree; "
                        "no network, no token needed")
    add_out_argument(parser, "where --dry-run writes the folder (default: publish-preview/ORG__NAME; empty, or an "
                     "earlier dry run's preview, which it replaces)",
                     "--preview-dir", required=False)


def _handled_by(parser: argparse.ArgumentParser, handler, artifact: str) -> None:
    # main() prefixes a command's one-line errors with 'c2 COMMAND': here the artifact's, 'c2 publish dataset'.
    parser.set_defaults(handler=handler, command=f"publish {artifact}")


def _gated(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gated", choices=["auto", "manual", "none"], default="auto",
                        help="gated access: users accept the card's terms first; 'auto' approves at once, 'manual' "
                        "waits for you, 'none' opens it to anyone who can see the repo (default: auto)")


def add_parser(subparsers) -> None:
    publish = subparsers.add_parser(
        "publish", help="publish a dataset, the metric, an adapter or eval results on the Hub",
        description="Upload one artifact with its card in one commit. Inputs are checked before anything is sent. "
        + TOKEN_HELP,
    )
    commands = publish.add_subparsers(dest="publish_command", required=True, metavar="ARTIFACT")

    dataset = commands.add_parser(
        "dataset", help="a C2-Syn directory (Parquet configs + card) as a gated dataset",
        description="Publish the --out directory of 'c2 syn build': its Parquet files, build.json and the card "
        "(rendered from build.json, with licence CC BY-NC 4.0 and gated-access terms). " + TOKEN_HELP,
    )
    dataset.add_argument("dir", help="C2-Syn directory (README.md listing configs pairs/ranked, Parquet, build.json)")
    _common(dataset)
    _gated(dataset)
    _handled_by(dataset, _dataset, "dataset")

    metric = commands.add_parser(
        "metric", help="the C2-Eval evaluate module as a Space, for evaluate.load('ORG/NAME')",
        description="Publish the c2_eval_metric module as a Gradio Space ORG/NAME (NAME becomes the module file "
        "NAME.py, e.g. ORG/c2_eval). The staged module is loaded with evaluate and run on an example first. "
        "Unpublished, it loads by its path: evaluate.load('./c2_eval_metric') in a clone. "
        + TOKEN_HELP,
    )
    _common(metric)
    _handled_by(metric, _metric, "metric")

    adapter = commands.add_parser(
        "adapter", help="a trained PEFT adapter + tokenizer + model card",
        description="Publish the output_dir of 'c2 train': adapter_config.json, adapter weights, tokenizer, the "
        "training config, and the C2-Eval runs in eval/base and eval/adapter, whose scores.json become the card's "
        "model-index. " + TOKEN_HELP,
    )
    adapter.add_argument("dir", help="training output directory")
    _common(adapter)
    adapter.add_argument("--base-model", help="Hub id of the base model (default: adapter_config.json's, if a Hub id)")
    adapter.add_argument("--dataset-id", help="Hub id of the C2-Syn dataset the adapter was trained on (card metadata)")
    adapter.add_argument("--license", default="cc-by-nc-4.0", help="licence id for the card (default: cc-by-nc-4.0, "
                         "the training data's; the base model's licence applies too)")
    adapter.add_argument("--train-config", help="resolved training config (default: DIR/train_config.yaml if present)")
    adapter.add_argument("--eval-base", help="C2-Eval results dir of the base model (default: DIR/eval/base)")
    adapter.add_argument("--eval-adapter", help="C2-Eval results dir with the adapter (default: DIR/eval/adapter)")
    _handled_by(adapter, _adapter, "adapter")

    results = commands.add_parser(
        "results", help="a C2-Eval results directory as a dataset others can re-judge",
        description="Publish a results directory of 'c2 eval run' or 'c2 eval score' (generations, judgments, "
        "scores, config, summary, plot) with a card whose configs load generations and judgments. scores.json "
        "is checked against judgments.jsonl first. " + TOKEN_HELP,
    )
    results.add_argument("dir", help="results directory (scores.json, judgments.jsonl, generations.jsonl, config.json)")
    results.add_argument("--report", action=argparse.BooleanOptionalAction, default=False,
                         help="also upload report.html: the run as 'c2 view' shows it, to browse in a browser")
    _common(results)
    _gated(results)
    _handled_by(results, _results, "results")


def _common_kwargs(args: argparse.Namespace) -> dict:
    if args.out is not None and not args.dry_run:  # else the upload would go ahead with --out unused
        raise UserError("--out is where a --dry-run writes its preview; add --dry-run, or leave --out out")
    return {"repo_id": args.repo_id, "public": args.public, "dry_run": args.dry_run, "preview_dir": args.out}


def _dataset(args: argparse.Namespace) -> int:
    from c2kit.publish.dataset import publish_dataset

    return _run(publish_dataset, args.dir, gated=args.gated, **_common_kwargs(args))


def _metric(args: argparse.Namespace) -> int:
    from c2kit.publish.metric import publish_metric

    return _run(publish_metric, **_common_kwargs(args))


def _adapter(args: argparse.Namespace) -> int:
    from c2kit.publish.adapter import publish_adapter

    return _run(
        publish_adapter, args.dir, base_model=args.base_model, dataset_id=args.dataset_id, license=args.license,
        train_config=args.train_config, eval_base=args.eval_base, eval_adapter=args.eval_adapter,
        **_common_kwargs(args),
    )


def _results(args: argparse.Namespace) -> int:
    from c2kit.publish.results import publish_results

    return _run(publish_results, args.dir, gated=args.gated, report=args.report, **_common_kwargs(args))


def _run(publish, *args, **kwargs) -> int:
    from c2kit.publish.hub import format_tree

    result = publish(*args, **kwargs)  # a PublishError (a UserError) is main()'s one line, exit 2
    if result.preview_dir is not None:
        print(format_tree(result.preview_dir))
        visibility = "public" if kwargs["public"] else "private"
        print(f"dry run: these {len(result.files)} files would be uploaded to the {visibility} {result.repo_type} "
              f"repo {result.repo_id}; nothing was sent")
    else:
        print(f"published {len(result.files)} files to {result.url}")
    return 0
