"""Long-dwell labels (LiRank §3.11): dwell above the p-th percentile of its context cluster.

A cluster is a combination of context values (position bucket, content type, platform). The
thresholds are recomputed from each day's distribution, so the label follows changing consumption
patterns; they are returned so they can be saved beside the data.
"""

from __future__ import annotations

import numpy as np


def long_dwell_thresholds(dwell_seconds: np.ndarray, clusters: np.ndarray,
                          percentile: float = 90.0) -> dict[int, float]:
    """Per-cluster ``percentile`` of dwell time.

    Args:
        dwell_seconds: float array [n], dwell of each impression.
        clusters: int array [n], the context cluster of each impression.
        percentile: float in (0, 100), default 90.

    Returns: {cluster: threshold seconds}, for every cluster present.

    Example:
        >>> long_dwell_thresholds(np.arange(1.0, 11.0), np.zeros(10, int), 50.0)
        {0: 5.5}
    """
    if not 0.0 < percentile < 100.0:
        raise ValueError(f"percentile must be in (0, 100), got {percentile!r}")
    dwell_seconds = np.asarray(dwell_seconds, dtype=np.float64)
    clusters = np.asarray(clusters)
    if dwell_seconds.shape != clusters.shape:
        raise ValueError(f"dwell_seconds {dwell_seconds.shape} and clusters {clusters.shape} "
                         "must have the same shape")
    return {int(c): float(np.percentile(dwell_seconds[clusters == c], percentile))
            for c in np.unique(clusters)}


def long_dwell_labels(dwell_seconds: np.ndarray, clusters: np.ndarray,
                      thresholds: dict[int, float]) -> np.ndarray:
    """1 where dwell is strictly above its cluster's threshold, else 0 (int32 [n])."""
    clusters = np.asarray(clusters)
    missing = sorted(set(np.unique(clusters).tolist()) - set(thresholds))
    if missing:
        raise ValueError(f"thresholds: no threshold for cluster(s) {missing}")
    limit = np.vectorize(thresholds.__getitem__, otypes=[np.float64])(clusters) if len(clusters) else np.zeros(0)
    return (np.asarray(dwell_seconds) > limit).astype(np.int32)
