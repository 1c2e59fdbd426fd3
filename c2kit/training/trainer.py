"""The recipe end to end: data, 4-bit base, LoRA, the objective's TRL trainer, train, save.

The objective (``objective``: ``c2-dpo``, the default, TRL's ``DPOTrainer`` with ``ref_model=None``; or an SFT
objective, :mod:`c2kit.training.objectives`) gives the data, the trainer and the numbers reported; everything
below is the same for all of them. An objective in stages (``backtrack``: SFT, then DPO from the SFT adapter)
trains each earlier stage first, as a run of its own in a folder under ``OUTPUT_DIR`` (``sft-stage``) with all of
the below; a rerun reuses a finished stage and resumes an interrupted one.

``OUTPUT_DIR`` ends up holding the adapter (``adapter_config.json``, ``adapter_model.safetensors`` and the sha256
of the weights in ``checksums.json``), the tokenizer, ``train_config.yaml`` (the resolved config),
``train_data.json`` (the sha256 of the selected pairs), ``training_log.jsonl`` (every log line, written as it
happens) and ``training_log.csv``, and ``metrics.json`` (held-out reward margin and accuracy before and after
training, final training margin, pairs/s), written last: it marks the run as finished. Checkpoints are saved
every ``save_steps``: re-running the same command resumes from the last complete one, and a finished run is
not trained again unless its adapter is damaged (then it is rebuilt from the last checkpoint). Both need the
same training settings and the same pairs (the dataset directory may have moved); a directory without a
checkpoint is started afresh. One run at a time writes a directory: it is locked (:mod:`c2kit.locks`).

Resuming is exact by design: a resumed run ends with the same adapter, bit for bit, as an uninterrupted one.
The LoRA initialisation is seeded, the data order is a function of the seed, the Trainer restores the
optimizer, scheduler and random states saved in the checkpoint, and the held-out evaluation before training
runs with the random states saved and restored around it, so it cannot shift the training's random stream.
A checkpoint counts only when it is complete and its files are those that were saved (:func:`checkpoint_problem`):
one cut short by a kill during its save, or damaged since, is moved aside to ``incomplete-checkpoint-N`` and
the run resumes from the one before. The log resumes too: it is restored to the checkpoint's own record of it,
and the running sums the Trainer keeps only in memory travel in the checkpoint
(:mod:`c2kit.training.running_totals`), so a resumed run's ``training_log.jsonl`` is the uninterrupted one's,
wherever the kill came.

Several processes (``accelerate launch``, ``torchrun``) train one adapter together; the main process alone
writes the directory and prints (:mod:`c2kit.training.distributed`).
"""

from __future__ import annotations

import csv
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from c2kit.jsonio import read_json, write_json, write_jsonl
from c2kit.locks import TRAIN_CONFIG_FILE, DirectoryLock, lock_output_folder
from c2kit.models import adapter_problem, check_model, safetensors_problem
from c2kit.training.checksums import CHECKSUMS_FILE, checksum_problem, write_checksums
from c2kit.training.config import (TINY_MODEL, ConfigError, TrainConfig, load_saved_config, save_config,
                                   training_differences)
from c2kit.training.data import DataError, pairs_fingerprint
from c2kit.training.distributed import (Processes, batch_report, check_launch, effective_batch_size,
                                        main_process_output, processes_of, settings_for_launch, sharded_launch)
from c2kit.training.model import load_base_model, load_tokenizer, lora_config, resolve_base_model
from c2kit.training.objectives import get_objective
from c2kit.training.precision import Precision, cast_trainable_params_to_fp32, resolve_precision
from c2kit.training.running_totals import running_totals, totals_problem

