"""What the ``inspect_ai`` entry point of c2-toolkit registers: the ``c2_eval`` task and the ``c2/`` model provider."""

from c2_toolkit.c2_eval import c2_eval
from c2_toolkit.provider import c2_provider

__all__ = ["c2_eval", "c2_provider"]
