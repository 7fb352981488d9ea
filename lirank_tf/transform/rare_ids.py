"""Rare ids -> ``RARE_ID`` before hashing (the min-count vocabulary, `lirank_tf.transform.
vocabulary`), with one stock-op hash table for all features.

The table's keys are ``feature + "\\x1f" + id`` for every kept id of every min-count feature
(the separator is in no feature name, so one table serves all features without mixing them
up). The string ids of a batch are prefixed with their feature, concatenated, looked up in ONE
``tf.lookup.StaticHashTable`` call, and split back: an id the table does not hold becomes
``RARE_ID``; ``""`` ("no id", padding) stays ``""``. The table is a tracked resource of the
module: a SavedModel holds it with its keys, and its initializer runs when TF2
(``tf.saved_model.load``) or TensorFlow Serving's TF1 loader (the SavedModel's init op) loads
it. The keys are constants of the SavedModel's graph, which a protobuf caps at 2 GB: a few
tens of millions of kept ids.
"""

from __future__ import annotations

import tensorflow as tf

from lirank_tf.transform.vocabulary import RARE_ID, IdVocabulary

SEPARATOR = "\x1f"


class RareIdMap(tf.Module):
    """Maps the string ids of the outputs ``sources`` names ({output: feature whose vocabulary
    maps it}) to themselves when ``vocabulary`` keeps them, else to ``RARE_ID``."""

    def __init__(self, vocabulary: IdVocabulary, sources: dict[str, str],
                 name: str = "rare_ids") -> None:
        super().__init__(name=name)
        missing = sorted(set(sources.values()) - set(vocabulary.ids))
        if missing:
            raise ValueError(f"id vocabulary: no vocabulary for feature(s) {missing}")
        self.sources = dict(sources)
        keys = [f"{feature}{SEPARATOR}{value}" for feature in sorted(vocabulary.ids)
                for value in vocabulary.ids[feature]]
        # a table cannot be empty: one more key, value 0, that only a "no id" ("") of a feature
        # named "" would look up, and "no id" stays "" whatever the table says
        keys.append(SEPARATOR)
        values = [1] * (len(keys) - 1) + [0]
        initializer = tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.string, shape=[len(keys)]), tf.constant(values, tf.int64))
        self.table = tf.lookup.StaticHashTable(initializer, default_value=0)

    def __call__(self, strings: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """``strings`` ({output: string ids}) with the ids of the mapped outputs replaced
        as above; the other outputs as they are."""
        names = [name for name in strings if name in self.sources]
        if not names:
            return strings
        flat = [tf.reshape(strings[name], [-1]) for name in names]
        keyed = tf.concat([tf.strings.join([self.sources[name] + SEPARATOR, values])
                           for name, values in zip(names, flat)], axis=0)
        kept = tf.equal(self.table.lookup(keyed), 1)
        kept = tf.split(kept, tf.stack([tf.size(values) for values in flat]), num=len(names))
        mapped = dict(strings)
        for name, values, keep in zip(names, flat, kept):
            values = tf.where(keep | tf.equal(values, ""), values, RARE_ID)
            values = tf.reshape(values, tf.shape(strings[name]))
            values.set_shape(strings[name].shape)
            mapped[name] = values
        return mapped
