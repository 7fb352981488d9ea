"""Serving export: the transformation model stitched in front of the ranker (LiRank §4.3),
optionally with int8 embedding tables (§3.13) and amortized history scoring."""

from lirank_tf.layers.quantized import quantize_embedding_tables
from lirank_tf.serving.amortized import with_amortized_history
from lirank_tf.serving.export import ServingModule, export_serving_model, raw_signature
from lirank_tf.serving.warmup import load_export, write_warmup_requests

__all__ = ["ServingModule", "export_serving_model", "load_export", "quantize_embedding_tables",
           "raw_signature", "with_amortized_history", "write_warmup_requests"]
