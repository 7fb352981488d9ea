"""Tests of lirank_tf.layers.attention_cross against a loop-based NumPy reference."""

import keras
import numpy as np
import pytest
from cross_reference import (fixed_weights, numpy_attention_cross, numpy_attention_scores,
                             numpy_low_rank_cross)
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)

from lirank_tf.layers import attention_cross
from lirank_tf.layers.attention_cross import AttentionLowRankCross
from lirank_tf.layers.low_rank_cross import LowRankCross

WIDTH, RANK = 6, 3


def inputs(batch=4, width=WIDTH, seed=3):
    return np.random.default_rng(seed).normal(size=(batch, width)).astype("float32")


def built_layer(**kwargs):
    """A layer with fixed weights; returns it and [query, key, value, up, bias]."""
    layer = AttentionLowRankCross(rank=RANK, **kwargs)
    layer.build((None, WIDTH))
    weights = [fixed_weights((WIDTH, RANK), 0.5, 1), fixed_weights((WIDTH, RANK), 0.7, 40),
               fixed_weights((WIDTH, RANK), 0.3, 80), fixed_weights((RANK, WIDTH), 0.4, 120),
               fixed_weights((WIDTH,), 0.2, 160)]
    layer.set_weights(weights)
    return layer, weights


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("attention_skip", [True, False])
def test_matches_numpy(temperature, attention_skip):
    layer, weights = built_layer(temperature=temperature, attention_skip=attention_skip)
    x0, x = inputs(), inputs(seed=4)
    expected = numpy_attention_cross(x0, x, *weights, temperature=temperature,
                                     attention_skip=attention_skip)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x0, x)), expected,
                               rtol=1e-5, atol=1e-5)
    # One input means x_l = x_0.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x0)),
        numpy_attention_cross(x0, x0, *weights, temperature=temperature,
                              attention_skip=attention_skip), rtol=1e-5, atol=1e-5)


def test_scores_are_row_stochastic_and_match_numpy():
    layer, weights = built_layer(temperature=0.8)
    x = inputs()
    scores = keras.ops.convert_to_numpy(layer.attention_scores(x))
    assert scores.shape == (4, RANK, RANK)
    np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(scores, numpy_attention_scores(x, weights[0], weights[1], 0.8),
                               rtol=1e-5, atol=1e-6)
    # The scores are not trivially uniform for these weights.
    assert np.ptp(scores, axis=-1).max() > 0.05


def test_identity_scores_reduce_exactly_to_low_rank_cross():
    layer, (_, _, value, up, bias) = built_layer(attention_skip=False)
    plain = LowRankCross(rank=RANK)
    plain.build((None, WIDTH))
    plain.set_weights([value, up, bias])
    x0, x = inputs(), inputs(seed=5)
    identity = np.broadcast_to(np.eye(RANK, dtype="float32"), (4, RANK, RANK))
    reduced = keras.ops.convert_to_numpy(layer.cross_with_scores(x0, x, identity))
    np.testing.assert_array_equal(reduced, keras.ops.convert_to_numpy(plain(x0, x)))
    np.testing.assert_allclose(reduced, numpy_low_rank_cross(x0, x, value, up, bias),
                               rtol=1e-5, atol=1e-6)


def test_identity_scores_with_skip_double_the_up_projection():
    layer, (_, _, value, up, bias) = built_layer(attention_skip=True)
    plain = LowRankCross(rank=RANK)
    plain.build((None, WIDTH))
    plain.set_weights([value, 2.0 * up, bias])
    x0, x = inputs(), inputs(seed=5)
    identity = np.broadcast_to(np.eye(RANK, dtype="float32"), (4, RANK, RANK))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.cross_with_scores(x0, x, identity)),
        keras.ops.convert_to_numpy(plain(x0, x)), rtol=1e-6, atol=1e-6)


def test_high_temperature_gives_uniform_scores():
    layer, _ = built_layer(temperature=1e6)
    scores = keras.ops.convert_to_numpy(layer.attention_scores(inputs()))
    np.testing.assert_allclose(scores, 1.0 / RANK, rtol=1e-4)


def test_weight_shapes_and_count():
    layer, _ = built_layer()
    assert_weight_shapes(layer, {"query_kernel": (WIDTH, RANK), "key_kernel": (WIDTH, RANK),
                                 "value_kernel": (WIDTH, RANK), "up_kernel": (RANK, WIDTH),
                                 "bias": (WIDTH,)})
    assert layer.count_params() == 4 * WIDTH * RANK + WIDTH
    no_bias = AttentionLowRankCross(rank=2, use_bias=False)
    no_bias.build((None, WIDTH))
    assert no_bias.count_params() == 4 * WIDTH * 2


def test_gradients_finite_and_nonzero():
    x0, x = inputs(), inputs(seed=9)
    model = functional_model(AttentionLowRankCross(rank=RANK, bias_initializer="ones"), [x0, x])
    grads = assert_gradients_finite_nonzero(model, [x0, x])
    assert any("query_kernel" in path for path in grads)


@pytest.mark.parametrize("kwargs, name", [
    ({"rank": 0}, "rank"), ({"rank": None}, "rank"), ({"rank": 1.5}, "rank"),
    ({"temperature": 0.0}, "temperature"), ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("inf")}, "temperature"), ({"temperature": "1"}, "temperature"),
    ({"attention_skip": "no"}, "attention_skip"), ({"use_bias": 1}, "use_bias"),
])
def test_invalid_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AttentionLowRankCross(**kwargs)


def test_mismatched_width_raises():
    with pytest.raises(ValueError, match="width of x0"):
        AttentionLowRankCross(rank=2)(inputs(), inputs(width=WIDTH + 2))


def test_config_round_trip():
    clone = assert_config_round_trip(AttentionLowRankCross(
        rank=5, temperature=0.3, attention_skip=False, use_bias=False, kernel_regularizer="l2"))
    assert (clone.rank, clone.temperature, clone.attention_skip) == (5, 0.3, False)


def test_functional_model_save_and_reload(tmp_path):
    x0, x = inputs(), inputs(seed=11)
    model = functional_model(AttentionLowRankCross(rank=RANK, temperature=0.7), [x0, x])
    assert_save_reload_equal(model, [x0, x], tmp_path)


def test_doctests():
    assert_doctests_pass(attention_cross)
