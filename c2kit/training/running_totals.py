"""Carry the Trainer's running sums through a checkpoint, so that a resumed run logs as an uninterrupted one.

The Trainer (transformers 5) and TRL's ``DPOTrainer`` (1.16) keep some of what they log only in memory: after
a resume, TRL's ``num_tokens`` counts from 0 again, the final ``train_loss`` averages only the steps trained
since the resume, and a checkpoint saved between two log lines loses the loss and DPO metrics of the steps
before it from the next log line. The weights are not affected. :class:`RunningTotals` writes those sums into
every checkpoint (``running_totals_<process>.json``, one per process, since each holds its own unlogged loss)
and puts them back when training resumes from it: ``training_log.jsonl`` and ``training_log.csv`` then hold
the values of an uninterrupted run.

The sums are written while the checkpoint is saved (:meth:`RunningTotals.write`, called by
:mod:`c2kit.training.trainer` before the checkpoint's random states and ``trainer_state.json``, which make it
complete, and before older checkpoints are deleted), atomically: a checkpoint that counts as complete holds its
sums whatever moment a kill came. A checkpoint without them (written by an earlier version, or the file
deleted) still resumes; one line then says which sums count again from the checkpoint's step.
"""

from __future__ import annotations

from pathlib import Path

from c2kit.jsonio import read_json, write_json

TOTALS_FILE = "running_totals_{index}.json"
TOTALS_GLOB = "running_totals_*.json"
_KEYS = ("global_step", "total_loss", "unlogged_loss", "last_logged_step", "num_tokens", "unlogged_metrics")


def totals_problem(checkpoint: Path) -> str | None:
    """What is wrong with the sums saved in ``checkpoint`` (a file that does not parse), None if nothing is.

    A checkpoint without any is not wrong: it resumes with the sums counted again.
    """
    for path in sorted(checkpoint.glob(TOTALS_GLOB)):
        try:
            totals = read_json(path)
        except (OSError, ValueError) as error:
            return f"{path.name} unreadable ({error})"
        missing = [key for key in _KEYS if key not in totals]
        if missing:
            return f"{path.name} lacks {', '.join(missing)}"
    return None


def running_totals(trainer, process_index: int, resume_from: str | None):
    """A callback bound to ``trainer`` (add it before the callbacks that write the log); its ``write`` saves the
    sums into a checkpoint folder."""
    from transformers import TrainerCallback

    class RunningTotals(TrainerCallback):
        restored = False

        def write(self, checkpoint: Path) -> None:
            write_json(checkpoint / TOTALS_FILE.format(index=process_index), {
                "global_step": trainer.state.global_step,
                # The Trainer's sum of the logged windows' losses and the loss since the last log line.
                "total_loss": trainer._total_loss_scalar,
                "unlogged_loss": trainer._tr_loss.item(),
                "last_logged_step": trainer._globalstep_last_logged,
                # TRL's token count and the per-step DPO metrics it averages at the next log line.
                "num_tokens": trainer._total_train_tokens,
                "unlogged_metrics": {key: list(values) for key, values in trainer._metrics["train"].items()},
            })

        def on_train_begin(self, args, state, control, **kwargs):
            # Called right after the Trainer has zeroed its sums for this train() call.
            if resume_from is None:
                return
            path = Path(resume_from) / TOTALS_FILE.format(index=process_index)
            totals = read_json(path) if path.is_file() else None  # a damaged file made the checkpoint incomplete
            if totals is None or totals["global_step"] != state.global_step:
                print(f"{Path(resume_from).name} holds no running totals ({path.name}): the log's num_tokens and the "
                      f"final train_loss count again from step {state.global_step}")
                return
            trainer._total_loss_scalar = totals["total_loss"]
            trainer._tr_loss += totals["unlogged_loss"]
            trainer._globalstep_last_logged = totals["last_logged_step"]
            trainer._total_train_tokens = totals["num_tokens"]
            trainer._metrics["train"].clear()
            trainer._metrics["train"].update({key: list(values) for key, values in totals["unlogged_metrics"].items()})
            self.restored = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            # The Trainer divides the loss sum by the steps of this train() call only; every step is in the sum.
            if self.restored and logs and "train_loss" in logs:
                logs["train_loss"] = trainer._total_loss_scalar / max(state.global_step, 0.001)
                state.log_history[-1]["train_loss"] = logs["train_loss"]

    return RunningTotals()
