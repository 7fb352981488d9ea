"""Tests of lirank_tf.layers.residual_dcn against the NumPy cross references."""

import keras
import numpy as np
import pytest
from cross_reference import fixed_weights, numpy_attention_cross, numpy_low_rank_cross
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)

from lirank_tf.layers import residual_dcn
from lirank_tf.layers.residual_dcn import ResidualDCN

WIDTH, RANK = 5, 2


def inputs(batch=3, seed=21):
    return np.random.default_rng(seed).normal(size=(batch, WIDTH)).astype("float32")


def set_fixed_weights(layer):
    """Gives every branch distinct fixed weights; returns [(cross_w, attention_w)] per layer."""
    per_layer = []
    for index, (cross, attention) in enumerate(zip(layer.cross_layers, layer.attention_layers)):
        phase = 1 + 100 * index
        cross_w = [fixed_weights(w.shape, 0.3, phase + 7 * k) for k, w in enumerate(cross.weights)]
        attention_w = [fixed_weights(w.shape, 0.4, phase + 50 + 9 * k)
                       for k, w in enumerate(attention.weights)]
        cross.set_weights(cross_w)
        attention.set_weights(attention_w)
        per_layer.append((cross_w, attention_w))
    return per_layer


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_matches_numpy(num_layers):
    layer = ResidualDCN(num_layers=num_layers, rank=RANK, temperature=0.6)
    layer.build((None, WIDTH))
    per_layer = set_fixed_weights(layer)
    x0 = inputs()
    expected = x0
    for cross_w, attention_w in per_layer:
        expected = 0.5 * (numpy_low_rank_cross(x0, expected, *cross_w)
                          + numpy_attention_cross(x0, expected, *attention_w, temperature=0.6))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x0)), expected,
                               rtol=1e-5, atol=1e-5)


def test_weight_shapes_and_count():
    layer = ResidualDCN(num_layers=2, rank=RANK)
    layer.build((None, WIDTH))
    expected = {}
    for i in range(2):
        expected.update({f"cross_{i}/down_kernel": (WIDTH, RANK),
                         f"cross_{i}/up_kernel": (RANK, WIDTH), f"cross_{i}/bias": (WIDTH,)})
        expected.update({f"attention_cross_{i}/{name}_kernel": (WIDTH, RANK)
                         for name in ("query", "key", "value")})
        expected.update({f"attention_cross_{i}/up_kernel": (RANK, WIDTH),
                         f"attention_cross_{i}/bias": (WIDTH,)})
    assert_weight_shapes(layer, expected)
    assert layer.count_params() == 2 * ((2 * WIDTH * RANK + WIDTH) + (4 * WIDTH * RANK + WIDTH))


def test_gradients_finite_and_nonzero():
    x0 = inputs()
    model = functional_model(ResidualDCN(num_layers=2, rank=RANK, bias_initializer="ones"), x0)
    assert_gradients_finite_nonzero(model, x0)


@pytest.mark.parametrize("kwargs, name", [
    ({"num_layers": 0}, "num_layers"), ({"num_layers": "2"}, "num_layers"),
    ({"rank": 0}, "rank"), ({"rank": None}, "rank"), ({"temperature": -0.5}, "temperature"),
    ({"attention_skip": None}, "attention_skip"), ({"use_bias": "true"}, "use_bias"),
])
def test_invalid_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ResidualDCN(**kwargs)


def test_config_round_trip():
    clone = assert_config_round_trip(ResidualDCN(num_layers=3, rank=4, temperature=2.0,
                                                 attention_skip=False, bias_regularizer="l2"))
    assert clone.num_layers == 3
    assert clone.attention_layers[2].temperature == 2.0
    assert clone.attention_layers[0].attention_skip is False


def test_functional_model_save_and_reload(tmp_path):
    x0 = inputs(batch=4)
    model = functional_model(
        lambda x: keras.layers.Dense(1)(ResidualDCN(num_layers=2, rank=RANK)(x)), x0)
    assert_save_reload_equal(model, x0, tmp_path)


def test_doctests():
    assert_doctests_pass(residual_dcn)
