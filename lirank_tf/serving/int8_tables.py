"""Deprecated home of ``Int8QRHashEmbedding`` and ``quantize_rows`` (kept for one release):
import from `lirank_tf.layers.quantized`, where every int8 piece of LiRank §3.13 now lives."""

from __future__ import annotations

import warnings

from lirank_tf.layers.quantized.qr_hash import Int8QRHashEmbedding
from lirank_tf.layers.quantized.tables import ROW_PARAMS_DTYPES, quantize_rows

warnings.warn("lirank_tf.serving.int8_tables is deprecated: import from lirank_tf.layers.quantized",
              DeprecationWarning, stacklevel=2)

__all__ = ["Int8QRHashEmbedding", "ROW_PARAMS_DTYPES", "quantize_rows"]
