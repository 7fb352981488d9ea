"""Ranking models assembled from the layers: Feed (and the registry of model builders)."""

from lirank_tf.models.feed import build_feed_model
from lirank_tf.models.registry import build_model, register_model

__all__ = ["build_feed_model", "build_model", "register_model"]
