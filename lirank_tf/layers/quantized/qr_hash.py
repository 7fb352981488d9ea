"""QR hash embeddings served from middle-max int8 tables (post-training quantization)."""

from __future__ import annotations

import keras
import tensorflow as tf

from lirank_tf.layers.qr_hash import QRHashEmbedding, qr_hash_indices
from lirank_tf.layers.quantized.embedding import dequantized_gather
from lirank_tf.layers.quantized.tables import ROW_PARAMS_DTYPES, quantize_rows


def is_float_table(layer) -> bool:
    """Whether ``layer`` is a built ``QRHashEmbedding`` holding float (trainable) tables."""
    return isinstance(layer, QRHashEmbedding) and layer.built \
        and not isinstance(layer, QuantizedQRHashEmbedding)


@keras.saving.register_keras_serializable(package="lirank_tf")
class QuantizedQRHashEmbedding(QRHashEmbedding):
    """``QRHashEmbedding`` whose quotient and remainder tables are middle-max int8.

    Same hashing, QR indices, aggregation, padding, pooling and outputs as
    ``QRHashEmbedding`` (same constructor arguments and config); every table ``T`` is
    stored as int8 ``values`` with per-row float32 ``middle`` and ``scale`` and each
    looked-up row is dequantised with stock ops::

        T[i] ~= middle[i] + float(values[i, :]) * scale[i]      (see quantize_table)

    The weights are not trainable: build the layer from a trained one with
    ``from_layer`` (or fill a built one with ``set_tables_from``). Each element of a
    looked-up row is off by at most ``scale / 2`` per table, so a sum over the 4 tables
    by at most the sum of the 4 rows' ``scale / 2``.

    Args:
        Those of ``QRHashEmbedding`` (``embeddings_initializer`` is unused).

    Example:
        >>> float_layer = QRHashEmbedding(4, num_quotient_buckets=100, num_remainder_buckets=10)
        >>> ids = tf.constant(["member:1", "member:2"])
        >>> expected = float_layer(ids)  # builds the float tables (uniform in +-0.05)
        >>> quantized = QuantizedQRHashEmbedding.from_layer(float_layer)
        >>> bool(tf.reduce_max(tf.abs(quantized(ids) - expected)) <= 4 * 0.1 / 255 / 2)
        True

    References: LiRank §3.12 and §A.7 (QR tables), §3.13 (middle-max int8 quantization,
    served with native TF operations).
    """

    row_params_dtype = "float32"   # the dtype of each row's middle and scale

    def build(self, input_shape=None) -> None:
        halves = ("low", "high") if self.use_both_halves else ("low",)
        rows = {"quotient": self.num_quotient_buckets, "remainder": self.num_remainder_buckets}
        self.table_names = [f"{kind}_table_{half}" for half in halves
                            for kind in ("quotient", "remainder")]
        self.table_values, self.table_middles, self.table_scales = [], [], []
        for name in self.table_names:
            count = rows[name.split("_")[0]]
            self.table_values.append(self.add_weight(
                name=f"{name}_values", shape=(count, self.embedding_dim), dtype="int8",
                initializer="zeros", trainable=False))
            for store, part in ((self.table_middles, "middle"), (self.table_scales, "scale")):
                store.append(self.add_weight(
                    name=f"{name}_{part}", shape=(count,), dtype=self.row_params_dtype,
                    initializer="zeros", trainable=False))

    def embed_hashes(self, hashes: tf.Tensor) -> tf.Tensor:
        quotient_indices, remainder_indices = qr_hash_indices(
            hashes, self.num_quotient_buckets, self.num_remainder_buckets)
        embeddings = None
        for table, name in enumerate(self.table_names):
            half = table // 2
            indices = (quotient_indices if name.startswith("quotient")
                       else remainder_indices)[..., half]
            vector = dequantized_gather(self.table_values[table], self.table_middles[table],
                                        self.table_scales[table], indices, self.compute_dtype)
            if embeddings is None:
                embeddings = vector
            elif self.aggregation == "sum":
                embeddings = embeddings + vector
            else:
                embeddings = embeddings * vector
        return embeddings

    def set_tables_from(self, layer: QRHashEmbedding) -> None:
        """Quantizes the float tables of a built ``QRHashEmbedding`` of the same config."""
        if not is_float_table(layer):
            raise ValueError(f"layer must be a built, float QRHashEmbedding, got {layer!r}")
        if not self.built:
            self.build()
        tables = {weight.path.split("/")[-1]: weight for weight in layer.weights}
        if sorted(tables) != sorted(self.table_names):
            raise ValueError(f"layer has tables {sorted(tables)}, expected "
                             f"{sorted(self.table_names)} (different use_both_halves?)")
        for table, name in enumerate(self.table_names):
            values, middle, scale = quantize_rows(keras.ops.convert_to_numpy(tables[name]),
                                                  self.row_params_dtype)
            if values.shape != tuple(self.table_values[table].shape):
                raise ValueError(f"table {name} has shape {values.shape}, expected "
                                 f"{tuple(self.table_values[table].shape)}")
            self.table_values[table].assign(values)
            self.table_middles[table].assign(middle)
            self.table_scales[table].assign(scale)

    @classmethod
    def from_layer(cls, layer: QRHashEmbedding, **config) -> "QuantizedQRHashEmbedding":
        """The quantized twin of a built float ``QRHashEmbedding`` (same name and config,
        updated by ``config``)."""
        if not is_float_table(layer):
            raise ValueError(f"layer must be a built, float QRHashEmbedding, got {layer!r}")
        quantized = cls.from_config({**layer.get_config(), **config})
        quantized.set_tables_from(layer)
        return quantized


