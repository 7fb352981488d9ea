"""Long-dwell labels on hand-made dwell distributions."""

import numpy as np
import pytest

from lirank_tf.labels import long_dwell_labels, long_dwell_thresholds


def test_thresholds_are_per_cluster_percentiles():
    dwell = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 200, 300, 400, 500], dtype=float)
    clusters = np.array([0] * 10 + [1] * 5)
    thresholds = long_dwell_thresholds(dwell, clusters, percentile=90)
    assert thresholds[0] == pytest.approx(9.1)   # numpy linear interpolation of 1..10
    assert thresholds[1] == pytest.approx(460.0)
    labels = long_dwell_labels(dwell, clusters, thresholds)
    np.testing.assert_array_equal(labels, [0] * 9 + [1] + [0, 0, 0, 0, 1])


def test_same_dwell_is_long_in_one_cluster_and_short_in_another():
    dwell = np.array([10.0, 10.0])
    labels = long_dwell_labels(dwell, np.array([0, 1]), {0: 5.0, 1: 20.0})
    np.testing.assert_array_equal(labels, [1, 0])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="percentile"):
        long_dwell_thresholds([1.0], [0], percentile=100)
    with pytest.raises(ValueError, match="same shape"):
        long_dwell_thresholds([1.0, 2.0], [0], percentile=50)
    with pytest.raises(ValueError, match=r"no threshold for cluster\(s\) \[7\]"):
        long_dwell_labels([1.0], [7], {0: 1.0})
