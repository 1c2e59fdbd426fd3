"""Inspect extensions of c2-toolkit, under the package name Inspect shows them by (``c2_toolkit/...``): the C2-Eval
task (``inspect eval c2_toolkit/c2_eval``) and the ``c2/`` model provider (``--model c2/MODEL``). The toolkit itself
is :mod:`c2kit`; docs/harnesses.md."""
