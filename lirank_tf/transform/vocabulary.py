"""The min-count id vocabulary: which ids of a feature were seen often enough in training to
keep their own embedding row (``features.ids[].min_count``).

An id seen fewer than ``min_count`` times in the training files, or never, is replaced by
``RARE_ID`` before hashing, so all of them share one row that training updates on every rare
id's examples, instead of each keeping a barely trained row of its own (and colliding
unseen ids landing on rows other ids trained). "No id" (``""``, ``-1`` for integer ids) is
neither counted nor replaced. Integer ids count as their decimal strings, as they are hashed.
Features on one table share its ``RARE_ID`` row.

`count_vocabulary` counts a dataset of raw batches; `IdVocabulary` holds the kept ids per
feature (saved with the run as ``id_vocabulary.json``); `vocabulary_sources` says which
feature's vocabulary maps each output of the transformation model.

Example:
    >>> import tensorflow as tf
    >>> from lirank_tf.config import IdFeatureConfig
    >>> feature = IdFeatureConfig(name="item", table="item", min_count=2)
    >>> batches = tf.data.Dataset.from_tensors(({"item": tf.constant(["a", "b", "a", ""])}, {}))
    >>> count_vocabulary(batches, [feature]).ids
    {'item': ['a']}
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import tensorflow as tf

from lirank_tf.config import FeaturesConfig, IdFeatureConfig

# the token every rare id of a feature is hashed as (a real id spelled so shares its row)
RARE_ID = "__rare__"


@dataclasses.dataclass
class IdVocabulary:
    """The kept ids of each min-count feature: ``ids[name]`` (sorted strings), counted with
    ``min_count[name]`` over ``records`` training records."""

    ids: dict[str, list[str]]
    min_count: dict[str, int]
    records: int = 0

    def to_dict(self) -> dict:
        return {"records": self.records,
                "features": {name: {"min_count": self.min_count[name], "ids": self.ids[name]}
                             for name in sorted(self.ids)}}

    @classmethod
    def from_dict(cls, data: dict) -> "IdVocabulary":
        features = data["features"]
        return cls(ids={name: list(entry["ids"]) for name, entry in features.items()},
                   min_count={name: int(entry["min_count"]) for name, entry in features.items()},
                   records=int(data.get("records", 0)))

    def check(self, features: FeaturesConfig) -> None:
        """ValueError unless this vocabulary holds exactly the min-count features of
        ``features``, each counted with its ``min_count``."""
        wanted = {f.name: f.min_count for f in counted_features(features)}
        if wanted != self.min_count:
            raise ValueError(f"id vocabulary: counted for {self.min_count} (feature: min_count), "
                             f"but the config's min-count features are {wanted}")


def counted_features(features: FeaturesConfig) -> list[IdFeatureConfig]:
    """The id features with a min-count vocabulary (``min_count`` > 0)."""
    return [f for f in features.ids if f.min_count > 0]


def vocabulary_sources(features: FeaturesConfig) -> dict[str, str]:
    """{output of the transformation model: the feature whose vocabulary maps it}: each
    min-count feature maps itself; ``history_items`` and ``history_candidate`` take the
    vocabulary of the id feature named ``history.candidate_field`` when it has one and lives
    on ``history.item_table`` (`lirank_tf.config.HistoryConfig`)."""
    sources = {f.name: f.name for f in counted_features(features)}
    history = features.history
    if history is not None:
        candidate = next((f for f in features.ids if f.name == history.candidate_field), None)
        if (candidate is not None and candidate.min_count > 0 and candidate.kind == "id"
                and candidate.table == history.item_table):
            sources["history_items"] = sources["history_candidate"] = candidate.name
    return sources


def _kept_ids(counts: dict, feature: IdFeatureConfig) -> list[str]:
    """The sorted ids of ``counts`` ({id as read: count}) seen at least ``min_count`` times,
    as the strings the transformation hashes; "no id" ("" / -1) is left out."""
    kept = [value for value, count in counts.items() if count >= feature.min_count]
    if feature.dtype == "int64":
        return sorted(str(value) for value in kept if value != -1)
    return sorted(value.decode("utf-8") for value in kept if value)


def count_vocabulary(batches: tf.data.Dataset,
                     features: Sequence[IdFeatureConfig]) -> IdVocabulary:
    """The vocabulary of ``features`` over ``batches`` of ``(raw features, labels)``: each
    feature's ids seen at least ``min_count`` times. The distinct ids of a batch and their
    counts are found in the dataset's ``map`` (``tf.unique_with_counts``); Python adds up one
    entry per distinct id and batch."""
    features = list(features)
    if not features:
        return IdVocabulary(ids={}, min_count={})

    def distinct(raw, labels):
        counted = {}
        for feature in features:
            values = raw[feature.name]
            values = values.flat_values if isinstance(values, tf.RaggedTensor) else values
            unique = tf.unique_with_counts(tf.reshape(values, [-1]))
            counted[feature.name] = (unique.y, unique.count)
        first = raw[features[0].name]
        rows = first.nrows() if isinstance(first, tf.RaggedTensor) else tf.size(first)
        return counted, rows

    totals: dict[str, dict] = {f.name: {} for f in features}
    records = 0
    for counted, rows in batches.map(distinct, num_parallel_calls=tf.data.AUTOTUNE):
        records += int(rows)
        for name, (values, counts) in counted.items():
            table = totals[name]
            for value, count in zip(values.numpy().tolist(), counts.numpy().tolist()):
                table[value] = table.get(value, 0) + count
    return IdVocabulary(ids={f.name: _kept_ids(totals[f.name], f) for f in features},
                        min_count={f.name: f.min_count for f in features}, records=records)
