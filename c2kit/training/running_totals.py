"""Carry the Trainer's running sums through a checkpoint, so that a resumed run logs as an uninterrupted one.

The Trainer (transformers 5) and TRL's ``DPOTrainer`` (1.16) keep some of what they log only in memory: after
a resume, TRL's ``num_tokens`` counts from 0 again, the final ``train_loss`` averages only the steps trained
since the resume, and a checkpoint saved between two log lines loses the loss and DPO metrics of the steps
before it from the next log line. The weights are not affected. :class:`RunningTotals` writes those sums into
every checkpoint (``running_totals_<process>.json``, one per process, since each holds its own unlogged loss)
and puts them back when training resumes from it: ``training_log.jsonl`` and ``training_log.csv`` then hold
the values of an uninterrupted run. A checkpoint written before this file existed resumes as before.
"""

from __future__ import annotations

from pathlib import Path

from c2kit.jsonio import read_json, write_json

TOTALS_FILE = "running_totals_{index}.json"


def running_totals(trainer, process_index: int, resume_from: str | None):
    """A callback bound to ``trainer`` (add it before the callbacks that write the log)."""
    from transformers import TrainerCallback

    class RunningTotals(TrainerCallback):
        restored = False

        def on_save(self, args, state, control, **kwargs):
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            write_json(checkpoint / TOTALS_FILE.format(index=process_index), {
                "global_step": state.global_step,
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
            path = Path(resume_from or "") / TOTALS_FILE.format(index=process_index)
            if resume_from is None or not path.is_file():
                return
            totals = read_json(path)
            if totals["global_step"] != state.global_step:
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
