"""The transformation model: raw features -> dense model inputs (LiRank §4.3).

Runs in the ``tf.data`` pipeline during training (``Dataset.map`` with parallel calls, so it
overlaps with the training step) and is stitched in front of the ranking model for serving.
Stock TensorFlow ops only (the hash is ``lirank_tf.layers.murmur3_tf``), so the stitched
SavedModel loads in a stock TF Serving binary. The string ids of all id features, history
items and candidate of a batch are hashed together in one call (``_hash_together``).

Raw inputs: string ids ``[batch]``; id lists and histories as ``tf.RaggedTensor [batch, None]``
or as dense tensors padded with ``""`` (serving requests); numeric features ``[batch, size]``
(``[batch]`` for size 1). Outputs (all dense):

* id: the int64 MurmurHash3 (x64, low 64 bits) of the string, ``[batch]`` (integer ids are
  hashed as their decimal string; -1 means "no id" and hashes like ``""``);
* id list: ``[batch, max_length]`` hashes of the first ``max_length`` ids, padded with 0 (the
  hash of the empty string, which therefore means "no id");
* history: ``history_items`` and ``history_actions`` ``[batch, max_length]`` holding the last
  ``max_length`` steps right-aligned (the most recent step in the last column, padding first),
  ``history_mask`` (1.0 for real steps) and ``history_candidate`` (hash of the candidate id);
* ids of a feature with a min-count vocabulary (``min_count`` > 0) that the vocabulary does not
  keep are hashed as ``RARE_ID`` (``lirank_tf.transform.rare_ids``: one stock-op table lookup
  for all such features before the one hash call), in every path: training (the C++ hash op),
  export and serving (stock ops), ragged and dense lists;
* ``dense``: every numeric feature squashed, standardised and concatenated, ``float32 [batch, D]``;
  missing values (NaN) and infinities (+-inf) become the feature's default, finite values are
  clipped to the feature's training range (when the statistics hold one), and standardised
  values are bounded to +-``MAX_ABS_STANDARDISED``, so the output is always finite (see
  ``lirank_tf.transform.normalization``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lirank_tf.config import FeaturesConfig
from lirank_tf.layers.murmur3_tf import murmur3_x64_64
from lirank_tf.ops.hashing import murmur3_hash
from lirank_tf.transform.normalization import FLOAT32_MAX, DenseStatistics, standardise
from lirank_tf.transform.rare_ids import RareIdMap
from lirank_tf.transform.vocabulary import IdVocabulary, vocabulary_sources


def _as_ragged(values, padding) -> tf.RaggedTensor:
    if isinstance(values, tf.RaggedTensor):
        return values
    values = tf.convert_to_tensor(values)
    if values.shape.rank != 2:
        raise ValueError(f"a list feature must be ragged or rank 2, got shape {values.shape}")
    return tf.RaggedTensor.from_tensor(values, padding=padding)


def _id_strings(ids: tf.Tensor) -> tf.Tensor:
    """String ids as they are; integer ids as their decimal string, with -1 ("no id") -> ""."""
    if ids.dtype == tf.string:
        return ids
    ids = tf.cast(ids, tf.int64)
    return tf.where(tf.equal(ids, -1), "", tf.strings.as_string(ids))


def _right_aligned(ragged: tf.RaggedTensor, length: int, padding) -> tf.Tensor:
    """The last ``length`` items of each row, right-aligned in a dense ``[batch, length]``."""
    ragged = ragged.with_row_splits_dtype(tf.int64)
    lengths = tf.minimum(ragged.row_lengths(), length)
    tail = ragged[:, -length:] if length > 0 else ragged[:, :0]
    batch = tf.shape(lengths, out_type=tf.int64)[0]
    rows = tail.value_rowids()
    columns = length - tf.gather(lengths, rows) + (tf.range(tf.size(rows, out_type=tf.int64))
                                                     - tf.gather(tail.row_starts(), rows))
    indices = tf.stack([rows, columns], axis=1)
    base = tf.fill(tf.stack([batch, tf.constant(length, tf.int64)]), tf.constant(padding, tail.dtype))
    return tf.tensor_scatter_nd_update(base, indices, tail.flat_values)


def _fixed_width(values: tf.Tensor, length: int, padding) -> tf.Tensor:
    """A dense padded list ``[batch, width]`` cut or padded to ``[batch, length]``: the values
    of ``_as_ragged(values, padding)[:, :length].to_tensor(padding, [None, length])``, without
    the ragged round trip (a serving request's lists are dense)."""
    values = values[:, :length]
    missing = length - tf.shape(values)[1]
    fixed = tf.pad(values, [[0, 0], [0, missing]], constant_values=padding)
    fixed.set_shape([values.shape[0], length])
    return fixed


def _dense_right_aligned(items: tf.Tensor, actions: tf.Tensor, length: int):
    """``(items, actions)`` of a dense history (rows padded at the end with ``""``) as
    ``_right_aligned`` gives them for ``_as_ragged(items, "")``: each row's steps up to its
    last non-empty item, the last ``length`` of them right-aligned, padding ``""`` / 0 first.
    A handful of ops instead of the ragged conversion and two scatters."""
    # one spare column, so that an empty [batch, 0] request gathers from a real column
    items = tf.pad(items, [[0, 0], [0, 1]], constant_values="")
    actions = tf.pad(tf.cast(actions, tf.int64), [[0, 0], [0, 1]])
    positions = tf.range(1, tf.shape(items)[1] + 1, dtype=tf.int32)
    lengths = tf.reduce_max(tf.where(tf.not_equal(items, ""), positions[None, :], 0), axis=1)
    source = lengths[:, None] - length + tf.range(length, dtype=tf.int32)[None, :]
    present = source >= 0
    source = tf.maximum(source, 0)
    aligned_items = tf.where(present, tf.gather(items, source, batch_dims=1), "")
    aligned_actions = tf.where(present, tf.gather(actions, source, batch_dims=1),
                               tf.constant(0, tf.int64))
    return aligned_items, aligned_actions


def _range_constants(statistics: DenseStatistics, name: str,
                     size: int) -> tuple[tf.Tensor, tf.Tensor] | None:
    """``(minimum, maximum)`` of feature ``name`` as float32 constants, or None. A component
    constant in the sample (minimum == maximum) is not clipped (bounds +-float32 max): it is
    only centred (``fit_dense_statistics``), and a rare value the sample missed (a flag that
    is almost always 0) keeps its signal."""
    value_range = statistics.value_range(name)
    if value_range is None:
        return None
    for label, values in zip(("minimum", "maximum"), value_range):
        if len(values) != size:
            raise ValueError(f"statistics: {label} of {name!r} has {len(values)} values, "
                             f"expected {size}")
    minimum, maximum = (np.asarray(values, np.float64) for values in value_range)
    constant = minimum == maximum
    return (tf.constant(np.where(constant, -FLOAT32_MAX, minimum), tf.float32),
            tf.constant(np.where(constant, FLOAT32_MAX, maximum), tf.float32))


class TransformationModel(tf.Module):
    """Raw features of one experiment -> the ranking model's dense inputs.

    ``vocabulary`` (`IdVocabulary`, counted on the training data) is required when a feature
    has ``min_count`` > 0 and must hold exactly those features; None otherwise."""

    def __init__(self, features: FeaturesConfig, statistics: DenseStatistics, seed: int = 0,
                 name: str = "transformation_model",
                 vocabulary: IdVocabulary | None = None) -> None:
        super().__init__(name=name)
        self.features = features
        self.statistics = statistics
        self.seed = seed
        self.vocabulary = vocabulary
        sources = vocabulary_sources(features)
        if vocabulary is None and sources:
            raise ValueError(f"id vocabulary: feature(s) {sorted(set(sources.values()))} have "
                             "min_count > 0 but no vocabulary was given")
        if vocabulary is not None:
            vocabulary.check(features)
        self._rare_ids = RareIdMap(vocabulary, sources) if sources else None
        missing = sorted({f.name for f in features.dense} - set(statistics.mean))
        if missing:
            raise ValueError(f"statistics: no normalisation statistics for dense feature(s) {missing}")
        self._mean = {f.name: tf.constant(statistics.mean[f.name], tf.float32) for f in features.dense}
        self._use_hash_op = False   # True only while map_fn traces the training pipeline
        self._std = {f.name: tf.constant(statistics.std[f.name], tf.float32) for f in features.dense}
        self._range = {f.name: _range_constants(statistics, f.name, f.size) for f in features.dense}

    def _hash(self, strings: tf.Tensor) -> tf.Tensor:
        if self._use_hash_op:
            return murmur3_hash(strings, seed=self.seed)
        return murmur3_x64_64(strings, seed=self.seed)

    def _dense(self, raw: dict) -> tf.Tensor:
        return tf.concat([standardise(raw[f.name], f, self._mean[f.name], self._std[f.name],
                                      self._range[f.name]) for f in self.features.dense], axis=1)

    def __call__(self, raw: dict) -> dict[str, tf.Tensor]:
        missing = sorted(self.required_fields() - set(raw))
        if missing:
            raise ValueError(f"raw features: missing feature(s) {missing}")
        outputs: dict[str, tf.Tensor] = {}
        strings: dict[str, tf.Tensor] = {}   # output name -> string ids, hashed together below
        for feature in self.features.ids:
            if feature.kind == "id":
                strings[feature.name] = _id_strings(tf.reshape(raw[feature.name], [-1]))
            elif not isinstance(raw[feature.name], tf.RaggedTensor):
                # a dense padded list (serving requests): -1 and "" are "no id" alike
                ids = _id_strings(tf.convert_to_tensor(raw[feature.name]))
                if ids.shape.rank != 2:
                    raise ValueError(f"a list feature must be ragged or rank 2, got shape "
                                     f"{ids.shape}")
                strings[feature.name] = _fixed_width(ids, feature.max_length, "")
            else:
                ids = raw[feature.name]
                if feature.dtype == "int64":
                    ids = ids.with_flat_values(_id_strings(ids.flat_values))
                ids = ids[:, :feature.max_length]
                strings[feature.name] = ids.to_tensor(default_value="",
                                                      shape=[None, feature.max_length])
        history = self.features.history
        if history is not None:
            items, actions = raw[history.item_field], raw[history.action_field]
            if isinstance(items, tf.RaggedTensor) or isinstance(actions, tf.RaggedTensor):
                items = _as_ragged(items, "")
                if not isinstance(actions, tf.RaggedTensor):
                    actions = tf.RaggedTensor.from_tensor(tf.convert_to_tensor(actions),
                                                          lengths=items.row_lengths())
                item_strings = _right_aligned(items, history.max_length, "")
                action_ids = _right_aligned(tf.cast(actions, tf.int64), history.max_length, 0)
            else:
                item_strings, action_ids = _dense_right_aligned(
                    tf.convert_to_tensor(items), tf.convert_to_tensor(actions),
                    history.max_length)
            strings["history_items"] = item_strings
            strings["history_candidate"] = tf.reshape(raw[history.candidate_field], [-1])
            outputs["history_actions"] = action_ids
            outputs["history_mask"] = tf.cast(tf.not_equal(item_strings, ""), tf.float32)
        if self._rare_ids is not None:
            strings = self._rare_ids(strings)
        outputs.update(self._hash_together(strings))
        if self.features.dense:
            outputs["dense"] = self._dense(raw)
        return outputs

    def _hash_together(self, strings: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Every string tensor of ``strings`` hashed in ONE hash call: the flat values are
        concatenated, hashed, split back by size and reshaped. The serving graph thus holds
        one stock-op MurmurHash3 (four block loops, one per length bucket) however many id
        features the model has, instead of one per feature, which kept grappler busy for
        tens of seconds on the first request of a many-feature model (Jobs: 41 id inputs).
        The hashes are those of hashing each tensor on its own."""
        if not strings:
            return {}
        names = list(strings)
        flat = [tf.reshape(strings[name], [-1]) for name in names]
        sizes = tf.stack([tf.size(values) for values in flat])
        strings_of_batch = tf.concat(flat, axis=0)
        if self._use_hash_op:
            batch_hashes = self._hash(strings_of_batch)
        else:
            # the stock-op hash costs per string; a request repeats most of its strings (one
            # member's history and lists on each of its N candidate rows): hash each once
            distinct, index = tf.unique(strings_of_batch, out_idx=tf.int32)
            batch_hashes = tf.gather(self._hash(distinct), index)
        hashes = tf.split(batch_hashes, sizes, num=len(names))
        results = {}
        for name, part in zip(names, hashes):
            hashed = tf.reshape(part, tf.shape(strings[name]))
            hashed.set_shape(strings[name].shape)
            results[name] = hashed
        return results

    def required_fields(self) -> set[str]:
        names = {f.name for f in self.features.ids} | {f.name for f in self.features.dense}
        history = self.features.history
        if history is not None:
            names |= {history.item_field, history.action_field, history.candidate_field}
        return names

    def map_fn(self, use_hash_op: bool = True):
        """For ``Dataset.map``: ``(raw, labels) -> (model inputs, labels)``.

        With ``use_hash_op`` (default) the training pipeline hashes with the C++
        ``LirankMurmur3Hash`` op (several times faster, bit-identical to the stock-op hash the
        serving graph uses; both equal ``mmh3``)."""
        def transform(raw, labels):
            self._use_hash_op = use_hash_op
            try:
                return self(raw), labels
            finally:
                self._use_hash_op = False
        return transform
