"""Deprecated home of the middle-max table math and ``QuantizedEmbedding`` (kept for one
release): import from `lirank_tf.layers.quantized`, where every int8 piece of LiRank §3.13 now
lives."""

from __future__ import annotations

import warnings

from lirank_tf.layers.quantized.embedding import QuantizedEmbedding, dequantized_gather
from lirank_tf.layers.quantized.tables import (MiddleMaxQuantizedTable, MinMaxQuantizedTable,
                                               dequantize_table, dequantize_table_min_max,
                                               quantize_table, quantize_table_min_max)

warnings.warn("lirank_tf.layers.quantization is deprecated: import from lirank_tf.layers.quantized",
              DeprecationWarning, stacklevel=2)

__all__ = ["MiddleMaxQuantizedTable", "MinMaxQuantizedTable", "QuantizedEmbedding",
           "dequantize_table", "dequantize_table_min_max", "dequantized_gather", "quantize_table",
           "quantize_table_min_max"]