@keras.saving.register_keras_serializable(package="lirank_tf")
class Int8QRHashEmbedding(QuantizedQRHashEmbedding):
    """``QuantizedQRHashEmbedding`` with a choice of dtype for the per-row middle and scale:
    the tables of the ``--quantize int8`` export.

    Same hashing, QR indices, aggregation, padding, outputs and dequantisation with stock
    ops (``GatherV2``, ``Cast``, ``Mul``, ``AddV2``) as ``QuantizedQRHashEmbedding``; every
    table ``T`` is stored as int8 ``values`` and per-row ``middle`` / ``scale`` of
    ``row_params_dtype`` (see ``quantize_rows``)::

        T[i] ~= float32(middle[i]) + float32(values[i, :]) * float32(scale[i])

    Build it from a trained float layer with ``from_layer``.

    Args:
        row_params_dtype: "float16" (default: 4 bytes per row instead of 8) or "float32".
        Others: those of ``QRHashEmbedding`` (``embeddings_initializer`` is unused).

    Example:
        >>> import tensorflow as tf
        >>> from lirank_tf.layers.qr_hash import QRHashEmbedding
        >>> float_layer = QRHashEmbedding(30, num_quotient_buckets=100, num_remainder_buckets=10)
        >>> ids = tf.constant(["member:1", "member:2"])
        >>> expected = float_layer(ids)  # builds the float tables (uniform in +-0.05)
        >>> quantized = Int8QRHashEmbedding.from_layer(float_layer)
        >>> bool(tf.reduce_max(tf.abs(quantized(ids) - expected)) < 4 * 0.1 / 255)
        True

    References: LiRank §3.12 (QR tables), §3.13 (middle-max int8 quantization, served with
    native TF operations).
    """

    def __init__(self, *args, row_params_dtype: str = "float16", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if row_params_dtype not in ROW_PARAMS_DTYPES:
            raise ValueError(f"row_params_dtype must be one of {ROW_PARAMS_DTYPES}, got "
                             f"{row_params_dtype!r}")
        self.row_params_dtype = row_params_dtype

    @classmethod
    def from_layer(cls, layer: QRHashEmbedding,
                   row_params_dtype: str = "float16") -> "Int8QRHashEmbedding":
        """The int8 twin of a built float ``QRHashEmbedding`` (same name and config)."""
        return super().from_layer(layer, row_params_dtype=row_params_dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(row_params_dtype=self.row_params_dtype)
        return config
