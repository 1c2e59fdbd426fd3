"""Training in several processes (``accelerate launch``, ``torchrun``): who writes, who prints, what a step is,
and the settings FSDP and DeepSpeed launches need (:func:`settings_for_launch`).

Every process runs the same ``run_training``: each loads the data and the base model, the Trainer splits the
batches between them (DDP: one copy of the 4-bit base and of the adapter per GPU, gradients averaged) and
gathers the held-out numbers. The main process alone writes the run directory (config, logs, checkpoints'
trainer state, adapter, metrics) and runs C2-Eval afterwards; the others print nothing.

One optimizer step sees ``per_device_train_batch_size x gradient_accumulation_steps x processes`` pairs, so an
epoch takes ``ceil(num_pairs / that)`` steps: the same profile on more GPUs takes fewer, larger steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from c2kit.training.config import ConfigError, TrainConfig
from c2kit.training.precision import Precision

# Where the recipe ships its accelerate configs, and the launch that works with them everywhere (CPU too).
ACCELERATE_CONFIGS = "training/accelerate"
MULTI_PROCESS_HINT = (f"accelerate launch --config_file {ACCELERATE_CONFIGS}/ddp.yaml --num_processes N "
                      "training/train.py ... (or torchrun --nproc_per_node N training/train.py ...)")
# The optimizer FSDP and DeepSpeed launches train with instead of an 8-bit one (settings_for_launch).
TORCH_OPTIMIZER = "adamw_torch"
# What MPI launchers set instead of WORLD_SIZE (accelerate reads the same names).
_WORLD_SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def check_launch(environ: Mapping[str, str] = os.environ) -> None:
    """Refuse the one launch that silently trains alone: ``accelerate launch --cpu --num_processes N`` (N > 1).

    With ``--cpu``, accelerate starts several processes only through MPI (``--mpirun_hostfile``); otherwise it
    runs the script once, with the address of a process group that never forms (``MASTER_ADDR`` set, no world
    size). Training would go on in one process while the user counts on N.
    """
    asked_for_cpu = environ.get("ACCELERATE_USE_CPU", "").lower() in ("true", "1")
    if asked_for_cpu and environ.get("MASTER_ADDR") and not any(environ.get(name) for name in _WORLD_SIZE_VARIABLES):
        raise ConfigError("accelerate launch --cpu --num_processes N started this script once: accelerate runs "
                          f"several CPU processes only through MPI. Use {MULTI_PROCESS_HINT}; on CPU the processes "
                          "talk over gloo")


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes (one process: index 0 of 1)."""

    index: int
    count: int
    local_index: int  # index on this machine: the GPU this process trains on

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def wait_for_everyone(self) -> None:
        """A barrier, so that no process reads what the main process is still writing."""
        if self.count > 1:
            from accelerate import PartialState

            PartialState().wait_for_everyone()


def processes_of(args) -> Processes:
    """The processes the Trainer's arguments were set up for (``args.device`` starts the process group)."""
    args.device  # noqa: B018 (the property sets up accelerate's distributed state on first access)
    return Processes(index=args.process_index, count=args.world_size, local_index=args.local_process_index)


@contextlib.contextmanager
def main_process_output(processes: Processes) -> Iterator[None]:
    """Let only the main process print: N processes would print every report N times. Errors still show."""
    if processes.is_main:
        yield
        return
    with open(os.devnull, "w", encoding="utf-8") as devnull, contextlib.redirect_stdout(devnull):
        yield


def effective_batch_size(config: TrainConfig, processes: Processes) -> int:
    """Pairs per optimizer step: per device x accumulation x processes."""
    return config.per_device_train_batch_size * config.gradient_accumulation_steps * processes.count


def planned_steps(config: TrainConfig, num_pairs: int, processes: Processes) -> int:
    """Optimizer steps the Trainer will run: ``max_steps``, or epochs x ``ceil(num_pairs / effective batch)``.

    The Trainer splits the pairs into batches, the batches between processes and those into accumulation
    rounds, rounding each up; the nested ceilings equal one ``ceil`` of the product.
    """
    if config.max_steps > 0:
        return config.max_steps
    return math.ceil(config.num_train_epochs * math.ceil(num_pairs / effective_batch_size(config, processes)))


