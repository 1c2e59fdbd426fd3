"""Training rows for the course-correction objectives beside C2-DPO, made from a C2-Syn build.

* ``recipes``: each objective's recipe for one request group (Qi et al.'s safety recovery examples, DeRTa's MLE
  with a harmful prefix and its transition rows), seeded per request like C2-Syn;
* ``utility``: benign utility rows from the build's source (both responses labelled safe);
* ``data``: :func:`~c2_syn_dataset.objectives.data.objective_data`, the rows of one objective and their counts;
* ``builder``: a ``datasets`` builder with one config per objective;
* ``card``: the dataset card, citing the objective's paper;
* ``python -m c2_syn_dataset.objectives --from C2SYN --objective NAME --out DIR`` writes the rows and the card.

``c2 train --objective recovery-sft|derta --data C2SYN`` makes the rows itself (docs/objectives.md).
"""
