"""Per-day long-dwell thresholds (LiRank §3.11): recomputed from each day, saved, reloaded."""

import doctest
import json

import fastavro
import numpy as np
import pytest

import lirank_tf.labels.daily_thresholds as daily_thresholds_module
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.sim.feed import THRESHOLDS_FILE
from lirank_tf.sim.world import CONTENT_TYPES, PLATFORMS
from lirank_tf.labels import DailyLongDwellThresholds, long_dwell_clusters


def test_clusters_bucket_positions_and_combine_context():
    clusters = long_dwell_clusters(np.array([0, 2, 3, 5, 6, 9, 40]), np.array([0, 1, 2, 3, 0, 1, 2]),
                                   np.array([0, 1, 2, 0, 1, 2, 0]))
    assert clusters.tolist() == [0, 11, 122, 130, 201, 312, 320]
    assert long_dwell_clusters([7], [1], [1], position_bucket_size=2, num_position_buckets=10).tolist() == [311]


def test_thresholds_follow_each_days_own_distribution():
    daily = DailyLongDwellThresholds(percentile=80.0)
    clusters = np.array([0] * 5 + [1] * 5)
    monday = np.array([1, 2, 3, 4, 5, 10, 20, 30, 40, 50], dtype=float)
    tuesday = monday * 2.0                                  # people read twice as long
    assert daily.fit_day(0, monday, clusters) == {0: pytest.approx(4.2), 1: pytest.approx(42.0)}
    assert daily.fit_day(1, tuesday, clusters) == {0: pytest.approx(8.4), 1: pytest.approx(84.0)}
    dwell = np.array([5.0, 45.0])
    assert daily.labels(0, dwell, np.array([0, 1])).tolist() == [1, 1]
    assert daily.labels(1, dwell, np.array([0, 1])).tolist() == [0, 0]   # same dwell, longer day


def test_save_and_load_round_trip(tmp_path):
    daily = DailyLongDwellThresholds(percentile=75.0)
    daily.fit_day(3, np.array([1.0, 2.0, 3.0, 4.0]), np.array([120, 120, 5, 5]))
    loaded = DailyLongDwellThresholds.load(daily.save(tmp_path / "thresholds.json"))
    assert loaded.percentile == 75.0 and loaded.days == daily.days
    assert json.loads((tmp_path / "thresholds.json").read_text())["days"]["3"] == {"5": 3.75, "120": 1.75}


def test_docstring_examples_run():
    assert doctest.testmod(daily_thresholds_module).failed == 0


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="percentile"):
        DailyLongDwellThresholds(percentile=0)
    daily = DailyLongDwellThresholds()
    with pytest.raises(ValueError, match="no dwell times"):
        daily.fit_day(0, np.zeros(0), np.zeros(0, int))
    with pytest.raises(KeyError, match="no long-dwell thresholds for day 4"):
        daily.labels(4, np.ones(1), np.zeros(1, int))
    with pytest.raises(ValueError, match="content_type must be < 10"):
        long_dwell_clusters([0], [12], [0])
    with pytest.raises(ValueError, match="position must be >= 0"):
        long_dwell_clusters([-1], [0], [0])
    with pytest.raises(ValueError, match="position_bucket_size"):
        long_dwell_clusters([0], [0], [0], position_bucket_size=0)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="'percentile' and 'days'"):
        DailyLongDwellThresholds.load(tmp_path / "bad.json")


def test_the_simulator_saves_every_days_thresholds_and_they_rebuild_the_labels(tmp_path):
    manifest = simulate_feed(tmp_path, FeedSimulatorConfig(
        num_days=3, impressions_per_day=1500, num_members=300, posts_per_day=150, seed=9))
    daily = DailyLongDwellThresholds.load(tmp_path / THRESHOLDS_FILE)
    assert sorted(daily.days) == [0, 1, 2] and daily.percentile == 90.0
    assert daily.days[0] != daily.days[1]
    for day, path in enumerate(manifest["train"] + manifest["valid"] + manifest["test"]):
        with open(path, "rb") as handle:
            records = list(fastavro.reader(handle))
        clusters = long_dwell_clusters([r["position"] for r in records],
                                       [CONTENT_TYPES.index(r["content_type"]) for r in records],
                                       [PLATFORMS.index(r["platform"]) for r in records])
        dwell = np.array([r["dwell_time_seconds"] for r in records], dtype=np.float64)
        rebuilt = daily.labels(day, dwell, clusters)
        # dwell is stored as an Avro float: allow a flip only within float32 rounding of the limit
        limits = np.array([daily.days[day][int(c)] for c in clusters])
        close = np.abs(dwell - limits) <= 1e-6 * limits
        assert np.array_equal(rebuilt[~close], np.array([r["long_dwell"] for r in records])[~close])
        assert rebuilt.mean() == pytest.approx(0.1, abs=0.02)
