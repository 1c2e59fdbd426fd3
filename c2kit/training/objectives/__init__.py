"""The training objectives ``c2 train --objective NAME`` knows, one registered entry each.

==============  ================================================================  =============================
name            what it trains                                                    implementation
==============  ================================================================  =============================
c2-dpo          DPO on C2-Syn's preference pairs (the default; Xu et al., 2024)   ``objectives.dpo``
recovery-sft    SFT on safety recovery examples (Qi et al., ICLR 2025)            ``objectives.sft``
derta           SFT with a harmful prefix + Reinforced Transition Optimization    ``objectives.sft``,
                (Yuan et al., ACL 2025)                                           ``objectives.transition``
backtrack       a ``[RESET]`` token: SFT, then DPO from the SFT adapter           ``objectives.backtrack``
                (Zhang et al., ICLR 2025)
==============  ================================================================  =============================

An objective is an :class:`~c2kit.training.objectives.base.Objective`: it loads and splits its data, renders it
for its TRL trainer, makes the trainer's arguments and the trainer, and says which logged numbers it reports.
Everything else of a run (4-bit base, LoRA, precision, checkpoints and resume, lock, log, running totals,
checksums, C2-Eval before/after) is :mod:`c2kit.training.trainer`'s, the same for every objective. A new objective
is one more entry in :data:`OBJECTIVES`. The entries name their implementation, imported when a run starts, so
that reading a config imports neither torch nor TRL.
"""

from __future__ import annotations

import importlib

DEFAULT_OBJECTIVE = "c2-dpo"
# name -> "module:attribute" of its Objective instance
OBJECTIVES = {
    "c2-dpo": "c2kit.training.objectives.dpo:C2_DPO",
    "recovery-sft": "c2kit.training.objectives.sft:RECOVERY_SFT",
    "derta": "c2kit.training.objectives.sft:DERTA",
    "backtrack": "c2kit.training.objectives.backtrack:BACKTRACK",
}
OBJECTIVE_NAMES = tuple(OBJECTIVES)


def get_objective(name: str):
    """The :class:`~c2kit.training.objectives.base.Objective` registered as ``name``."""
    module, attribute = OBJECTIVES[name].split(":")
    return getattr(importlib.import_module(module), attribute)