CONFIG_FILE = TRAIN_CONFIG_FILE
DATA_FILE = "train_data.json"  # the dataset and the fingerprint of the pairs selected from it
LOG_JSONL = "training_log.jsonl"
LOG_CSV = "training_log.csv"
METRICS_FILE = "metrics.json"
EVAL_BEFORE_FILE = "eval_before.json"  # the held-out numbers before training, kept for a resumed run's metrics
INCOMPLETE_PREFIX = "incomplete-"  # incomplete checkpoints are moved aside to incomplete-checkpoint-N
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
# What the Trainer writes into a checkpoint of a PEFT model, and what resuming reads back.
CHECKPOINT_FILES = ("trainer_state.json", "adapter_model.safetensors")
# The optimizer's state: optimizer.pt in one process and under DDP, optimizer.bin under FSDP (full state dict).
# DeepSpeed saves optimizer and scheduler in the folder its `latest` file names (global_stepN/) instead.
OPTIMIZER_FILES = ("optimizer.pt", "optimizer.bin")
DEEPSPEED_LATEST = "latest"
# One random-state file per process: rng_state.pth on one device, rng_state_0.pth, _1.pth, ... on several.
RNG_STATE_GLOB = "rng_state*.pth"
# What checksums.json covers: in a checkpoint, the files the main process has saved when the sums are written; in
# the output directory, the adapter's weights.
CHECKPOINT_CHECKSUMMED = ("adapter_model.safetensors", *OPTIMIZER_FILES, "scheduler.pt")
ADAPTER_WEIGHTS = "adapter_model.safetensors"


@dataclass
class TrainResult:
    """Where the run is and what it measured (``metrics`` is the content of ``metrics.json``)."""

    output_dir: Path
    base_model: str
    metrics: dict[str, Any]
    reused: bool  # True when a finished run with the same config was found and not trained again
    main_process: bool = True  # False in the other processes of a multi-process run: they report nothing


def dpo_args(config: TrainConfig, precision: Precision, *, progress: bool = True):
    """TRL ``DPOConfig`` for the recipe (TRL 1.16 names: no max_prompt_length; bf16 defaults to True)."""
    from trl import DPOConfig

    return DPOConfig(beta=config.beta, loss_type=config.loss_type,
                     **trainer_arguments(config, precision, progress=progress))


def trainer_arguments(config: TrainConfig, precision: Precision, *, progress: bool = True) -> dict[str, Any]:
    """The training arguments every objective's TRL config shares (TRL 1.16 and transformers 5 names)."""
    if config.optim.startswith("paged_") and precision.use_cpu:
        raise ConfigError(f"optim {config.optim!r} needs a CUDA GPU; use --optim adamw_torch on CPU")
    return dict(
        output_dir=config.output_dir,
        max_length=config.max_length,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of the total steps
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        optim=config.optim,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        fp16=precision.fp16,
        bf16=precision.bf16,
        use_cpu=precision.use_cpu,
        gradient_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        logging_steps=config.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="steps" if config.eval_steps else "no",
        eval_steps=config.eval_steps,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        disable_tqdm=not progress,
        dataloader_pin_memory=not precision.use_cpu,
        # DDP: every LoRA weight gets a gradient at every step, so DDP need not search the graph for unused
        # ones, as TRL advises for LoRA on several GPUs.
        ddp_find_unused_parameters=False,
    )


def build_trainer(model, tokenizer, args, config: TrainConfig, train_dataset, eval_dataset=None,
                  callbacks: list | None = None):
    """``DPOTrainer`` with LoRA on all linear layers and no reference model (the adapter-disabled base is it).

    Trainable parameters are cast back to fp32 unless training under bf16 autocast (see
    :mod:`c2kit.training.precision`): TRL casts them to bf16 for quantized models, which breaks fp16.
    """
    from trl import DPOTrainer

    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=lora_config(config),
        callbacks=callbacks,
    )
    keep_adapter_in_fp32(trainer, args)
    return trainer


def keep_adapter_in_fp32(trainer, args) -> None:
    """Undo TRL's bf16 cast of a quantized model's LoRA weights, unless training under bf16 autocast (the only
    precision where they may stay bf16; fp16's gradient scaler fails on them)."""
    if not args.bf16:
        cast_trainable_params_to_fp32(trainer.model)


def _jsonl_logger(path: Path):
    """A callback appending every log line (train and eval) to ``path`` as it is produced."""
    from transformers import TrainerCallback

    class JsonlLogger(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"step": state.global_step, **logs}) + "\n")

    return JsonlLogger()


