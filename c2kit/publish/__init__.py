"""Publish the project's artifacts on the Hugging Face Hub with trustworthy cards (``c2 publish``).

One module per artifact kind (``dataset``, ``metric``, ``adapter``, ``results``), each building the exact
files of one commit and its card from ``hub_cards/``; ``hub`` stages, previews (``--dry-run``) and uploads.
"""

from .hub import PublishError, PublishResult

__all__ = ["PublishError", "PublishResult"]
