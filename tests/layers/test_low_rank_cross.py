"""Tests of lirank_tf.layers.low_rank_cross against a NumPy DCNv2 reference."""

import keras
import numpy as np
import pytest
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)
from cross_reference import fixed_weights as fixed
from cross_reference import numpy_low_rank_cross as numpy_cross

from lirank_tf.layers import low_rank_cross
from lirank_tf.layers.low_rank_cross import CrossNetwork, LowRankCross

WIDTH, RANK = 5, 3


def inputs(batch=4, width=WIDTH):
    return np.random.default_rng(7).normal(size=(batch, width)).astype("float32")


def test_low_rank_matches_numpy():
    layer = LowRankCross(rank=RANK)
    x0, x = inputs(), inputs()[::-1].copy()
    layer.build((None, WIDTH), (None, WIDTH))
    down, up, bias = fixed((WIDTH, RANK)), fixed((RANK, WIDTH), 0.2), fixed((WIDTH,), 0.3)
    layer.set_weights([down, up, bias])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x0, x)),
                               numpy_cross(x0, x, down, up, bias), rtol=1e-5, atol=1e-6)
    # One input: x_l = x_0.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x0)),
                               numpy_cross(x0, x0, down, up, bias), rtol=1e-5, atol=1e-6)


def test_full_rank_and_no_bias_match_numpy():
    layer = LowRankCross(rank=None, use_bias=False)
    x0 = inputs()
    layer.build((None, WIDTH))
    kernel = fixed((WIDTH, WIDTH))
    layer.set_weights([kernel])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x0)),
                               x0 * (x0 @ kernel) + x0, rtol=1e-5, atol=1e-6)


def test_all_ones_hand_computed():
    layer = LowRankCross(rank=2, kernel_initializer="ones", bias_initializer="ones")
    x0 = np.array([[1.0, -1.0, 2.0]], dtype="float32")
    # V x = [2, 2]; U V x = [4, 4, 4]; + b = 5; x0 * 5 + x0 = 6 x0.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x0)), 6 * x0)


def test_weight_shapes_and_counts():
    layer = LowRankCross(rank=RANK)
    layer.build((None, WIDTH))
    assert_weight_shapes(layer, {"down_kernel": (WIDTH, RANK), "up_kernel": (RANK, WIDTH),
                                 "bias": (WIDTH,)})
    assert layer.count_params() == 2 * WIDTH * RANK + WIDTH
    full = LowRankCross()
    full.build((None, WIDTH))
    assert full.count_params() == WIDTH * WIDTH + WIDTH
    network = CrossNetwork(num_layers=3, rank=RANK, use_bias=False)
    network.build((None, WIDTH))
    assert_weight_shapes(network, {f"cross_{i}/{name}": shape for i in range(3)
                                   for name, shape in (("down_kernel", (WIDTH, RANK)),
                                                       ("up_kernel", (RANK, WIDTH)))})


def test_cross_network_matches_numpy():
    network = CrossNetwork(num_layers=3, rank=RANK)
    x0 = inputs()
    network.build((None, WIDTH))
    weights = [fixed(w.shape, 0.1 * (i + 1)) for i, w in enumerate(network.weights)]
    network.set_weights(weights)
    expected = x0
    for layer_index in range(3):
        down, up, bias = weights[3 * layer_index: 3 * layer_index + 3]
        expected = numpy_cross(x0, expected, down, up, bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(network(x0)), expected,
                               rtol=1e-5, atol=1e-5)


def test_gradients_finite_and_nonzero():
    x0 = inputs()
    model = functional_model(CrossNetwork(num_layers=2, rank=RANK, bias_initializer="ones"), x0)
    assert_gradients_finite_nonzero(model, x0)
    two_inputs = [x0, inputs()[::-1].copy()]
    assert_gradients_finite_nonzero(functional_model(LowRankCross(rank=2), two_inputs), two_inputs)


@pytest.mark.parametrize("kwargs, name", [
    ({"rank": 0}, "rank"), ({"rank": -2}, "rank"), ({"rank": 2.5}, "rank"),
    ({"rank": True}, "rank"), ({"rank": "3"}, "rank"), ({"use_bias": "yes"}, "use_bias"),
])
def test_invalid_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LowRankCross(**kwargs)
    with pytest.raises(ValueError, match=name):
        CrossNetwork(**kwargs)


@pytest.mark.parametrize("num_layers", [0, -1, 1.0, None])
def test_invalid_num_layers(num_layers):
    with pytest.raises(ValueError, match="num_layers"):
        CrossNetwork(num_layers=num_layers)


def test_mismatched_or_unknown_width_raises():
    with pytest.raises(ValueError, match="width of x0"):
        LowRankCross(rank=2)(inputs(), inputs(width=WIDTH + 1))
    with pytest.raises(ValueError, match="last dimension"):
        LowRankCross(rank=2).build((None, None))


def test_config_round_trip():
    layer = LowRankCross(rank=4, use_bias=False, kernel_initializer="he_normal",
                         kernel_regularizer="l2", name="cross")
    clone = assert_config_round_trip(layer)
    assert clone.rank == 4 and clone.use_bias is False
    network = assert_config_round_trip(CrossNetwork(num_layers=3, rank=2, bias_regularizer="l1"))
    assert network.num_layers == 3 and network.cross_layers[2].rank == 2


def test_functional_model_save_and_reload(tmp_path):
    x0, x = inputs(), inputs()[::-1].copy()
    model = functional_model(
        lambda a, b: CrossNetwork(num_layers=2, rank=2)(LowRankCross(rank=3)(a, b)), [x0, x])
    assert model.predict([x0, x], verbose=0).shape == (4, WIDTH)
    assert_save_reload_equal(model, [x0, x], tmp_path)


def test_doctests():
    assert_doctests_pass(low_rank_cross)
