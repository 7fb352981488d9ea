"""Ranking models assembled from the layers: Feed, Ads CTR and Jobs (and the model registry)."""

from lirank_tf.models.ads import build_ads_model
from lirank_tf.models.dcnv2 import build_dcnv2_model
from lirank_tf.models.feed import build_feed_model
from lirank_tf.models.jobs import build_jobs_model
from lirank_tf.models.registry import build_model, register_model

__all__ = ["build_ads_model", "build_dcnv2_model", "build_feed_model", "build_jobs_model", "build_model",
           "register_model"]