def run_training(config: TrainConfig, *, progress: bool = True) -> TrainResult:
    """Train (or resume, or reuse a finished run) and write everything to ``config.output_dir``.

    Under ``accelerate launch`` or ``torchrun`` every process runs this; the main process alone writes and
    prints (:mod:`c2kit.training.distributed`), and only its result has ``main_process`` set.
    """
    check_launch()
    if config.model_name_or_path != TINY_MODEL:  # a mistyped path or an unfetchable id: one line, before any work
        check_model(config.model_name_or_path, config.revision)
    precision = resolve_precision(config.precision)
    config, changes = settings_for_launch(config, precision)  # what FSDP and DeepSpeed need
    objective = get_objective(config.objective)
    args = objective.training_args(config, precision, progress=progress)
    processes = processes_of(args)  # sets up the process group when there are several
    with main_process_output(processes):
        for change in changes:
            print(change)
        lock = _lock_output_dir(config, processes)
        try:
            for stage_config, stage in objective.stages(config)[:-1]:  # backtrack's SFT, in a folder under the run's
                print(f"{objective.name}: first stage, in {stage_config.output_dir}")
                stage_lock = _lock_output_dir(stage_config, processes)  # its own folder: no other run writes there
                try:
                    done = _run(stage_config, stage, precision,
                                stage.training_args(stage_config, precision, progress=progress), processes)
                finally:
                    if stage_lock is not None:
                        stage_lock.release()
                for when in ("eval_before", "eval_after"):
                    if when in done.metrics:
                        print(f"{objective.name}: first stage, held-out {when[5:]} training: "
                              f"{stage.held_out_line(done.metrics[when])}")
                print(f"{objective.name}: next stage, in {config.output_dir}")
            return _run(config, objective, precision, args, processes)
        finally:
            if lock is not None:
                lock.release()


def _lock_output_dir(config: TrainConfig, processes: Processes) -> DirectoryLock | None:
    """The main process locks ``output_dir`` for the run (the others work under its lock): refused in one line
    while another run writes there, and when the folder holds a C2-Syn build or an eval run's results, or is the
    dataset being trained on, whose card (README.md) the adapter's model card would replace."""
    out = Path(config.output_dir)
    if Path(config.dataset).is_dir() and out.resolve() == Path(config.dataset).resolve():
        raise ConfigError(f"{out} is the dataset folder (--data): c2 train writes the adapter's model card "
                          "(README.md) and tokenizer there, over the dataset's card; choose another --out")
    return lock_output_folder(out, "c2 train") if processes.is_main else None


