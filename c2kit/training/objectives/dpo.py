"""``c2-dpo``: DPO on C2-Syn's preference pairs, the recipe as it always was (TRL's ``DPOTrainer``)."""

from __future__ import annotations

from typing import Any

from c2kit.training.objectives.base import Objective


class C2DPO(Objective):
    name = "c2-dpo"
    reported = ("loss", "rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected")
    train_log_key = "rewards/margins"

    def load_split(self, config):
        from c2kit.training.data import load_pairs, split_pairs

        pairs = load_pairs(config.dataset, config_name=config.dataset_config, split=config.dataset_split,
                           revision=config.dataset_revision)
        return split_pairs(pairs, config, origin=f"{config.dataset} [{config.dataset_config}/{config.dataset_split}]")

    def to_train_format(self, rows, tokenizer, config):
        from c2kit.training.data import to_dpo_format

        return to_dpo_format(rows, tokenizer, plain_template=config.plain_template)

    def training_args(self, config, precision, *, progress: bool = True):
        from c2kit.training.trainer import dpo_args

        return dpo_args(config, precision, progress=progress)

    def build_trainer(self, model, tokenizer, args, config, train_dataset, eval_dataset=None):
        from c2kit.training.trainer import build_trainer

        return build_trainer(model, tokenizer, args, config, train_dataset, eval_dataset)

    def held_out_line(self, values: dict[str, Any]) -> str:
        return (f"reward margin {values.get('rewards/margins', float('nan')):.4f}, "
                f"accuracy {values.get('rewards/accuracies', float('nan')):.3f}")


C2_DPO = C2DPO()
