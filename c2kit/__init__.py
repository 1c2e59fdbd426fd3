"""Course-correction toolkit: shared core (data, prefill, generation, judges) for C2-Eval, C2-Syn and training."""

__version__ = "0.1.0"
