"""The explore/exploit ranker of the simulated bandit replay (LiRank §3.8, §3.9)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from explore_small_feed import SMALL_MODEL

from lirank_tf.config import get_experiment
from lirank_tf.sim.feed import FeedSimulator, FeedSimulatorConfig, write_day_file
from lirank_tf.explore import NeuralLinear
from lirank_tf.explore.replay import Exploration, ExploreExploitRanker
from lirank_tf.models import build_model
from lirank_tf.data.records import records_to_request
from lirank_tf.tasks import MultiTask
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.training.trainer import fit_transformation, make_optimizer
from lirank_tf.wide import RootObjectEffects

WORLD = dict(num_days=4, valid_days=0, test_days=1, impressions_per_day=600, num_members=150,
             posts_per_day=40, candidates_per_session=15, likes_feature="logged",
             post_lifetime_days=3, seed=31)


@pytest.fixture(scope="module")
def logged_day(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    path = write_day_file(root / "day_000.avro",
                          FeedSimulator(FeedSimulatorConfig(**WORLD)).simulate_day(0))
    config = get_experiment("feed", {"data": {"train": [str(path)], "reader": "fastavro"},
                                     "model": SMALL_MODEL,
                                     "training": {"verbose": 0, "batch_size": 100}})
    return root, config, fit_transformation(config, [str(path)]), str(path)


def make_ranker(logged_day, exploration=Exploration(), seed=0):
    """A ranker over an untrained-but-fixed small Feed model (weights from seed 0), its
    posterior updated with the logged day, and the simulator at the start of day 1."""
    root, config, transform, path = logged_day
    keras.utils.set_random_seed(0)
    model = build_model(config)
    model.compile(optimizer=make_optimizer(config, 6),
                  **MultiTask.from_config(config.tasks).compile_kwargs())
    explorer = NeuralLinear(model)
    explorer.update(training_dataset(config, [path], transform, shuffle=False, batch_size=200))
    ranker = ExploreExploitRanker(config, transform, explorer, RootObjectEffects(l2=2.0),
                                  exploration, window_days=3, seed=seed)
    simulator = FeedSimulator(FeedSimulatorConfig(**WORLD))
    simulator.simulate_day(0)
    return ranker, simulator


def exploit_probabilities(ranker, records):
    """Independent of the ranker's code path: the model's outputs with the posterior-mean
    last layer, from the serving request of the records."""
    request = records_to_request(records, ranker.fields)
    inputs = ranker.transform({k: tf.constant(v) for k, v in request.items()})
    means = {t: p.mean for t, p in ranker.explorer.posteriors.items()}
    return {t: v.numpy() for t, v in ranker.explorer.probabilities(inputs, means).items()}


def test_thompson_with_zero_scales_shows_what_the_exploit_ranker_shows(logged_day):
    greedy, plain_world = make_ranker(logged_day)
    zero = Exploration(last_layer="thompson", root_objects="thompson", last_layer_scale=0.0,
                       root_object_scale=0.0)
    thompson, other_world = make_ranker(logged_day, zero, seed=5)
    shown = plain_world.simulate_day(1, greedy, periods=3, feedback=greedy.observe)
    same = other_world.simulate_day(1, thompson, periods=3, feedback=thompson.observe)
    assert shown == same and thompson.explored_impressions == 0
    assert set(greedy.effects.table) == {r["root_object_id"] for r in shown}


def test_each_period_refits_the_root_objects_on_the_window_with_logged_predictions(logged_day):
    ranker, world = make_ranker(logged_day)
    periods = []

    def feedback(records):
        ranker.observe(records)
        periods.append(list(records))
        expected = RootObjectEffects(l2=2.0)
        seen = [r for part in periods for r in part]
        offsets = exploit_probabilities(ranker, seen)
        expected.fit(np.array([r["root_object_id"] for r in seen]),
                     {t: offsets[t] for t in expected.tasks},
                     {t: np.array([r[t] for r in seen]) for t in expected.tasks})
        assert set(ranker.effects.table) == set(expected.table)
        for key, value in expected.table.items():
            np.testing.assert_allclose(ranker.effects.table[key], value, rtol=1e-4, atol=1e-6)

    records = world.simulate_day(1, ranker, periods=3, feedback=feedback)
    assert len(periods) == 3 and sum(map(len, periods)) == len(records)
    # the RO-adjusted score: sigmoid(logit(p) + b) on like and click, the rest unchanged
    candidates = records[:20]
    probabilities = exploit_probabilities(ranker, candidates)
    ids = np.array([r["root_object_id"] for r in candidates])
    effects = ranker.effects.effects(ids)
    expected = 0.0
    for task in ranker.config.tasks:
        p = probabilities[task.name]
        if task.name in effects:
            p = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + effects[task.name])))
        expected = expected + task.score_weight * p
    np.testing.assert_allclose(ranker(candidates), expected, rtol=1e-5)


def test_end_of_day_trains_the_model_updates_the_posterior_and_re_predicts(logged_day,
                                                                           tmp_path):
    ranker, world = make_ranker(logged_day)
    records = world.simulate_day(1, ranker, periods=3, feedback=ranker.observe)
    before = [w.copy() for w in ranker.explorer.model.get_weights()]
    earlier = ranker.explorer.posteriors["click"].precision.copy()
    ranker.end_of_day(write_day_file(tmp_path / "day_001.avro", records))
    assert any(not np.array_equal(a, b)
               for a, b in zip(before, ranker.explorer.model.get_weights()))
    # carried over to the retrained last layer (earlier evidence x 0.5 on the base prior
    # I / prior_variance), then one logistic IRLS step at the retrained weights on the day
    day = training_dataset(ranker.config, [str(tmp_path / "day_001.avro")], ranker.transform,
                           shuffle=False, batch_size=200)
    z = np.concatenate([ranker.explorer.representations(inputs)[0]["click"].numpy()
                        for inputs, _ in day]).astype(np.float64)
    w = ranker.explorer.trained_weights("click")
    p = 1 / (1 + np.exp(-z @ w))
    base = np.eye(len(w))
    expected = base + 0.5 * (earlier - base) + z.T @ ((p * (1 - p))[:, None] * z)
    posterior = ranker.explorer.posteriors["click"]
    np.testing.assert_allclose(posterior.precision, expected, rtol=1e-4, atol=1e-5)
    assert posterior.num_observations == len(records)
    window = [r for part in ranker.window for r in part["records"]]
    predicted = exploit_probabilities(ranker, window)
    for task in ranker.effects.tasks:
        np.testing.assert_allclose(np.concatenate([p["offsets"][task] for p in ranker.window]),
                                   predicted[task], rtol=1e-5, atol=1e-7)


def test_thompson_new_draws_only_for_root_objects_no_fit_has_seen(logged_day):
    ranker, world = make_ranker(logged_day, Exploration(root_objects="thompson_new"), seed=3)
    records = world.simulate_day(1, ranker, periods=3, feedback=ranker.observe)
    exploit, _ = make_ranker(logged_day)
    exploit.effects = ranker.effects                  # the same fitted effects
    candidates = [dict(r, position=0) for r in records[:200]] + [
        dict(r, root_object_id="post:999999", position=0) for r in records[:10]]
    known = np.array([r["root_object_id"] in ranker.effects.variances for r in candidates])
    assert known[:200].any() and not known[200:].any()
    scores, plain = ranker(candidates), exploit(candidates)
    np.testing.assert_allclose(scores[known], plain[known], rtol=1e-6)
    assert np.all(scores[~known] != plain[~known])
    # reproducible: the same seed and call count give the same draws
    again, _ = make_ranker(logged_day, Exploration(root_objects="thompson_new"), seed=3)
    again.effects = ranker.effects
    again._calls = ranker._calls - 1      # its next call draws what the last one did
    np.testing.assert_allclose(again(candidates), scores)


def test_thompson_last_layer_draws_one_weight_vector_per_session(logged_day):
    exploration = Exploration(last_layer="thompson", last_layer_scale=2.0)
    ranker, world = make_ranker(logged_day, exploration, seed=2)
    records = world.simulate_day(1)[:10]
    pair = [dict(r, session_id=7) for r in records] + [dict(r, session_id=8) for r in records]
    scores = ranker(pair)
    draws = ranker.explorer.sample(ranker.draw_seed(), rows=2, exploration_scale=2.0)
    inputs = ranker.transform({k: tf.constant(v) for k, v in
                               records_to_request(records, ranker.fields).items()})
    for k in range(2):
        probabilities = ranker.explorer.probabilities(inputs, {t: w[k] for t, w in draws.items()})
        expected = ranker.score({t: v.numpy() for t, v in probabilities.items()})
        np.testing.assert_allclose(scores[10 * k:10 * (k + 1)], expected, rtol=1e-5)
    assert not np.allclose(scores[:10], scores[10:])        # two sessions, two draws


def test_settings_errors_name_the_value():
    with pytest.raises(ValueError, match="last_layer must be 'trained', 'mean' or 'thompson'"):
        Exploration(last_layer="ucb")
    with pytest.raises(ValueError, match="root_objects must be"):
        Exploration(root_objects="greedy")
    with pytest.raises(ValueError, match="root_object_scale must be a number >= 0, got -1"):
        Exploration(root_object_scale=-1)
