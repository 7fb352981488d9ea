"""Deprecated home of the post-training conversion of a model's tables (kept for one release):
import from `lirank_tf.layers.quantized`, where every int8 piece of LiRank §3.13 now lives."""

from __future__ import annotations

import warnings

from lirank_tf.layers.quantized.model import (QUANTIZE_MODES, check_quantize,
                                              embedding_table_bytes, embedding_tables,
                                              quantize_embedding_tables)
from lirank_tf.serving.export import saved_model_variables_bytes

warnings.warn("lirank_tf.serving.quantize is deprecated: import from lirank_tf.layers.quantized",
              DeprecationWarning, stacklevel=2)

__all__ = ["QUANTIZE_MODES", "check_quantize", "embedding_table_bytes", "embedding_tables",
           "quantize_embedding_tables", "saved_model_variables_bytes"]
