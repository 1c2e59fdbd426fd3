"""What an objective provides to a training run (:mod:`c2kit.training.trainer` does the rest)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class Objective(ABC):
    """One way to train the adapter: its data, its TRL trainer and what it reports."""

    name: str
    reported: tuple[str, ...]  # the logged numbers (TRL's names, without "eval_") that metrics.json keeps
    train_log_key: str  # a key of every training log line that holds those numbers

    def stages(self, config) -> list[tuple[Any, "Objective"]]:
        """``(config, objective)`` of each stage the run trains, in order, the last being this objective on
        ``config``; an earlier stage trains in a folder of its own under ``config.output_dir`` (backtrack's SFT)."""
        return [(config, self)]

    def data_config(self, config) -> str:
        """The dataset config it reads from ``--data`` (a C2-Syn build has ``pairs`` and ``ranked``)."""
        return config.dataset_config

    @abstractmethod
    def load_split(self, config):
        """The training and held-out rows (:class:`c2kit.training.data.PairSplit`), held out by request."""

    @abstractmethod
    def to_train_format(self, rows, tokenizer, config):
        """``rows`` of :meth:`load_split` as its trainer's dataset (prompts rendered with the chat template)."""

    @abstractmethod
    def training_args(self, config, precision, *, progress: bool = True):
        """Its TRL config (a ``transformers.TrainingArguments``)."""

    @abstractmethod
    def build_trainer(self, model, tokenizer, args, config, train_dataset, eval_dataset=None):
        """Its TRL trainer, with the recipe's LoRA on the 4-bit ``model``."""

    @abstractmethod
    def held_out_line(self, values: dict[str, Any]) -> str:
        """The held-out numbers of one evaluation, for the terminal (e.g. ``reward margin 1.2, accuracy 0.9``)."""