def _run(config: TrainConfig, objective, precision: Precision, args, processes: Processes) -> TrainResult:
    out = Path(config.output_dir)
    # Every process decides from the directory as it is now; the main process changes it only after the barrier.
    checkpoint, incomplete = find_checkpoints(out)
    previous = _previous_run(out, config, has_progress=checkpoint is not None)
    with args.main_process_first(desc="loading the pairs"):  # one process fills the datasets cache, then the rest
        split = objective.load_split(config)
    print(split.report())
    data = {"dataset": config.dataset, "sha256": pairs_fingerprint(split)}
    with args.main_process_first(local=False, desc="building the tiny model"):  # into output_dir, shared by all nodes
        base_model = resolve_base_model(config)
    if previous is not None:
        _check_same_data(out, previous["data"], data)
        if previous["metrics"] is not None:
            problem = adapter_problem(out) or checksum_problem(out)
            if problem is None:
                print(f"{out}: already trained with this config; reusing it (delete the directory to train again)")
                return TrainResult(out, base_model, previous["metrics"], reused=True, main_process=processes.is_main)
            if checkpoint is None:
                raise ConfigError(f"{out} holds a finished run whose adapter is damaged ({problem}) and no complete "
                                  "checkpoint to rebuild it from; use another --out or delete that directory")
            print(f"{out} holds a finished run whose adapter is damaged ({problem}): rebuilding it from "
                  f"{Path(checkpoint).name}")
    has_eval = split.eval is not None and len(split.eval) > 0
    if config.eval_steps is not None and not has_eval:
        raise DataError(f"{split.origin}: eval_steps needs held-out pairs, but none are left (every request is "
                        "used for training); set eval_steps null")
    eval_before = ((_saved_eval_before(out) or _logged_eval_before(checkpoint, objective))
                   if checkpoint is not None else None)

    tokenizer = load_tokenizer(base_model, config)
    with args.main_process_first(desc="rendering prompts"):
        train_dataset = objective.to_train_format(split.train, tokenizer, config)
        eval_dataset = objective.to_train_format(split.eval, tokenizer, config) if has_eval else None
    # The LoRA weights are initialised inside the TRL trainer before it seeds anything itself: seed here, so they
    # do not depend on what ran earlier in the process.
    from transformers import set_seed

    set_seed(config.seed)
    model = load_base_model(base_model, config, precision, local_index=processes.local_index,
                            sharded=sharded_launch())
    trainer = objective.build_trainer(model, tokenizer, args, config, train_dataset, eval_dataset)
    # The running sums first: they correct the final train_loss before the log line is written.
    totals = running_totals(trainer, processes.index, checkpoint)
    trainer.add_callback(totals)
    log_writer = _jsonl_logger(out / LOG_JSONL)
    trainer.add_callback(log_writer)
    _write_into_each_checkpoint(trainer, [totals.write] + ([_checksum_checkpoint] if processes.is_main else []))
    _no_step_past_max_steps(trainer)
    trainer.model.print_trainable_parameters()
    print(f"precision {precision.name} on {'CPU' if precision.use_cpu else 'GPU'}; "
          + batch_report(config, len(train_dataset), processes))

    # Everything is checked: from here on the directory says what it is running.
    if processes.is_main:
        out.mkdir(parents=True, exist_ok=True)
        for path, problem in incomplete:
            aside = _move_aside(path)
            changed = CHECKSUMS_FILE in problem  # a file changed after it was saved, not one cut short
            print(f"{path.name} is {'damaged' if changed else 'incomplete'} ({problem})"
                  + ("" if changed else ", probably cut short by a kill while it was saved")
                  + f": moved it to {aside.name}" + (f"; resuming from {Path(checkpoint).name}" if checkpoint else
                                                    "; no complete checkpoint left, training from the start"))
        save_config(config, out / CONFIG_FILE)
        write_json(out / DATA_FILE, data)
        _restore_log(out / LOG_JSONL, checkpoint)
        if eval_before is None:
            (out / EVAL_BEFORE_FILE).unlink(missing_ok=True)
        else:  # back in place if it was lost: it came from the checkpoint's log
            write_json(out / EVAL_BEFORE_FILE, eval_before)
    processes.wait_for_everyone()
    metrics: dict[str, Any] = {
        "objective": objective.name,
        "base_model": base_model,
        "precision": precision.name,
        "device": _device_name(precision),
        "data": split.report(),
        "num_train_pairs": len(train_dataset),
        "num_eval_pairs": len(eval_dataset) if eval_dataset is not None else 0,
        "num_processes": processes.count,
        "effective_batch_size": effective_batch_size(config, processes),
    }
    measured: dict[str, dict] = {}
    if eval_dataset is not None and config.eval_before_training:
        if eval_before is not None:
            measured["eval_before"] = eval_before
        elif checkpoint is None:  # measured once train() has prepared the model for its processes
            trainer.add_callback(_eval_before_callback(trainer, out, processes, measured, objective))
        elif processes.count == 1:  # resumed from a run that did not measure it: the adapter is zero until train()
            trainer.remove_callback(log_writer)  # loads it; the log stays the checkpoint's, without this line
            measured["eval_before"] = _eval_before(trainer, out, processes, objective)
            trainer.add_callback(log_writer)
        else:
            print(f"{out / EVAL_BEFORE_FILE} is missing: a run resumed in several processes does not measure the "
                  "held-out numbers before training again (they are the base's: reward margin 0, loss log 2)")
    if checkpoint:
        print(f"resuming from {checkpoint}")
    _reset_peak_memory(precision)
    output = trainer.train(resume_from_checkpoint=checkpoint)
    metrics.update(measured)
    metrics["train_runtime_s"] = output.metrics.get("train_runtime")
    metrics["train_pairs_per_second"] = output.metrics.get("train_samples_per_second")
    metrics["global_step"] = trainer.state.global_step
    metrics["train_final"] = _last_train_log(trainer.state.log_history, objective)
    metrics["peak_gpu_memory_gib"] = _peak_memory_gib(precision)
    if eval_dataset is not None:
        metrics["eval_after"] = _pick(trainer.evaluate(), "eval_", objective)  # every process scores its share
    from c2_eval_metric.runner import library_versions  # imports torch: kept out of module import time

    metrics["versions"] = {**library_versions(), "trl": metadata.version("trl")}

    _save_adapter(trainer, out)  # the adapter (PEFT saves only the LoRA weights) and the tokenizer
    if processes.is_main:
        write_checksums(out, [ADAPTER_WEIGHTS])  # a rerun checks the adapter before reusing the run
        _write_log_csv(trainer.state.log_history, out / LOG_CSV)
        write_json(out / METRICS_FILE, metrics)  # last, and atomically: it marks the run as finished
    processes.wait_for_everyone()  # no process reports the run finished before metrics.json exists
    return TrainResult(out, base_model, metrics, reused=False, main_process=processes.is_main)


