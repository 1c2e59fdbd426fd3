"""``recovery-sft`` and ``derta``: supervised fine-tuning with TRL's ``SFTTrainer``, completion-only loss.

The rows come from the C2-Syn build named by ``--data`` (its ``ranked`` config and ``build.json``), made by
:func:`c2_syn_dataset.objectives.data.objective_data`. Each is rendered in TRL's prompt-completion format:
``prompt`` is the request in the model's chat template with the assistant turn prefilled with the row's prefix
(the exact text C2-Eval prefills, :func:`c2kit.training.data.prompt_renderer`), ``completion`` the response and
EOS; ``completion_only_loss`` puts the loss on the completion alone. ``derta``'s transition rows get their labels
from :mod:`c2kit.training.objectives.transition`.

Held out: every row of whole requests (``num_eval_pairs`` rows), never trained on, as for C2-DPO; utility rows
are only trained on. ``num_pairs`` subsamples the training rows (safety and utility rows together).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c2kit.backtrack import RESET_TOKEN
from c2kit.training.data import PairSplit
from c2kit.training.objectives.base import Objective

SFT_COLUMNS = ("kind", "source_id", "request", "prefix", "cut", "response")  # what the data fingerprint covers
PAIR_COLUMNS = ("kind", "source_id", "request", "prefix", "cut", "chosen", "rejected")  # backtrack's DPO pairs
RANKED_COLUMNS = ("source_id", "prompt", "responses", "opener", "cuts")  # what the rows are made from


@dataclass
class ObjectiveSplit(PairSplit):
    data_report: str = ""

    def report(self) -> str:
        n_eval = len(self.eval) if self.eval is not None else 0
        text = (f"{self.data_report}\n{self.origin}: training on {len(self.train)} rows, held out {n_eval} "
                "(every row of requests not trained on)")
        if self.skipped:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.skipped.items()))
            text += f"; skipped {sum(self.skipped.values())} bad rows before selecting ({reasons})"
        return text


class SFTObjective(Objective):
    reported = ("loss", "mean_token_accuracy", "entropy")
    train_log_key = "mean_token_accuracy"

    def __init__(self, name: str, *, transition: bool) -> None:
        self.name = name
        self.transition = transition  # DeRTa's RTO rows are trained with transition labels

    def data_config(self, config) -> str:
        from c2kit.training.data import RANKED

        return RANKED

    def load_split(self, config) -> ObjectiveSplit:
        data, origin = build_objective_data(self.name, config)
        return split_rows(data, config, origin)

    def to_train_format(self, rows, tokenizer, config):
        from c2_syn_dataset.objectives.recipes import RTO
        from c2kit.training.data import completion_end, prompt_renderer
        from c2kit.training.objectives.transition import TRANSITION_COLUMN

        render = prompt_renderer(tokenizer, plain_template=config.plain_template)
        eos = completion_end(tokenizer)

        def sft_row(row: dict) -> dict:
            prefix, response = row["prefix"], row["response"]
            # A space between the prefix and the response, unless either has one or the response starts with the
            # reset token, which the model emits right where the harmful text stops.
            joined = (prefix and not prefix[-1].isspace() and not response[:1].isspace()
                      and not response.startswith(RESET_TOKEN))
            completion = (" " if joined else "") + response
            rendered = {"prompt": render(row["request"], prefix),
                        "completion": completion if completion.endswith(eos) else completion + eos}
            if self.transition:
                rendered[TRANSITION_COLUMN] = render(row["request"]) if row["kind"] == RTO else ""
            return rendered

        return rows.map(sft_row, remove_columns=rows.column_names, desc="rendering prompts")

    def training_args(self, config, precision, *, progress: bool = True):
        from trl import SFTConfig

        from c2kit.training.trainer import trainer_arguments

        return SFTConfig(completion_only_loss=True, **trainer_arguments(config, precision, progress=progress))

    def build_trainer(self, model, tokenizer, args, config, train_dataset, eval_dataset=None):
        from trl import SFTTrainer

        from c2kit.training.objectives.transition import transition_trainer_class
        from c2kit.training.trainer import keep_adapter_in_fp32

        trainer_class, own = ((transition_trainer_class(), {"transition_dropout": config.transition_dropout})
                              if self.transition else (SFTTrainer, {}))
        trainer = trainer_class(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                                processing_class=tokenizer, peft_config=self.adapter_config(model, tokenizer, config),
                                **own)
        keep_adapter_in_fp32(trainer, args)
        for name, rows, prepared in (("training", train_dataset, trainer.train_dataset),
                                     ("held-out", eval_dataset, trainer.eval_dataset)):
            if rows is not None and len(prepared) < len(rows):  # TRL drops a row whose response max_length cut off
                print(f"{len(rows) - len(prepared)} of the {len(rows)} {name} rows are longer than max_length "
                      f"{config.max_length} up to their response, and are left out")
        return trainer

    def adapter_config(self, model, tokenizer, config):
        """The PEFT config of the adapter on ``model`` (the recipe's LoRA)."""
        from c2kit.training.model import lora_config

        return lora_config(config)

    def held_out_line(self, values: dict[str, Any]) -> str:
        return (f"loss {values.get('loss', float('nan')):.4f}, "
                f"token accuracy {values.get('mean_token_accuracy', float('nan')):.3f}")


def build_objective_data(objective: str, config):
    """``objective``'s rows (and pairs) made from the build ``config.dataset`` names, and the origin to report."""
    from c2_syn_dataset.objectives.data import ObjectiveDataError, objective_data, read_manifest
    from c2kit.training.data import DataError, RANKED, load_pairs

    origin = f"{config.dataset} [{RANKED}/{config.dataset_split}]"
    ranked = load_pairs(config.dataset, config_name=RANKED, split=config.dataset_split,
                        revision=config.dataset_revision, columns=RANKED_COLUMNS)
    try:
        manifest = read_manifest(config.dataset) if Path(config.dataset).is_dir() else None
        data = objective_data(objective, ranked, origin=origin, manifest=manifest, utility_ratio=config.utility_ratio)
    except ObjectiveDataError as error:
        raise DataError(str(error)) from None
    return data, origin


def split_rows(data, config, origin: str, *, pairs: bool = False) -> ObjectiveSplit:
    """Hold out every row of whole requests for evaluation, train on the rest and the utility rows (seeded).

    ``pairs``: split the objective's DPO pairs (backtrack) instead of its rows; the pairs made from utility rows
    are only trained on, as those rows are.
    """
    import datasets

    from c2_syn_dataset.objectives.data import OBJECTIVE_SCHEMA, PAIR_SCHEMA
    from c2_syn_dataset.objectives.recipes import CONTINUE, UTILITY
    from c2kit.training.data import DataError, drop_bad_rows, split_by_group

    if pairs:
        schema, columns, texts, train_only = PAIR_SCHEMA, PAIR_COLUMNS, ("request", "chosen", "rejected"), CONTINUE
    else:
        schema, columns, texts, train_only = OBJECTIVE_SCHEMA, SFT_COLUMNS, ("request", "response"), UTILITY
    rows = datasets.Dataset.from_list(data.pairs if pairs else data.rows,
                                      features=datasets.Features.from_arrow_schema(schema))
    skipped: Counter = Counter()
    keep = drop_bad_rows(rows, list(range(len(rows))), skipped, columns=texts)
    kinds, ids = rows["kind"][:], rows["source_id"][:]
    by_request: dict[str, list[int]] = {}
    utility = []
    for index in keep:
        if kinds[index] == train_only:
            utility.append(index)
        else:
            by_request.setdefault(ids[index], []).append(index)
    train, held_out = split_by_group(by_request, config, train_only=utility)
    if not train:
        raise DataError(f"{origin}: no training rows left after the bad rows ({sum(skipped.values())}) and the "
                        "held-out split")
    return ObjectiveSplit(rows.select(train), rows.select(held_out) if held_out else None, origin, len(rows),
                          len(keep), skipped, columns=columns, data_report=data.report())


RECOVERY_SFT = SFTObjective("recovery-sft", transition=False)
DERTA = SFTObjective("derta", transition=True)
