"""Per-example choice among towers by the value of an id (the Jobs channel, §A.8)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from lirank_tf.layers.murmur3_tf import murmur3_x64_64


def id_hashes(values: Sequence[str], seed: int = 0) -> list[int]:
    """The int64 MurmurHash3 of each id string, as the transformation model computes it.

    Example:
        >>> import mmh3
        >>> id_hashes(["jymbii"]) == [mmh3.hash64("jymbii", signed=True)[0]]
        True
    """
    return [int(h) for h in murmur3_x64_64(tf.constant(list(values), tf.string), seed=seed).numpy()]


@keras.saving.register_keras_serializable(package="lirank_tf")
class SelectByHash(keras.layers.Layer):
    """Picks, per example, the tower output whose route value matches the example's id hash.

        out_b = towers[c](b) where route_hashes[c] == ids_b, else towers[default_index](b)

    computed as ``sum_c onehot_bc * towers[c]``, so only the chosen tower gets gradient from
    an example. Used by the Jobs model: Job Search and JYMBII examples share the embeddings and
    each goes through its own task-specific DCNv2 tower (LiRank §5.3, §A.8, Fig. 10).

    Args:
        route_hashes: list of int, required. The int64 hash of each tower's id value (see
            `id_hashes`), in the order of the towers.
        default_index: int, default 0. Tower of ids matching no route value.
        **kwargs: base `keras.layers.Layer` arguments.

    Call: ``layer(ids, towers)`` with ids int64 ``[batch]`` and towers a list of tensors of
    one shape ``[batch, ...]``, one per route value.

    Example:
        >>> import numpy as np
        >>> select = SelectByHash(route_hashes=[11, 22])
        >>> towers = [np.full((3, 1), 1.0, "float32"), np.full((3, 1), 2.0, "float32")]
        >>> keras.ops.convert_to_numpy(select(np.array([22, 11, 99]), towers))[:, 0]
        array([2., 1., 1.], dtype=float32)

    References: LiRank §A.8 and Fig. 10 (task-specific towers over shared embeddings).
    """

    def __init__(self, route_hashes: Sequence[int], default_index: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(route_hashes, (str, bytes)) or not isinstance(route_hashes, Sequence) \
                or not route_hashes:
            raise ValueError(f"route_hashes must be a non-empty list of ints, got {route_hashes!r}")
        if any(isinstance(h, bool) or not isinstance(h, int) for h in route_hashes):
            raise ValueError(f"route_hashes must hold ints, got {route_hashes!r}")
        if len(set(route_hashes)) != len(route_hashes):
            raise ValueError(f"route_hashes must be distinct, got {list(route_hashes)!r}")
        if isinstance(default_index, bool) or not isinstance(default_index, int) \
                or not 0 <= default_index < len(route_hashes):
            raise ValueError(f"default_index must be an int in [0, {len(route_hashes)}), "
                             f"got {default_index!r}")
        self.route_hashes = [int(h) for h in route_hashes]
        self.default_index = default_index

    def route_weights(self, ids: Any) -> tf.Tensor:
        """One-hot ``[batch, num_towers]`` float32 of the tower chosen for each id."""
        ids = tf.reshape(tf.cast(ids, tf.int64), [-1, 1])
        matches = tf.equal(ids, tf.constant(self.route_hashes, tf.int64)[None, :])
        unmatched = tf.logical_not(tf.reduce_any(matches, axis=1, keepdims=True))
        default = tf.one_hot(self.default_index, len(self.route_hashes), on_value=True,
                             off_value=False, dtype=tf.bool)[None, :]
        return tf.cast(tf.logical_or(matches, tf.logical_and(unmatched, default)), tf.float32)

    def call(self, ids: Any, towers: list) -> tf.Tensor:
        if len(towers) != len(self.route_hashes):
            raise ValueError(f"towers must hold {len(self.route_hashes)} tensors (one per route "
                             f"value), got {len(towers)}")
        weights = tf.cast(self.route_weights(ids), towers[0].dtype)
        stacked = tf.stack(towers, axis=1)                                   # [B, C, ...]
        weights = tf.reshape(weights, tf.concat(
            [tf.shape(weights), tf.ones([stacked.shape.rank - 2], tf.int32)], axis=0))
        return tf.reduce_sum(stacked * weights, axis=1)

    def compute_output_spec(self, ids: Any, towers: list) -> keras.KerasTensor:
        return keras.KerasTensor(towers[0].shape, dtype=towers[0].dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(route_hashes=self.route_hashes, default_index=self.default_index)
        return config