def _save_adapter(trainer, out: Path) -> None:
    """Every process takes part (FSDP gathers the sharded weights); the main process writes the files."""
    if trainer.is_fsdp_enabled:  # a full state dict, so the adapter is one safetensors file as without FSDP
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(out))


def _saved_eval_before(out: Path) -> dict | None:
    """The held-out numbers an interrupted run measured before training (``eval_before.json``), if readable."""
    try:
        return read_json(out / EVAL_BEFORE_FILE)
    except (OSError, ValueError):  # missing, or cut short: the checkpoint's log has them too
        return None


def _logged_eval_before(checkpoint: str, objective) -> dict | None:
    """The held-out numbers before training as logged in ``checkpoint`` (the evaluation at step 0), if any."""
    for entry in _checkpoint_log(checkpoint):
        if entry.get("step") == 0 and "eval_loss" in entry:
            return _pick(entry, "eval_", objective)
    return None


def _checkpoint_log(checkpoint: str) -> list[dict]:
    """Every line logged up to ``checkpoint`` (its ``trainer_state.json``'s ``log_history``, in order)."""
    return json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))["log_history"]


def _write_into_each_checkpoint(trainer, writers: list) -> None:
    """Have each of ``writers`` write into every checkpoint folder (its one argument) while the Trainer saves it.

    They run after the weights and the optimizer's and scheduler's states are saved, and before the random
    states and ``trainer_state.json`` (which make a checkpoint complete, :func:`checkpoint_problem`) and the
    deletion of the checkpoints beyond ``save_total_limit``. A ``TrainerCallback.on_save`` comes only after that
    deletion (transformers 5.25, ``Trainer._save_checkpoint``): a kill in between would leave a complete
    checkpoint without what the writers add. ``Trainer._save_rng_state``, which every process calls at that
    point, is the step they are put in front of.
    """
    save_rng_state = trainer._save_rng_state

    def save_rng_state_after_writers(output_dir: str) -> None:
        for write in writers:
            write(Path(output_dir))
        save_rng_state(output_dir)

    trainer._save_rng_state = save_rng_state_after_writers


def _checksum_checkpoint(folder: Path) -> None:
    write_checksums(folder, CHECKPOINT_CHECKSUMMED)


def _no_step_past_max_steps(trainer) -> None:
    """Resumed from the checkpoint of its last step (a run killed before its final files), train no further.

    transformers 5.25 trains one more step when it resumes at ``max_steps`` in the middle of an epoch (it checks
    for the end only after a step): the rerun would end with other weights and one more log line. An epoch that
    starts with nothing left to train is skipped; the Trainer still loads the checkpoint and logs its summary.
    """
    run_epoch = trainer._run_epoch

    def run_epoch_unless_finished(*args, **kwargs):
        if trainer.state.global_step < trainer.state.max_steps:
            run_epoch(*args, **kwargs)

    trainer._run_epoch = run_epoch_unless_finished


def _eval_before(trainer, out: Path, processes: Processes, objective) -> dict:
    """The held-out numbers with the adapter still zero, measured without touching the training's random stream.

    Every process scores its share; the main one writes ``eval_before.json``, which a resumed run reads back
    (:func:`_saved_eval_before`).
    """
    with preserved_rng_state():
        values = _pick(trainer.evaluate(), "eval_", objective)
    if processes.is_main:
        write_json(out / EVAL_BEFORE_FILE, values)
    return values


