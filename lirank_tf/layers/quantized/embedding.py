"""Embedding lookups from middle-max int8 tables, dequantised with stock TF ops (LiRank §3.13)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.layers.quantized.tables import quantize_table
from lirank_tf.layers.validation import check_positive_int


def dequantized_gather(values, middle, scale, ids: tf.Tensor, dtype="float32") -> tf.Tensor:
    """Rows ``ids`` of a middle-max table, dequantised: ``middle + float(values) * scale``.

    Stock ops only (``GatherV2``, ``Cast``, ``Mul``, ``AddV2``); returns ``ids.shape + [dim]``.
    """
    rows = tf.cast(tf.gather(values, ids), dtype)
    row_scale = tf.cast(tf.gather(scale, ids), dtype)
    row_middle = tf.cast(tf.gather(middle, ids), dtype)
    return row_middle[..., None] + rows * row_scale[..., None]


@keras.saving.register_keras_serializable(package="lirank_tf")
class QuantizedEmbedding(keras.layers.Layer):
    """Embedding lookup from a middle-max int8 table, dequantised with stock TF ops.

    ``e(id) = middle[id] + float(values[id, :]) * scale[id]`` where ``values`` (int8),
    ``middle`` and ``scale`` (float32) come from ``quantize_table``. The weights are not
    trainable: quantization is post-training; fill them with ``set_table`` or build the
    layer with ``from_table`` / ``from_embedding``. The serving graph uses only
    ``GatherV2``, ``Cast``, ``Mul`` and ``AddV2``.

    Args:
        input_dim: int, number of rows.
        output_dim: int, embedding width.

    Example:
        >>> table = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(3, 4)
        >>> layer = QuantizedEmbedding.from_table(table)
        >>> bool(np.allclose(layer(np.array([2, 0])), table[[2, 0]], atol=2 / 255))
        True

    References: LiRank §3.13 (8-bit middle-max row-wise quantization, served with native
    TF operations).
    """

    def __init__(self, input_dim: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = check_positive_int("input_dim", input_dim)
        self.output_dim = check_positive_int("output_dim", output_dim)

    def build(self, input_shape=None) -> None:
        self.quantized_values = self.add_weight(
            name="quantized_values", shape=(self.input_dim, self.output_dim), dtype="int8",
            initializer="zeros", trainable=False)
        self.middle = self.add_weight(name="middle", shape=(self.input_dim,),
                                      initializer="zeros", trainable=False)
        self.scale = self.add_weight(name="scale", shape=(self.input_dim,),
                                     initializer="zeros", trainable=False)

    def set_table(self, table: np.ndarray) -> None:
        """Quantizes a float table [input_dim, output_dim] into this layer's weights."""
        table = np.asarray(table)
        if table.shape != (self.input_dim, self.output_dim):
            raise ValueError(f"table must have shape {(self.input_dim, self.output_dim)}, got "
                             f"{table.shape}")
        if not self.built:
            self.build()
        quantized = quantize_table(table)
        self.quantized_values.assign(quantized.values)
        self.middle.assign(quantized.middle)
        self.scale.assign(quantized.scale)

    @classmethod
    def from_table(cls, table: np.ndarray, **kwargs) -> "QuantizedEmbedding":
        """A built layer holding the middle-max quantization of ``table``."""
        table = np.asarray(table)
        if table.ndim != 2:
            raise ValueError(f"table must be 2-D, got shape {table.shape}")
        layer = cls(input_dim=table.shape[0], output_dim=table.shape[1], **kwargs)
        layer.set_table(table)
        return layer

    @classmethod
    def from_embedding(cls, embedding: keras.layers.Embedding, **kwargs) -> "QuantizedEmbedding":
        """Post-training quantization of a built ``keras.layers.Embedding``."""
        if not isinstance(embedding, keras.layers.Embedding) or not embedding.built:
            raise ValueError(f"embedding must be a built keras.layers.Embedding, got {embedding!r}")
        return cls.from_table(keras.ops.convert_to_numpy(embedding.embeddings), **kwargs)

    def call(self, ids):
        return dequantized_gather(self.quantized_values, self.middle, self.scale,
                                  tf.convert_to_tensor(ids), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"input_dim": self.input_dim, "output_dim": self.output_dim})
        return config
