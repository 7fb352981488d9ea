"""Incremental training end to end on simulated Feed days (LiRank §3.6): warm start from
alpha * w0 + (1 - alpha) * w_{t-1}, the Fisher regulariser in the loss, each run's Fisher saved."""

import json
import shutil

import numpy as np
import pytest

from lirank_tf.config import get_experiment
from lirank_tf.incremental import FISHER_FILE, INCREMENTAL_FILE, FisherInformation, model_weights
from lirank_tf.incremental import compute_run_fisher, train_incremental
from lirank_tf.incremental.train import _cold_start_of
from lirank_tf.training.trainer import train
from lirank_tf.workflow import load_run
from explore_small_feed import simulated_days
from penalty_reference import initial_penalty

SMALL_MODEL = {"hidden_units": [24], "tower_units": [8], "history_encoder": False,
               "interaction": "none", "sparse_moe": False}
TWO_TASKS = [{"name": "click", "label": "click", "group": "click"},
             {"name": "like", "label": "like", "group": "contribution"}]
ALPHA, LAMBDA = 0.3, 2.0


def day_config(files, epochs=1, seed=7):
    return get_experiment("feed", {
        "data": {"train": files, "reader": "fastavro"}, "model": SMALL_MODEL, "tasks": TWO_TASKS,
        "training": {"epochs": epochs, "batch_size": 128, "verbose": 0, "seed": seed}})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    manifest = simulated_days(root, impressions_per_day=600, num_members=200, posts_per_day=80,
                              seed=4)
    days = manifest["train"]
    # two differently initialised runs stand in for the cold start w0 and the previous day w_{t-1}
    # (epochs=0 keeps the test fast; their weights differ, so the warm-start mix is visible)
    train(day_config(days[:1], epochs=0, seed=7), root / "cold")
    train(day_config(days[:1], epochs=0, seed=8), root / "previous")
    # H_{t-1} stand-in: the cold start's Fisher (saves one Fisher computation; any H will do)
    compute_run_fisher(root / "cold", max_examples=64)
    shutil.copy(root / "cold" / FISHER_FILE, root / "previous" / FISHER_FILE)
    result = train_incremental(day_config(days[1:2]), root / "day1", root / "previous",
                               root / "cold", cold_weight=ALPHA, forgetting_factor=LAMBDA,
                               fisher_max_examples=64)
    return root, result


def test_each_run_saves_its_fisher_and_metadata(runs):
    root, result = runs
    for run in ("cold", "previous", "day1"):
        fisher = FisherInformation.load(root / run / FISHER_FILE)
        assert fisher.num_examples == 64
        assert any("quotient_table" in path for path in fisher.sparse)
    metadata = json.loads((root / "day1" / INCREMENTAL_FILE).read_text())
    assert metadata == result.metadata
    assert metadata["cold_start_run"] == str((root / "cold").resolve())
    assert metadata["previous_run"] == str((root / "previous").resolve())
    assert (metadata["cold_weight"], metadata["forgetting_factor"]) == (ALPHA, LAMBDA)
    assert metadata["train_seconds"] > 0 and metadata["fisher_seconds"] > 0
    assert np.isfinite(result.history["loss"][0])


def test_training_starts_from_the_cold_weight_mix(runs):
    """At w = a w0 + (1-a) w1 the penalty is lambda/2 [a (1-a)^2 d'H0 d + (1-a) a^2 d'H1 d],
    d = w1 - w0: the logged initial penalty checks the mix against NumPy."""
    root, result = runs
    expected = initial_penalty(root / "cold", root / "previous", ALPHA, LAMBDA)
    assert result.metadata["initial_penalty"] == pytest.approx(expected, rel=1e-4)
    assert result.metadata["final_penalty"] != result.metadata["initial_penalty"]


def test_statistics_are_kept_from_the_previous_run_and_the_model_reloads(runs):
    root, result = runs
    assert (root / "day1" / "transform_statistics.json").read_text() == \
        (root / "previous" / "transform_statistics.json").read_text()
    reloaded = model_weights(load_run(root / "day1")[2])
    for path, value in model_weights(result.model).items():
        np.testing.assert_array_equal(reloaded[path], value)
    assert all(v.regularizer is None for v in result.model.trainable_variables)


def test_the_cold_start_is_found_through_the_previous_runs_metadata(runs):
    root, _ = runs
    assert _cold_start_of(root / "day1") == (root / "cold").resolve()
    assert _cold_start_of(root / "cold") == root / "cold"


def test_a_different_architecture_is_rejected(runs, tmp_path):
    root, _ = runs
    config = day_config(load_run(root / "day1")[0].data.train)
    config = config.replace(model=config.model.replace(hidden_units=[8]))
    with pytest.raises(ValueError, match="config.model differs from the previous run's"):
        train_incremental(config, tmp_path / "bad", root / "day1")
    with pytest.raises(ValueError, match="cold_weight"):
        train_incremental(config, tmp_path / "bad", root / "day1", cold_weight=2.0)
