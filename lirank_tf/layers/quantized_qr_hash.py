"""Deprecated home of ``QuantizedQRHashEmbedding`` (kept for one release): import from
`lirank_tf.layers.quantized`, where every int8 piece of LiRank §3.13 now lives."""

from __future__ import annotations

import warnings

from lirank_tf.layers.quantized.qr_hash import QuantizedQRHashEmbedding

warnings.warn("lirank_tf.layers.quantized_qr_hash is deprecated: import from lirank_tf.layers.quantized",
              DeprecationWarning, stacklevel=2)

__all__ = ["QuantizedQRHashEmbedding"]
