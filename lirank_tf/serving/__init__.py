"""Serving export: the transformation model stitched in front of the ranker (LiRank §4.3)."""

from lirank_tf.serving.export import ServingModule, export_serving_model, raw_signature

__all__ = ["ServingModule", "export_serving_model", "raw_signature"]
