"""Label builders (long dwell, LiRank §3.11)."""

from lirank_tf.labels.daily_thresholds import DailyLongDwellThresholds, long_dwell_clusters
from lirank_tf.labels.long_dwell import long_dwell_labels, long_dwell_thresholds

__all__ = ["DailyLongDwellThresholds", "long_dwell_clusters", "long_dwell_labels",
           "long_dwell_thresholds"]
