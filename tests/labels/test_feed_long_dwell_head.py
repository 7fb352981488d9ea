"""The Feed model's long-dwell head trains on the per-day, per-cluster long-dwell label
(LiRank §3.11): the labels it is fed are those rebuilt from the saved daily thresholds, and
after a short training it ranks long dwells above chance."""

import fastavro
import numpy as np

from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.sim.feed import THRESHOLDS_FILE
from lirank_tf.sim.world import CONTENT_TYPES, PLATFORMS
from lirank_tf.evaluation.evaluate import evaluate
from lirank_tf.labels import DailyLongDwellThresholds, long_dwell_clusters
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.training.trainer import train


def test_feed_long_dwell_head_trains_on_the_daily_threshold_labels(tmp_path):
    manifest = simulate_feed(tmp_path / "data", FeedSimulatorConfig(
        num_days=4, valid_days=0, test_days=1, impressions_per_day=3000, num_members=400,
        posts_per_day=200, seed=31))
    feed = get_experiment("feed")
    assert [(t.name, t.label) for t in feed.tasks if t.name == "long_dwell"] == \
        [("long_dwell", "long_dwell")]
    config = get_experiment("feed", {
        "data": {"train": manifest["train"], "reader": "fastavro"},
        "model": {"hidden_units": [32], "tower_units": [16], "history_encoder": False,
                  "interaction": "none", "sparse_moe": False},
        "tasks": [{"name": "long_dwell", "label": "long_dwell", "group": "click"},
                  {"name": "click", "label": "click", "group": "click"}],
        "training": {"epochs": 3, "batch_size": 128, "verbose": 0, "seed": 2,
                     "learning_rate": 3e-3}})
    result = train(config, tmp_path / "run")

    # what the head is fed, day by day, is the label rebuilt from that day's saved thresholds
    daily = DailyLongDwellThresholds.load(tmp_path / "data" / THRESHOLDS_FILE)
    for day, path in enumerate(manifest["train"]):
        with open(path, "rb") as handle:
            records = list(fastavro.reader(handle))
        clusters = long_dwell_clusters([r["position"] for r in records],
                                       [CONTENT_TYPES.index(r["content_type"]) for r in records],
                                       [PLATFORMS.index(r["platform"]) for r in records])
        dwell = np.array([r["dwell_time_seconds"] for r in records], np.float64)
        limits = np.array([daily.days[day][int(c)] for c in clusters])
        clear = np.abs(dwell - limits) > 1e-6 * limits      # away from float32 rounding
        fed = np.concatenate([np.asarray(labels["long_dwell"]).reshape(-1) for _, labels in
                              training_dataset(config, [path], result.transform, shuffle=False)])
        np.testing.assert_array_equal(fed[clear], daily.labels(day, dwell, clusters)[clear])

    metrics = evaluate(result.model, result.transform, config, manifest["test"])
    row = metrics["long_dwell"]
    assert 0.55 < row["auc"] < row["oracle_auc"], row
    assert abs(row["positive_rate"] - 0.1) < 0.02
