"""The transformation model (LiRank §4.3): last-mile feature transforms outside the ranker."""

from lirank_tf.transform.normalization import DenseStatistics, fit_dense_statistics
from lirank_tf.transform.transformation import TransformationModel
from lirank_tf.transform.vocabulary import RARE_ID, IdVocabulary, count_vocabulary

__all__ = ["RARE_ID", "DenseStatistics", "IdVocabulary", "TransformationModel",
           "count_vocabulary", "fit_dense_statistics"]
