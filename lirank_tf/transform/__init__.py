"""The transformation model (LiRank §4.3): last-mile feature transforms outside the ranker."""

from lirank_tf.transform.normalization import DenseStatistics, fit_dense_statistics
from lirank_tf.transform.transformation import TransformationModel

__all__ = ["DenseStatistics", "TransformationModel", "fit_dense_statistics"]
