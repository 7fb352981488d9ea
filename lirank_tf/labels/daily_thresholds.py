"""Long-dwell thresholds recomputed every day and saved as JSON (LiRank §3.11).

A context cluster combines the ranking position (bucketed), the content type and the platform;
each day the p-th percentile of that day's dwell times in every cluster becomes the cluster's
long-dwell threshold. `DailyLongDwellThresholds` keeps the thresholds of every day so the labels
can be rebuilt, audited or compared across days, and saves them next to the data::

    {"percentile": 90.0,
     "cluster_encoding": "100 * min(position // 3, 3) + 10 * content_type + platform",
     "days": {"0": {"0": 7.81, "1": 9.02, ...}, "1": {...}}}

(JSON keys are strings; `load` turns them back into ints.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lirank_tf.labels.long_dwell import long_dwell_labels, long_dwell_thresholds

POSITION_BUCKET_SIZE = 3
NUM_POSITION_BUCKETS = 4


def long_dwell_clusters(position: np.ndarray, content_type: np.ndarray, platform: np.ndarray,
                        position_bucket_size: int = POSITION_BUCKET_SIZE,
                        num_position_buckets: int = NUM_POSITION_BUCKETS) -> np.ndarray:
    """Context cluster ids of impressions.

        cluster = 100 * min(position // position_bucket_size, num_position_buckets - 1)
                  + 10 * content_type + platform

    Args:
        position: int array [n], 0-based rank position.
        content_type: int array [n] in [0, 10), index of the content type.
        platform: int array [n] in [0, 10), index of the platform.
        position_bucket_size: int > 0, default 3. Positions per bucket.
        num_position_buckets: int > 0, default 4. The last bucket holds all later positions.

    Returns: int64 array [n].

    Example:
        >>> long_dwell_clusters(np.array([0, 4, 20]), np.array([1, 0, 3]), np.array([2, 1, 0]))
        array([ 12, 101, 330])
    """
    for name, value in (("position_bucket_size", position_bucket_size),
                        ("num_position_buckets", num_position_buckets)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    position, content_type, platform = (np.asarray(a, dtype=np.int64)
                                        for a in (position, content_type, platform))
    for name, values in (("position", position), ("content_type", content_type),
                         ("platform", platform)):
        if values.size and values.min() < 0:
            raise ValueError(f"{name} must be >= 0, got {int(values.min())}")
    for name, values in (("content_type", content_type), ("platform", platform)):
        if values.size and values.max() > 9:
            raise ValueError(f"{name} must be < 10 to fit the cluster encoding, got "
                             f"{int(values.max())}")
    bucket = np.minimum(position // position_bucket_size, num_position_buckets - 1)
    return bucket * 100 + content_type * 10 + platform


class DailyLongDwellThresholds:
    """Long-dwell thresholds of every day: fit from each day's dwell, label, save, load.

    Args:
        percentile: float in (0, 100), default 90. Dwell above this percentile of its cluster
            on the same day is a long dwell.

    Example:
        >>> daily = DailyLongDwellThresholds(percentile=50.0)
        >>> daily.fit_day(0, np.array([1.0, 2.0, 3.0, 10.0]), np.array([0, 0, 1, 1]))
        {0: 1.5, 1: 6.5}
        >>> daily.labels(0, np.array([1.8, 5.0]), np.array([0, 1])).tolist()
        [1, 0]
    """

    def __init__(self, percentile: float = 90.0) -> None:
        if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) \
                or not 0.0 < percentile < 100.0:
            raise ValueError(f"percentile must be in (0, 100), got {percentile!r}")
        self.percentile = float(percentile)
        self.days: dict[int, dict[int, float]] = {}

    def fit_day(self, day: int, dwell_seconds: np.ndarray,
                clusters: np.ndarray) -> dict[int, float]:
        """Computes (and keeps) the thresholds of ``day`` from that day's dwell times."""
        if isinstance(day, bool) or not isinstance(day, (int, np.integer)):
            raise ValueError(f"day must be an int, got {day!r}")
        if len(np.asarray(dwell_seconds)) == 0:
            raise ValueError(f"day {day}: no dwell times to compute thresholds from")
        thresholds = long_dwell_thresholds(dwell_seconds, clusters, self.percentile)
        self.days[int(day)] = thresholds
        return thresholds

    def thresholds(self, day: int) -> dict[int, float]:
        """``{cluster: seconds}`` of ``day``."""
        if int(day) not in self.days:
            raise KeyError(f"no long-dwell thresholds for day {day}; days: {sorted(self.days)}")
        return self.days[int(day)]

    def labels(self, day: int, dwell_seconds: np.ndarray, clusters: np.ndarray) -> np.ndarray:
        """int32 [n]: 1 where dwell is above its cluster's threshold of ``day``."""
        return long_dwell_labels(dwell_seconds, clusters, self.thresholds(day))

    def to_dict(self) -> dict:
        return {
            "percentile": self.percentile,
            "cluster_encoding": (f"100 * min(position // {POSITION_BUCKET_SIZE}, "
                                 f"{NUM_POSITION_BUCKETS - 1}) + 10 * content_type + platform"),
            "days": {str(day): {str(c): t for c, t in sorted(th.items())}
                     for day, th in sorted(self.days.items())},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "DailyLongDwellThresholds":
        if not isinstance(data, dict) or "percentile" not in data or "days" not in data:
            got = sorted(data) if isinstance(data, dict) else data
            raise ValueError("long-dwell thresholds: expected a mapping with 'percentile' and "
                             f"'days', got {got!r}")
        daily = cls(data["percentile"])
        daily.days = {int(day): {int(c): float(t) for c, t in th.items()}
                      for day, th in data["days"].items()}
        return daily

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "DailyLongDwellThresholds":
        return cls.from_dict(json.loads(Path(path).read_text()))
