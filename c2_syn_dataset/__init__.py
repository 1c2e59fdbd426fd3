"""C2-Syn: the synthetic course-correction preference dataset (Xu et al., 2024, arXiv 2407.16637).

Build it with ``c2 syn build`` (:func:`c2_syn_dataset.pipeline.run_build`), join shards with
``c2 syn merge`` (:func:`c2_syn_dataset.shards.merge_build`), or build on the fly with the
``datasets`` builder :class:`c2_syn_dataset.builder.C2SynBuilder`. Load a built directory with
``datasets.load_dataset(DIR, "pairs")`` or ``"ranked"``.
"""

from c2kit import __version__

__all__ = ["__version__"]
