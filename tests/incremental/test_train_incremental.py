"""Incremental training end to end on simulated Feed days (LiRank §3.6): cold start, then two
incremental days, each warm-started from alpha * w0 + (1 - alpha) * w_{t-1} and saving its Fisher."""

import json

import numpy as np
import pytest

from lirank_tf.config import get_experiment
from lirank_tf.data.synthetic import FeedSimulatorConfig, simulate_feed
from lirank_tf.incremental import (FISHER_FILE, INCREMENTAL_FILE, FisherInformation,
                                   model_weights, train_incremental)
from lirank_tf.training.trainer import train
from lirank_tf.workflow import load_run

SMALL_MODEL = {"hidden_units": [24], "tower_units": [8], "history_encoder": False,
               "interaction": "none", "sparse_moe": False}


def day_config(files, epochs=1):
    return get_experiment("feed", {"data": {"train": files, "reader": "fastavro"},
                                   "model": SMALL_MODEL,
                                   "training": {"epochs": epochs, "batch_size": 128, "verbose": 0}})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    manifest = simulate_feed(root / "data", FeedSimulatorConfig(
        num_days=4, valid_days=0, test_days=1, impressions_per_day=600, num_members=200,
        posts_per_day=80, seed=4))
    days = manifest["train"]
    cold = train(day_config(days[:1]), root / "cold")
    first = train_incremental(day_config(days[1:2]), root / "day1", root / "cold",
                              cold_weight=0.3, forgetting_factor=2.0, fisher_max_examples=64)
    # epochs=0: the saved model is the warm start itself
    second = train_incremental(day_config(days[2:3], epochs=0), root / "day2", root / "day1",
                               cold_weight=0.3, forgetting_factor=2.0, fisher_max_examples=64)
    return root, cold, first, second


def test_each_run_saves_its_fisher_and_metadata(runs):
    root, _, first, second = runs
    assert (root / "cold" / FISHER_FILE).exists()        # H0, computed on first use
    for run, result in (("day1", first), ("day2", second)):
        fisher = FisherInformation.load(root / run / FISHER_FILE)
        assert fisher.num_examples == 64
        assert any("quotient_table" in path for path in fisher.sparse)
        metadata = json.loads((root / run / INCREMENTAL_FILE).read_text())
        assert metadata["cold_start_run"] == str((root / "cold").resolve())
        assert metadata["cold_weight"] == 0.3 and metadata["forgetting_factor"] == 2.0
        assert metadata["train_seconds"] >= 0 and result.metadata == metadata
    assert json.loads((root / "day2" / INCREMENTAL_FILE).read_text())["previous_run"] == \
        str((root / "day1").resolve())


def test_the_first_incremental_day_starts_at_the_cold_start_and_moves_away_under_the_penalty(runs):
    _, _, first, _ = runs
    assert first.metadata["initial_penalty"] == 0.0           # w_{t-1} = w0 = the start
    assert first.metadata["final_penalty"] > 0.0
    assert np.isfinite(first.history["loss"][0])


def test_warm_start_is_the_cold_weight_mix_of_cold_start_and_previous_model(runs):
    root, _, _, second = runs
    cold = model_weights(load_run(root / "cold")[2])
    previous = model_weights(load_run(root / "day1")[2])
    saved = model_weights(load_run(root / "day2")[2])
    moved = 0
    for path, value in saved.items():
        if np.issubdtype(value.dtype, np.floating):
            np.testing.assert_allclose(value, 0.3 * cold[path] + 0.7 * previous[path],
                                       rtol=1e-5, atol=1e-7, err_msg=path)
            moved += not np.allclose(cold[path], previous[path])
    assert moved > 0


def test_statistics_are_kept_from_the_previous_run(runs):
    root, _, _, _ = runs
    for run in ("day1", "day2"):
        assert (root / run / "transform_statistics.json").read_text() == \
            (root / "cold" / "transform_statistics.json").read_text()


def test_a_different_architecture_is_rejected(runs, tmp_path):
    root, _, _, _ = runs
    config = day_config(load_run(root / "day1")[0].data.train)
    config = config.replace(model=config.model.replace(hidden_units=[8]))
    with pytest.raises(ValueError, match="config.model differs from the previous run's"):
        train_incremental(config, tmp_path / "bad", root / "day1")
    with pytest.raises(ValueError, match="cold_weight"):
        train_incremental(config, tmp_path / "bad", root / "day1", cold_weight=2.0)
