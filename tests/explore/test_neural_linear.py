"""Neural-Linear last-layer posterior on the Feed model (LiRank §3.8)."""

import numpy as np
import pytest
from explore_small_feed import batches, small_feed

from lirank_tf.explore import NeuralLinear


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    config, manifest, transform, model = small_feed(tmp_path_factory.mktemp("neural_linear"))
    data = {"day0": batches(config, manifest["train"][:1], transform),
            "day1": batches(config, manifest["train"][1:2], transform),
            "test": batches(config, manifest["test"], transform)}
    return config, data, model


def test_trained_last_layer_weights_reproduce_the_model_outputs(feed):
    config, data, model = feed
    explorer = NeuralLinear(model)
    inputs, _ = data["day0"][0]
    expected = model(inputs, training=False)
    got = explorer.probabilities(inputs)
    assert sorted(got) == sorted(t.name for t in config.tasks)
    for task in got:
        np.testing.assert_allclose(got[task].numpy(), np.asarray(expected[task]).reshape(-1),
                                   rtol=1e-5, atol=1e-6, err_msg=task)
    features, ids = explorer.representations(inputs)
    assert features["click"].shape == (100, 9) and np.all(features["click"].numpy()[:, -1] == 1.0)
    assert ids is not None


def test_posterior_is_the_closed_form_laplace_posterior_at_the_trained_weights(feed):
    config, data, model = feed
    explorer = NeuralLinear(model, tasks=["click", "like"], prior_variance=0.5)
    explorer.update(data["day0"])
    for task in ("click", "like"):
        z, labels = [], []
        for inputs, targets in data["day0"]:
            z.append(explorer.representations(inputs)[0][task].numpy().astype(np.float64))
            labels.append(np.asarray(targets[task]).reshape(-1))
        z, labels = np.concatenate(z), np.concatenate(labels)
        w = explorer.trained_weights(task)
        p = 1 / (1 + np.exp(-z @ w))
        s = p * (1 - p)
        precision = np.eye(len(w)) / 0.5 + z.T @ (s[:, None] * z)
        mean = w + np.linalg.solve(precision, z.T @ (labels - p))   # one Newton step from w
        posterior = explorer.posteriors[task]
        # the explorer's sigmoid runs on float32 logits: ~1e-7 absolute on p (1 - p)
        np.testing.assert_allclose(posterior.precision, precision, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(posterior.mean, mean, rtol=1e-5, atol=1e-8)
        assert posterior.num_observations == len(labels) == 400


def test_posterior_narrows_with_more_periods(feed):
    config, data, model = feed
    explorer = NeuralLinear(model, tasks=["click"])
    inputs, _ = data["test"][0]
    z = explorer.representations(inputs)[0]["click"].numpy()
    before = explorer.posteriors["click"].predictive_variance(z)
    explorer.update(data["day0"])
    one_day = explorer.posteriors["click"].predictive_variance(z)
    explorer.update(data["day1"], decay=1.0)
    two_days = explorer.posteriors["click"].predictive_variance(z)
    assert np.all(one_day < before) and np.all(two_days < one_day)
    half_forgotten = NeuralLinear(model, tasks=["click"])
    half_forgotten.update(data["day0"])
    half_forgotten.update(data["day1"], decay=0.5)
    assert np.all(half_forgotten.posteriors["click"].predictive_variance(z) > two_days)


def test_thompson_draws_are_seeded_and_change_the_scores(feed):
    config, data, model = feed
    explorer = NeuralLinear(model, tasks=["click"])
    explorer.update(data["day0"])
    first, again, other = (explorer.sample(seed) for seed in (11, 11, 12))
    np.testing.assert_array_equal(first["click"], again["click"])
    assert not np.allclose(first["click"], other["click"])
    assert explorer.sample(3, rows=5)["click"].shape == (5, 9)
    inputs, _ = data["test"][0]
    exploit = explorer.probabilities(inputs)
    explore = explorer.probabilities(inputs, first)
    assert not np.allclose(exploit["click"].numpy(), explore["click"].numpy())
    np.testing.assert_array_equal(exploit["like"].numpy(), explore["like"].numpy())
    per_row = explorer.probabilities(inputs, {"click": np.tile(first["click"], (100, 1))})
    np.testing.assert_allclose(per_row["click"].numpy(), explore["click"].numpy(), rtol=1e-6)
    unscaled = explorer.sample(11, exploration_scale=0.0)["click"]
    np.testing.assert_allclose(unscaled, explorer.posteriors["click"].mean, rtol=1e-12)


def test_posteriors_are_saved_and_carried_to_the_next_period(feed, tmp_path):
    config, data, model = feed
    explorer = NeuralLinear(model, tasks=["click", "like"])
    explorer.update(data["day0"])
    explorer.save_posteriors(tmp_path)
    following = NeuralLinear(model, tasks=["click", "like"])
    following.load_posteriors(tmp_path)
    for task in ("click", "like"):
        np.testing.assert_array_equal(following.posteriors[task].precision,
                                      explorer.posteriors[task].precision)
    with pytest.raises(FileNotFoundError, match="no posterior for task 'comment'"):
        NeuralLinear(model, tasks=["comment"]).load_posteriors(tmp_path)


def test_invalid_arguments_raise(feed, tmp_path):
    _, _, model = feed
    with pytest.raises(ValueError, match="tasks must name heads of the model"):
        NeuralLinear(model, tasks=["nope"])
    with pytest.raises(ValueError, match="prior_variance"):
        NeuralLinear(model, prior_variance=0.0)
    _, _, _, mmoe = small_feed(tmp_path, multitask="mmoe")
    with pytest.raises(ValueError, match="exactly one GroupedTaskHeads"):
        NeuralLinear(mmoe)
