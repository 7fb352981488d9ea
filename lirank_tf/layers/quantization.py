"""Post-training row-wise 8-bit embedding quantization: middle-max (and the min-max baseline).

Middle-max (LiRank §3.13) stores, for every row ``i`` of a table ``X``, signed integers
``X_int`` in ``[-2**(bits-1), 2**(bits-1) - 1]`` plus a float ``middle`` and ``scale``::

    levels  = 2**bits - 1                                   # 255 for 8 bits
    scale_i  = (max_i - min_i) / levels
    middle_i = (max_i * 2**(bits-1) + min_i * (2**(bits-1) - 1)) / levels
    X_int    = round((X_i - middle_i) / scale_i)            # in [-128, 127]
    X_deq    = middle_i + X_int * scale_i

so ``min_i`` maps to -128 and ``max_i`` to 127 exactly (``middle_i = min_i + 128 * scale_i``).

Note on the paper's text: it prints both denominators as ``2**(bits-1)`` (128). Taken
literally that is not translation-invariant (``middle = max + min * 127/128``) and
contradicts the paper's own claim that ``X_int`` falls within [-128, 127]: a row spanning
[9, 11] would give ``X_int`` down to -698, and a row spanning [-1, 1] uses only
[-65, 64] (7 bits). We keep the paper's numerator and use ``2**bits - 1`` as the
denominator, the unique choice that maps [min, max] onto the full int8 range; the tests
check both the literal formula's overflow and this module's range.

Rows with ``max == min`` get ``scale = 0``, ``X_int = 0`` and ``middle = min``
(dequantised exactly). Rounding is half-to-even (``np.rint``), as ``tf.round`` does.

Middle-max and min-max (``q = round((X - min) / scale)`` in [0, 255], stored as uint8) put
the same 256 points on [min, max], so ``X_int = q - 128`` and their rounding errors are
equal, except for values within float32 rounding of a midpoint between two levels (one
level apart; about 4 entries per million of a N(0, 1) table, see
benchmarks/quantization_error.py).
They differ in representation: the signed range makes ``int8 -> int32 -> int8`` casts
lossless (no two's-complement wrap of values in [128, 255]), and values near the row's
middle are reconstructed from a small ``X_int * scale`` term.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.layers.validation import check_positive_int


class MiddleMaxQuantizedTable(NamedTuple):
    """Row-wise middle-max quantized table: ``values`` int8 [rows, dim], float32 [rows]."""

    values: np.ndarray
    middle: np.ndarray
    scale: np.ndarray


class MinMaxQuantizedTable(NamedTuple):
    """Row-wise min-max quantized table: ``values`` uint8 [rows, dim], float32 [rows]."""

    values: np.ndarray
    minimum: np.ndarray
    scale: np.ndarray


def _check_table(table: np.ndarray) -> np.ndarray:
    table = np.asarray(table)
    if table.ndim != 2 or not np.issubdtype(table.dtype, np.floating):
        raise ValueError(f"table must be a 2-D float array, got dtype {table.dtype} and shape "
                         f"{table.shape}")
    if not np.all(np.isfinite(table)):
        raise ValueError("table must contain only finite values, got NaN or inf")
    return table.astype(np.float64)


def _check_bits(bits: int) -> int:
    check_positive_int("bits", bits)
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be in [2, 8] (values are stored as int8), got {bits!r}")
    return bits


def quantize_table(table: np.ndarray, bits: int = 8) -> MiddleMaxQuantizedTable:
    """Middle-max row-wise quantization of an embedding table (see the module docstring).

    Args:
        table: float array [rows, dim], finite.
        bits: int in [2, 8], default 8; integers lie in [-2**(bits-1), 2**(bits-1) - 1].

    Returns:
        ``(values, middle, scale)``: int8 [rows, dim], float32 [rows], float32 [rows].

    Example:
        >>> values, middle, scale = quantize_table(np.array([[-1.0, 0.5, 1.0]]))
        >>> values.tolist(), bool(scale[0] == np.float32(2 / 255))
        ([[-128, 63, 127]], True)

    References: LiRank §3.13 (middle-max row-wise embedding-table quantization).
    """
    table = _check_table(table)
    _check_bits(bits)
    half = 2 ** (bits - 1)
    levels = 2**bits - 1
    row_min = table.min(axis=1) if table.shape[1] else np.zeros(table.shape[0])
    row_max = table.max(axis=1) if table.shape[1] else np.zeros(table.shape[0])
    scale = ((row_max - row_min) / levels).astype(np.float32)
    middle = ((row_max * half + row_min * (half - 1)) / levels).astype(np.float32)
    middle = np.where(scale == 0, row_min.astype(np.float32), middle)
    # Integers from the stored float32 middle/scale, so the bound |X - X_deq| <= scale/2
    # holds for what is actually served.
    safe_scale = np.where(scale == 0, 1.0, scale.astype(np.float64))
    ints = np.rint((table - middle[:, None].astype(np.float64)) / safe_scale[:, None])
    values = np.clip(ints, -half, half - 1).astype(np.int8)
    return MiddleMaxQuantizedTable(values, middle, scale)


def dequantize_table(values: np.ndarray, middle: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``middle[:, None] + values * scale[:, None]`` as float32 (inverse of quantize_table)."""
    return (np.asarray(middle, np.float32)[:, None]
            + np.asarray(values).astype(np.float32) * np.asarray(scale, np.float32)[:, None])


def quantize_table_min_max(table: np.ndarray, bits: int = 8) -> MinMaxQuantizedTable:
    """Min-max row-wise quantization (the baseline of LiRank §3.13, Guan et al. 2019).

    ``scale = (max - min) / (2**bits - 1)``, ``q = round((X - min) / scale)`` in
    [0, 2**bits - 1] stored as uint8, ``X_deq = min + q * scale``.

    Args:
        table: float array [rows, dim], finite.
        bits: int in [2, 8], default 8.

    Returns:
        ``(values, minimum, scale)``: uint8 [rows, dim], float32 [rows], float32 [rows].

    Example:
        >>> quantize_table_min_max(np.array([[-1.0, 0.5, 1.0]])).values.tolist()
        [[0, 191, 255]]
    """
    table = _check_table(table)
    _check_bits(bits)
    levels = 2**bits - 1
    row_min = table.min(axis=1) if table.shape[1] else np.zeros(table.shape[0])
    row_max = table.max(axis=1) if table.shape[1] else np.zeros(table.shape[0])
    scale = ((row_max - row_min) / levels).astype(np.float32)
    minimum = row_min.astype(np.float32)
    safe_scale = np.where(scale == 0, 1.0, scale.astype(np.float64))
    ints = np.rint((table - minimum[:, None].astype(np.float64)) / safe_scale[:, None])
    return MinMaxQuantizedTable(np.clip(ints, 0, levels).astype(np.uint8), minimum, scale)


def dequantize_table_min_max(values: np.ndarray, minimum: np.ndarray,
                             scale: np.ndarray) -> np.ndarray:
    """``minimum[:, None] + values * scale[:, None]`` as float32."""
    return (np.asarray(minimum, np.float32)[:, None]
            + np.asarray(values).astype(np.float32) * np.asarray(scale, np.float32)[:, None])


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
