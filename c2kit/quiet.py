"""Keep the libraries' noise out of our commands' output (``c2``, ``python -m c2kit.training.tiny_data``): their
progress bars, deprecation notices and kernel-loading chatter are not the user's business. Our own progress bars
and messages stay.

``C2_VERBOSE=1`` keeps everything, for debugging.

``--no-progress`` (every command that shows progress bars takes it) hides ours too, for the whole process:
:func:`show_progress_bars` sets it once, and every bar of ours asks :func:`progress_shown`, so a bar deep inside a
judge or a training's evaluation obeys the flag without it being handed down.
"""

from __future__ import annotations

import logging
import os
import warnings

# Warnings about the libraries' own internals or upcoming API renames, which a user of `c2` cannot act on.
_LIBRARY_MODULES = r"(transformers|trl|peft|accelerate|bitsandbytes|datasets|huggingface_hub|torch)(\..*)?"
_UNACTIONABLE = (
    ".*is deprecated and will be removed.*",  # transformers 5 renames (gradient_checkpointing, ...)
    ".*may lead to silently incorrect behavior.*",  # torch's note about bitsandbytes' custom ops
    ".*MatMul8bitLt.*",
)


_progress_shown = True


def show_progress_bars(show: bool) -> None:
    """Show (the default) or hide every progress bar of this process, ours and the libraries'."""
    global _progress_shown
    _progress_shown = show
    if not show:
        _hide_library_bars()


def progress_shown() -> bool:
    """Whether progress bars are shown in this process (``--no-progress`` hides them)."""
    return _progress_shown


def quiet_library_noise() -> None:
    """Silence library progress bars, deprecation warnings and info logs (not errors) for this process."""
    if os.environ.get("C2_VERBOSE"):
        return
    warnings.filterwarnings("ignore", category=FutureWarning, module=_LIBRARY_MODULES)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=_LIBRARY_MODULES)
    for message in _UNACTIONABLE:
        warnings.filterwarnings("ignore", message=message)
    # "Failed to load CPU gemm_4bit_forward from kernels-community": bitsandbytes falls back by itself.
    for name in ("bitsandbytes", "kernels"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    _hide_library_bars()


def _hide_library_bars() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read by huggingface_hub when imported
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    try:  # already imported (by a test or a notebook): switch them off directly
        import sys

        if "huggingface_hub" in sys.modules:  # transformers, imported later, takes its bars' state from it
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
        if "transformers" in sys.modules:
            from transformers.utils import logging as transformers_logging

            transformers_logging.set_verbosity_error()
            transformers_logging.disable_progress_bar()
        if "datasets" in sys.modules:
            import datasets

            datasets.disable_progress_bars()
    except ImportError:
        pass