def _eval_before_callback(trainer, out: Path, processes: Processes, measured: dict, objective):
    """:func:`_eval_before` at the start of ``train()``, once the Trainer has prepared the model for training.

    Not before ``train()``: evaluating first makes accelerate mark the model as prepared (for evaluation), and
    ``train()`` then leaves it unwrapped, so with several processes there would be no DDP, and each process would
    train its own adapter on its share of the pairs without averaging gradients (accelerate 1.16, transformers
    5.24). At the start of a fresh run the adapter is still zero.
    """
    from transformers import TrainerCallback

    class EvalBefore(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            measured["eval_before"] = _eval_before(trainer, out, processes, objective)

    return EvalBefore()


@contextmanager
def preserved_rng_state():
    """Run a block without changing the Python, NumPy, torch CPU and CUDA random states seen after it.

    The evaluation before training draws from them (the Trainer's data loaders), and training then starts from
    wherever it left them: the same run with and without ``eval_before_training`` would train on another
    random stream. With the states restored, both train the same weights, as a resumed run does.
    """
    import random

    import numpy as np
    import torch

    states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state(),
              torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        if states[3] is not None:
            torch.cuda.set_rng_state_all(states[3])


def find_checkpoints(out: Path) -> tuple[str | None, list[tuple[Path, str]]]:
    """The last complete checkpoint of ``out`` (None if there is none), and the incomplete ones after it.

    Incomplete checkpoints are returned with what is wrong with them (:func:`checkpoint_problem`); the caller
    moves them aside once it is sure to train in ``out``.
    """
    if not out.is_dir():
        return None, []
    numbered = sorted(((int(match.group(1)), path) for path in out.iterdir()
                       if path.is_dir() and (match := CHECKPOINT_RE.match(path.name))), reverse=True)
    incomplete = []
    for _, path in numbered:
        problem = checkpoint_problem(path)
        if problem is None:
            return str(path), incomplete
        incomplete.append((path, problem))
    return None, incomplete


def checkpoint_problem(path: Path) -> str | None:
    """What makes checkpoint ``path`` unusable for resuming (a file missing or unreadable), None if it is complete.

    Checked: ``trainer_state.json`` (parses, has ``global_step``), the adapter weights (safetensors header and
    tensor list), the optimizer, scheduler and random states (each opens with ``torch.load``; the optimizer is
    memory-mapped, not read), the running totals (parse), and the sha256 of the adapter, optimizer and
    scheduler files against the ``checksums.json`` saved with them (:mod:`c2kit.training.checksums`; a file
    changed in place still opens). A DeepSpeed checkpoint holds its optimizer and scheduler in the folder its
    ``latest`` file names: that folder must exist and hold files.
    """
    missing = [name for name in CHECKPOINT_FILES if not _nonempty_file(path / name)]
    states = _deepspeed_states(path)
    if states is None:
        optimizer = next((name for name in OPTIMIZER_FILES if _nonempty_file(path / name)), None)
        missing += [] if optimizer else [OPTIMIZER_FILES[0]]
        missing += [] if _nonempty_file(path / "scheduler.pt") else ["scheduler.pt"]
    elif not states.is_dir() or not any(states.iterdir()):
        missing.append(f"{states.name}/ (the DeepSpeed states its '{DEEPSPEED_LATEST}' file names)")
    rng_states = sorted(item.name for item in path.glob(RNG_STATE_GLOB))
    if not rng_states:
        missing.append("rng_state.pth")
    if missing:
        return f"missing {', '.join(missing)}"
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict) or "global_step" not in state:
            return "trainer_state.json has no global_step"
    except (OSError, ValueError) as error:
        return f"trainer_state.json unreadable ({error})"
    problem = safetensors_problem(path / ADAPTER_WEIGHTS)
    if problem:
        return f"{ADAPTER_WEIGHTS} {problem}"
    import torch
    from transformers.trainer_pt_utils import safe_globals  # the numpy types the Trainer's rng_state.pth holds

    torch_files = [] if states is not None else [optimizer, "scheduler.pt"]
    for name in (*torch_files, *rng_states):
        try:
            with safe_globals():
                torch.load(path / name, map_location="cpu", weights_only=True, mmap=name in OPTIMIZER_FILES)
        except Exception as error:  # a truncated zip archive, pickle or storage
            return f"{name} unreadable ({' '.join(str(error).split())[:200]})"
    return totals_problem(path) or checksum_problem(path)


