"""Post-training int8 quantization of a ranking model's embedding tables, for export (§3.13)."""

from __future__ import annotations

import keras
import numpy as np

from lirank_tf.layers.qr_hash import QRHashEmbedding
from lirank_tf.layers.quantized.qr_hash import Int8QRHashEmbedding, QuantizedQRHashEmbedding

QUANTIZE_MODES = ("none", "int8")


def check_quantize(quantize: str) -> str:
    """Returns ``quantize`` if it is a known mode, else raises ValueError naming it."""
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"quantize must be one of {QUANTIZE_MODES}, got {quantize!r}")
    return quantize


def embedding_tables(model: keras.Model) -> list[QRHashEmbedding]:
    """The QR hash embedding layers (float or quantized) at the top level of ``model``."""
    return [layer for layer in model.layers if isinstance(layer, QRHashEmbedding)]


def quantize_embedding_tables(model: keras.Model,
                              row_params_dtype: str = "float16") -> keras.Model:
    """A copy of ``model`` whose float QR hash tables are middle-max int8 tables.

    Every top-level float ``QRHashEmbedding`` (where the ranking models keep their tables)
    becomes an ``Int8QRHashEmbedding`` holding its quantized rows; every other layer is
    shared with ``model`` (same weights, nothing copied). The copy is for inference: its
    tables are not trainable.

    Args:
        model: a built functional Keras ranking model.
        row_params_dtype: "float16" (default) or "float32", the dtype of each row's middle
            and scale.

    Raises:
        ValueError: ``model`` has no float QR hash table.
    """
    tables = [t for t in embedding_tables(model) if not isinstance(t, QuantizedQRHashEmbedding)]
    if not tables:
        raise ValueError(f"model {model.name!r} has no float QRHashEmbedding table to quantize")

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, QRHashEmbedding) and not isinstance(layer, QuantizedQRHashEmbedding):
            return Int8QRHashEmbedding.from_layer(layer, row_params_dtype)
        return layer

    return keras.models.clone_model(model, clone_function=clone)


def embedding_table_bytes(model: keras.Model) -> int:
    """Bytes of the weights of ``model``'s QR hash tables (values, and middle / scale if
    quantized)."""
    return sum(int(np.prod(weight.shape)) * np.dtype(weight.dtype).itemsize
               for table in embedding_tables(model) for weight in table.weights)
