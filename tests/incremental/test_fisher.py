"""Diagonal empirical Fisher (LiRank §3.6) against per-example gradients computed independently."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from incremental_tiny_model import (TASKS, build_tiny_model, dataset, fixed_weights,
                                    numpy_fisher, tiny_data)

from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.incremental import FisherInformation, empirical_fisher, per_example_loss_fn
from lirank_tf.models import build_model
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.training.trainer import fit_transformation


@pytest.mark.parametrize("batch_size", [3, 8])
def test_fisher_equals_numpy_mean_of_squared_per_example_gradients(batch_size):
    inputs, labels = tiny_data(10)
    model = build_tiny_model()
    fisher = empirical_fisher(model, dataset(inputs, labels, batch_size), TASKS)
    expected = numpy_fisher(fixed_weights(), inputs, labels)
    assert fisher.num_examples == 10
    assert sorted(fisher.dense) == ["click_logit/bias", "click_logit/kernel", "hidden/bias",
                                    "hidden/kernel", "like_logit/bias", "like_logit/kernel"]
    for path, values in expected.items():
        np.testing.assert_allclose(fisher.full(path, values.shape), values, rtol=2e-4, atol=1e-8,
                                   err_msg=path)


def test_a_row_looked_up_twice_by_one_example_gets_the_square_of_the_summed_gradient():
    inputs, labels = tiny_data(10)
    first = {k: v[1:2] for k, v in inputs.items()}           # ids [4, 4]
    first_labels = {k: v[1:2] for k, v in labels.items()}
    fisher = empirical_fisher(build_tiny_model(), dataset(first, first_labels, 1), TASKS)
    rows, values = fisher.sparse["item_embedding/embeddings"]
    assert rows.tolist() == [4]
    np.testing.assert_allclose(values[0], numpy_fisher(fixed_weights(), first, first_labels)
                               ["item_embedding/embeddings"][4], rtol=2e-4)


def test_embedding_fisher_is_stored_only_for_rows_the_data_touched():
    inputs, labels = tiny_data(10)
    inputs["ids"] = np.where(inputs["ids"] == 5, 2, inputs["ids"])  # row 5 never looked up
    fisher = empirical_fisher(build_tiny_model(), dataset(inputs, labels, 4), TASKS)
    rows, values = fisher.sparse["item_embedding/embeddings"]
    assert rows.tolist() == sorted(set(inputs["ids"].reshape(-1).tolist()))
    assert 5 not in rows and values.shape == (len(rows), 2)
    assert np.all(values > 0)


def test_max_examples_stops_after_whole_batches():
    inputs, labels = tiny_data(10)
    fisher = empirical_fisher(build_tiny_model(), dataset(inputs, labels, 4), TASKS, max_examples=5)
    assert fisher.num_examples == 8
    head = {k: v[:8] for k, v in inputs.items()}, {k: v[:8] for k, v in labels.items()}
    np.testing.assert_allclose(fisher.dense["hidden/kernel"],
                               numpy_fisher(fixed_weights(), *head)["hidden/kernel"], rtol=2e-4)


def test_save_and_load_round_trip(tmp_path):
    inputs, labels = tiny_data(10)
    fisher = empirical_fisher(build_tiny_model(), dataset(inputs, labels, 5), TASKS)
    loaded = FisherInformation.load(fisher.save(tmp_path / "fisher.npz"))
    assert loaded.num_examples == 10 and loaded.paths() == fisher.paths()
    for path in fisher.dense:
        np.testing.assert_array_equal(loaded.dense[path], fisher.dense[path])
    for path, (rows, values) in fisher.sparse.items():
        np.testing.assert_array_equal(loaded.sparse[path][0], rows)
        np.testing.assert_array_equal(loaded.sparse[path][1], values)


def test_invalid_arguments_raise():
    inputs, labels = tiny_data(4)
    with pytest.raises(ValueError, match="max_examples"):
        empirical_fisher(build_tiny_model(), dataset(inputs, labels, 2), TASKS, max_examples=0)
    with pytest.raises(ValueError, match="no examples"):
        empirical_fisher(build_tiny_model(), dataset(inputs, labels, 2).take(0), TASKS)
    with pytest.raises(ValueError, match="tasks"):
        per_example_loss_fn(build_tiny_model(), [])
    with pytest.raises(KeyError, match="no Fisher information"):
        empirical_fisher(build_tiny_model(), dataset(inputs, labels, 2), TASKS).full("nope", (1,))


def test_feed_model_fisher_equals_a_loop_of_single_example_gradients(tmp_path):
    """The LiRank Feed model (QR-hash tables shared by several features, TransAct history,
    Residual DCN, sparse MoE, isotonic calibration): vectorised Fisher == batch-of-one loop."""
    manifest = simulate_feed(tmp_path / "data", FeedSimulatorConfig(
        num_days=3, impressions_per_day=300, num_members=120, posts_per_day=60, seed=2))
    config = get_experiment("feed", {"data": {"train": manifest["train"], "reader": "fastavro"},
                                     "model": {"hidden_units": [32, 32]}})
    transform = fit_transformation(config, manifest["train"])
    model = build_model(config)
    data = training_dataset(config, manifest["train"], transform, shuffle=False, batch_size=6)
    fisher = empirical_fisher(model, data, config.tasks, max_examples=12)
    assert fisher.num_examples == 12

    loss_fn = per_example_loss_fn(model, config.tasks)
    inputs, labels = next(iter(training_dataset(config, manifest["train"], transform,
                                                shuffle=False, batch_size=12)))
    expected = {v.path: np.zeros(v.shape) for v in model.trainable_variables}
    for i in range(12):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(loss_fn({k: v[i:i + 1] for k, v in inputs.items()},
                                         {k: v[i:i + 1] for k, v in labels.items()}))
        for variable, grad in zip(model.trainable_variables,
                                  tape.gradient(loss, model.trainable_variables)):
            if grad is not None:
                expected[variable.path] += np.square(tf.convert_to_tensor(grad).numpy()) / 12
    assert any("quotient_table" in path for path in fisher.sparse)
    for variable in model.trainable_variables:
        scale = max(float(np.max(expected[variable.path])), 1e-12)
        np.testing.assert_allclose(fisher.full(variable.path, variable.shape) / scale,
                                   expected[variable.path] / scale, atol=1e-4, err_msg=variable.path)
    nonzero = [path for path, values in expected.items() if np.any(values > 0)]
    assert len(nonzero) > 0.5 * len(expected)  # not all-zero: some experts / empty histories