def _nonempty_file(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _deepspeed_states(path: Path) -> Path | None:
    """The folder of a DeepSpeed checkpoint's optimizer and scheduler states, None if ``path`` is not one."""
    latest = path / DEEPSPEED_LATEST
    if not latest.is_file():
        return None
    return path / (latest.read_text(encoding="utf-8").strip() or "?")


def _move_aside(path: Path) -> Path:
    aside = path.with_name(INCOMPLETE_PREFIX + path.name)
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{INCOMPLETE_PREFIX}{path.name}-{number}")
    path.rename(aside)
    return aside


def _previous_run(out: Path, config: TrainConfig, *, has_progress: bool) -> dict | None:
    """The run already in ``out`` (its ``metrics``, None if unfinished, and its ``data``), None if there is none.

    Only a checkpoint or ``metrics.json`` makes a run: a directory left by a start that failed before its
    first checkpoint is trained afresh, whatever settings it was started with. A run with other training
    settings (:func:`training_differences`) is refused.
    """
    metrics_path = out / METRICS_FILE
    if not has_progress and not metrics_path.is_file():
        return None
    saved, unset = load_saved_config(out / CONFIG_FILE)
    differences = training_differences(saved, config)
    lacking = [key for key in differences if key in unset]
    if lacking:  # a file cut at a line break: the keys after the cut took their defaults
        raise ConfigError(f"{out / CONFIG_FILE} is incomplete: it does not set {', '.join(lacking)} (cut short, or "
                          "written by an earlier c2-toolkit); use another --out or delete that directory")
    if differences:
        details = ", ".join(f"{key}: {getattr(saved, key)!r} -> {getattr(config, key)!r}" for key in differences)
        raise ConfigError(f"{out} holds a run with different settings ({details}); use another --out "
                          "or delete that directory")
    return {"metrics": _read_json(metrics_path) if metrics_path.is_file() else None,
            "data": _read_json(out / DATA_FILE)}


def _check_same_data(out: Path, trained: dict, selected: dict) -> None:
    """Refuse to resume or reuse a run on other pairs (the dataset's location may change, its content not)."""
    if trained.get("sha256") != selected["sha256"]:
        raise ConfigError(f"{out} holds a run trained on other pairs: {trained.get('dataset')!r} (sha256 "
                          f"{str(trained.get('sha256'))[:12]}) -> {selected['dataset']!r} (sha256 "
                          f"{selected['sha256'][:12]}); use another --out or delete that directory")


def _read_json(path: Path) -> dict:
    try:
        return read_json(path)
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read this run file ({error}); use another --out or delete "
                          "that directory") from None


def _restore_log(path: Path, checkpoint: str | None) -> None:
    """Make the log what it was when ``checkpoint`` was saved (None: training from scratch, no log).

    The checkpoint's ``trainer_state.json`` holds every line logged up to it, in order. The log keeps its own
    copy of each of those lines (same values, its key order), or takes it from the checkpoint where it lost it
    (cut short by a kill, or deleted), and drops the lines logged after the checkpoint was saved: training from
    it logs them again. Those include a finished run's last lines (the final ``train_loss``, the held-out
    evaluation after training) when a kill came before its final files were in place, so a rerun logs them once.
    """
    if checkpoint is None:
        path.unlink(missing_ok=True)
        return
    written = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                written.append(json.loads(line))
            except json.JSONDecodeError:  # the last line, cut short by the kill
                written.append(None)
    restored = []
    for index, entry in enumerate(_checkpoint_log(checkpoint)):
        own = written[index] if index < len(written) else None
        restored.append(own if own == entry else {"step": entry["step"], **entry})  # the logger's key order
    write_jsonl(path, restored)


def _pick(logs: dict, prefix: str, objective) -> dict:
    """The objective's reported numbers of one log line (TRL logs them as ``rewards/margins``,
    ``eval_rewards/margins``, ...)."""
    return {key: logs[prefix + key] for key in objective.reported if prefix + key in logs}


def _last_train_log(history: list[dict], objective) -> dict:
    train_logs = [entry for entry in history if objective.train_log_key in entry]
    return _pick(train_logs[-1], "", objective) if train_logs else {}


def _write_log_csv(history: list[dict], path: Path) -> None:
    columns = sorted({key for entry in history for key in entry}, key=lambda key: (key != "step", key))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)


def _device_name(precision: Precision) -> str:
    if precision.use_cpu:
        return "cpu"
    import torch

    return torch.cuda.get_device_name()


def _reset_peak_memory(precision: Precision) -> None:
    if not precision.use_cpu:
        import torch

        torch.cuda.reset_peak_memory_stats()


def _peak_memory_gib(precision: Precision) -> float | None:
    if precision.use_cpu:
        return None
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2)