def batch_report(config: TrainConfig, num_pairs: int, processes: Processes) -> str:
    """``8 pairs per optimizer step (2 processes x 2 per device x 2 accumulation); 10 steps``."""
    return (f"{effective_batch_size(config, processes)} pairs per optimizer step ({processes.count} "
            f"process{'es' if processes.count > 1 else ''} x {config.per_device_train_batch_size} per device x "
            f"{config.gradient_accumulation_steps} accumulation); {planned_steps(config, num_pairs, processes)} steps")


def partitioned_launch(environ: Mapping[str, str] = os.environ) -> str | None:
    """``fsdp``, or ``zeroN`` for DeepSpeed ZeRO stage N, when the launcher partitions the training state.

    accelerate's launcher says so in the environment of the processes it starts (None: one process, DDP).
    """
    if environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        return "fsdp"
    if environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true":
        return f"zero{environ.get('ACCELERATE_DEEPSPEED_ZERO_STAGE', '')}"
    return None


def sharded_launch(environ: Mapping[str, str] = os.environ) -> str | None:
    """``fsdp`` or ``zero3`` when the launcher shards the base model's weights across processes, else None."""
    launch = partitioned_launch(environ)
    return launch if launch in ("fsdp", "zero3") else None


def _launch_name(launch: str) -> str:
    """``FSDP``, ``DeepSpeed ZeRO-2``, ... (``DeepSpeed`` when its config file, not accelerate's, sets the stage)."""
    stage = launch.removeprefix("zero")
    return "FSDP" if launch == "fsdp" else f"DeepSpeed ZeRO-{stage}" if stage else "DeepSpeed"


def settings_for_launch(config: TrainConfig, precision: Precision,
                        environ: Mapping[str, str] = os.environ) -> tuple[TrainConfig, list[str]]:
    """The config with the settings an FSDP or DeepSpeed launch needs, and one line per change made.

    * ``optim``: an 8-bit optimizer (the profiles' ``paged_adamw_8bit``) becomes ``adamw_torch``. FSDP cannot
      gather 8-bit optimizer states into a checkpoint (``FSDP.optim_state_dict`` fails on them at the first
      save: huggingface/accelerate#1362, oumi-ai/oumi#835), and DeepSpeed's ZeRO is tested only with torch's
      and its own optimizers (transformers lets others through with ``zero_allow_untested_optimizer``). The profile's value could not
      work, so it is changed, and said so; for LoRA the fp32 states are small (about 0.3 GB for a 7B base).
    * ``precision``: fp16 is refused under FSDP and ZeRO-3, which shard the 4-bit weights stored as floats:
      fp16 mixed precision would cast those floats to fp16 and break the packed weights. Choosing bf16 or
      fp32 instead changes the numbers and the memory, so the user decides (one line naming the key).
    """
    launch = partitioned_launch(environ)
    if launch is None:
        return config, []
    name = _launch_name(launch)
    if precision.fp16 and launch in ("fsdp", "zero3"):
        chosen = ("precision auto is fp16 on this GPU (it has no bf16)" if config.precision == "auto"
                  else "precision fp16")
        raise ConfigError(f"{chosen} does not work under {name}: it shards the 4-bit weights stored as floats, "
                          "which fp16 mixed precision would cast to fp16; use --precision bf16 on a GPU that has "
                          f"bf16 (or --precision fp32), or launch with {ACCELERATE_CONFIGS}/ddp.yaml")
    if "8bit" not in config.optim:
        return config, []
    reason = ("FSDP cannot gather 8-bit optimizer states into a checkpoint" if launch == "fsdp" else
              "ZeRO is tested only with torch's and DeepSpeed's own optimizers")
    return (dataclasses.replace(config, optim=TORCH_OPTIMIZER),
            [f"{name}: optim {config.optim} -> {TORCH_OPTIMIZER} ({reason}; the adapter's fp32 states are small)"])
