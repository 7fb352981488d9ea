"""The min-count id vocabulary of a training run (``features.ids[].min_count``,
`lirank_tf.transform.vocabulary`), counted over all its training files.

Counts, not a sample: an id's count decides whether it keeps its row, and a sample of 1 in m
records would see an id of count k about k / m times, so the threshold could not be applied
to the ids near it. The pass reads only the min-count columns (and the labels) of every
training file, in the sorted order of ``data.train``, so every Horovod rank would count the
same vocabulary (rank 0 counts it and writes it into the run; the others read it there).
Cost: one read of those columns. On the MovieLens-100K training files (80,000 records; 9 id
columns, one a list of 20 ids) it took 0.4-0.85 s with the C++ reader (5-11 s per million
records; 3 runs) and 2.0-3.8 s with ``data.reader: fastavro``, on a shared 2-core machine;
Python adds one dict entry per distinct id and batch of ``COUNT_BATCH_SIZE`` records.
"""

from __future__ import annotations

import dataclasses

from lirank_tf.config import ExperimentConfig
from lirank_tf.training.pipeline import raw_dataset
from lirank_tf.transform import IdVocabulary, count_vocabulary
from lirank_tf.transform.vocabulary import counted_features

COUNT_BATCH_SIZE = 8192


def count_training_vocabulary(config: ExperimentConfig,
                              train_files: list[str]) -> IdVocabulary | None:
    """The vocabulary of the min-count features of ``config`` over all of ``train_files``
    (None when no feature has ``min_count`` > 0)."""
    counted = counted_features(config.features)
    if not counted:
        return None
    columns = dataclasses.replace(config.features, ids=counted, dense=[], history=None)
    reading = dataclasses.replace(config, features=columns,
                                  model=dataclasses.replace(config.model, setwise_group=""))
    batches = raw_dataset(reading, train_files, shuffle=False, batch_size=COUNT_BATCH_SIZE)
    return count_vocabulary(batches, counted)
