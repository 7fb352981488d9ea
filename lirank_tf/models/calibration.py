"""Output block of every ranking model: per-head isotonic calibration (§3.4), Platt scaling
(fitted after training, `lirank_tf.training.platt`), then sigmoid.

The isotonic layer's embedding e comes from categorical calibration features (the paper
names device and channel). Ids arrive as int64 MurmurHash3 values from the transformation
model; ``HashBuckets`` folds them into ``calibration_buckets`` rows per feature.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from lirank_tf.config import ConfigError, FeaturesConfig, ModelConfig
from lirank_tf.layers.isotonic import IsotonicCalibration
from lirank_tf.layers.platt import PlattScaling
from lirank_tf.models.options import block_options


@keras.saving.register_keras_serializable(package="lirank_tf")
class HashBuckets(keras.layers.Layer):
    """Stacks F int64 id hashes ``[batch]`` into bucket ids ``[batch, F]`` in [0, num_buckets).

        bucket_f = floormod(hash_f, num_buckets)

    Args:
        num_buckets: int > 0, required. Rows per feature of the consumer's tables.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> layer = HashBuckets(num_buckets=10)
        >>> keras.ops.convert_to_numpy(layer([np.array([23, -3]), np.array([7, 40])]))
        array([[3, 7],
               [7, 0]])

    References: LiRank §3.4 (calibration features), §3.12 (hashed ids).
    """

    def __init__(self, num_buckets: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(num_buckets, bool) or not isinstance(num_buckets, int) or num_buckets < 1:
            raise ValueError(f"num_buckets must be a positive int, got {num_buckets!r}")
        self.num_buckets = num_buckets

    def call(self, hashes: list) -> tf.Tensor:
        columns = [tf.reshape(tf.cast(h, tf.int64), [-1]) for h in hashes]
        return tf.math.floormod(tf.stack(columns, axis=1), tf.constant(self.num_buckets, tf.int64))

    def compute_output_shape(self, hashes_shape: list) -> tuple:
        return (hashes_shape[0][0], len(hashes_shape))

    def compute_output_spec(self, hashes: list) -> keras.KerasTensor:
        return keras.KerasTensor((hashes[0].shape[0], len(hashes)), dtype="int64")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(num_buckets=self.num_buckets)
        return config


def calibration_ids(inputs: dict, features: FeaturesConfig,
                    model: ModelConfig) -> keras.KerasTensor | None:
    """Bucket ids ``[batch, F]`` of ``model.calibration_features``, or None without any."""
    if not model.calibration_features:
        return None
    single_ids = {f.name for f in features.ids if f.kind == "id"}
    for name in model.calibration_features:
        if name not in single_ids:
            raise ConfigError(f"model.calibration_features: {name!r} is not a single-id feature; "
                              f"choices: {sorted(single_ids)}")
    return HashBuckets(model.calibration_buckets, name="calibration_buckets")(
        [inputs[name] for name in model.calibration_features])


def output_probabilities(logits: dict, model: ModelConfig,
                         ids: keras.KerasTensor | None = None) -> dict:
    """``{task: probability [batch, 1]}``: sigmoid of each logit, isotonic-calibrated first
    when ``model.isotonic_calibration`` (with ``ids`` from ``calibration_ids`` if any), then
    Platt-scaled when ``model.platt_scaling`` (layer ``<task>_platt``, `platt_layer_name`)."""
    outputs = {}
    for name, logit in logits.items():
        if model.isotonic_calibration:
            vocab = [model.calibration_buckets] * len(model.calibration_features) or None
            layer = IsotonicCalibration(**block_options(model, "isotonic"),
                                        calibration_vocab_sizes=vocab, name=f"{name}_calibration")
            logit = layer(logit, ids) if vocab else layer(logit)
        if model.platt_scaling:
            logit = PlattScaling(name=platt_layer_name(name))(logit)
        outputs[name] = keras.layers.Activation("sigmoid", name=name)(logit)
    return outputs


def platt_layer_name(task: str) -> str:
    """The name of task ``task``'s `PlattScaling` layer."""
    return f"{task}_platt"
