"""DPO on C2-Syn with 4-bit QLoRA (TRL ``DPOTrainer``), and C2-Eval of the adapter against its base.

``c2 train --config training/profiles/<profile>.yaml [--KEY VALUE ...] [--eval]`` runs it; in Python:

    from c2kit.training import load_config, run_training, run_before_after
    config = load_config("training/profiles/tiny-cpu.yaml", {"output_dir": "runs/tiny"})
    result = run_training(config)
    print(run_before_after(config, base_model=result.base_model, adapter_dir=result.output_dir).table)

Modules: ``config`` (keys, YAML, overrides), ``data`` (pairs, split, prompt rendering), ``model`` (4-bit base,
pad token, LoRA), ``precision`` (fp16/bf16/fp32 and the T4 fp16 fix), ``trainer`` (the run), ``distributed``
(several processes: who writes, FSDP/DeepSpeed settings), ``running_totals`` (logged sums carried through a
checkpoint), ``checksums`` (sha256 of the saved weights and states, checked before reuse), ``before_after``
(C2-Eval of base and adapter) and ``tiny_data`` (refusal-completed pairs for the tiny CPU demo). Importing this
package does not import torch or trl.
"""

from c2kit.training.before_after import BeforeAfter, run_before_after
from c2kit.training.config import ConfigError, TrainConfig, apply_overrides, load_config
from c2kit.training.precision import cast_trainable_params_to_fp32, resolve_precision
from c2kit.training.trainer import TrainResult, run_training

__all__ = [
    "BeforeAfter",
    "ConfigError",
    "TrainConfig",
    "TrainResult",
    "apply_overrides",
    "cast_trainable_params_to_fp32",
    "load_config",
    "resolve_precision",
    "run_before_after",
    "run_training",
]
