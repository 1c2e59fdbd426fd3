"""C2-Eval inside the harnesses researchers already run: an lm-evaluation-harness task, an Inspect task with a
prefill-safe Inspect model provider, and the importer that turns either harness's log into a c2 results directory.

* :mod:`c2kit.harness.items`: the (item, k) prefixes of ``c2 eval run``, for both harnesses.
* :mod:`c2kit.harness.verdicts`: c2's judges as the harnesses call them (judge spec from the task's settings).
* ``lm_eval_tasks/c2_eval``: the lm-eval task folder (``c2 harness lm-eval-path`` prints it).
* the Inspect task ``c2_toolkit/c2_eval`` and the ``c2/`` model provider live in the package :mod:`c2_toolkit`
  (Inspect names an extension by its package); the entry point ``inspect_ai``: ``c2_toolkit`` registers them.
* :mod:`c2kit.harness.inspect_log`: an Inspect log read in c2's terms.
* :mod:`c2kit.harness.importer`: ``c2 eval import``.
"""

from pathlib import Path


def lm_eval_path() -> Path:
    """The folder to pass to ``lm_eval --include_path`` (or ``lm_eval.tasks.TaskManager(include_path=...)``): it
    holds the ``c2_eval`` group and its subtasks ``c2_eval_k10`` ... ``c2_eval_k80``."""
    return Path(__file__).resolve().parent / "lm_eval_tasks"
