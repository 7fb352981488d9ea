"""Tests of lirank_tf.layers.masknet against a NumPy MaskNet reference."""

import keras
import numpy as np
import pytest
from cross_reference import numpy_low_rank_cross
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)

from lirank_tf.layers import masknet
from lirank_tf.layers.low_rank_cross import CrossNetwork
from lirank_tf.layers.masknet import MaskBlock, ParallelMaskNet

LN_EPSILON = 1e-3  # Keras LayerNormalization default
WIDTH = 6


def fixed(shape, scale=0.4, phase=1):
    size = int(np.prod(shape))
    return (scale * np.sin(np.arange(phase, phase + size) * 0.9)).reshape(shape).astype("float32")


def inputs(batch=5, seed=8):
    return np.random.default_rng(seed).normal(size=(batch, WIDTH)).astype("float32")


def layer_norm(x, gamma, beta):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + LN_EPSILON) + beta


def numpy_mask_block(x, w):
    """w: [W1, b1, W2, b2, gamma_in, beta_in, W_o, gamma_out, beta_out] (the layer's order)."""
    w1, b1, w2, b2, gamma_in, beta_in, w_o, gamma_out, beta_out = w
    mask = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
    masked = mask * layer_norm(x, gamma_in, beta_in)
    return np.maximum(layer_norm(masked @ w_o, gamma_out, beta_out), 0.0)


def set_fixed(layer, phase=1):
    weights = [fixed(w.shape, 0.4, phase + 13 * k) + (1.0 if "gamma" in w.path else 0.0)
               for k, w in enumerate(layer.weights)]
    layer.set_weights(weights)
    return weights


def test_mask_block_matches_numpy():
    block = MaskBlock(output_dim=4, projection_ratio=1.5)
    block.build((None, WIDTH))
    weights = set_fixed(block)
    x = inputs()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x)), numpy_mask_block(x, weights),
                               rtol=1e-5, atol=1e-5)
    mask = keras.ops.convert_to_numpy(block.instance_mask(x))
    np.testing.assert_allclose(mask, np.maximum(x @ weights[0] + weights[1], 0) @ weights[2]
                               + weights[3], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation, numpy_activation", [
    (None, lambda v: v), ("relu", lambda v: np.maximum(v, 0.0))])
def test_parallel_masknet_matches_numpy(activation, numpy_activation):
    net = ParallelMaskNet(output_dim=3, num_blocks=3, block_output_dim=4, projection_ratio=2.0,
                          output_activation=activation)
    net.build((None, WIDTH))
    block_weights = [set_fixed(block, phase=100 * i) for i, block in enumerate(net.mask_blocks)]
    kernel, bias = set_fixed(net.output_projection, phase=999)
    x = inputs()
    merged = np.concatenate([numpy_mask_block(x, w) for w in block_weights], axis=-1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(net(x)),
                               numpy_activation(merged @ kernel + bias), rtol=1e-5, atol=1e-5)


def test_weight_shapes():
    block = MaskBlock(output_dim=4, projection_ratio=2.0)
    block.build((None, WIDTH))
    assert_weight_shapes(block, {
        "aggregation/kernel": (WIDTH, 12), "aggregation/bias": (12,),
        "mask_projection/kernel": (12, WIDTH), "mask_projection/bias": (WIDTH,),
        "input_norm/gamma": (WIDTH,), "input_norm/beta": (WIDTH,), "hidden/kernel": (WIDTH, 4),
        "output_norm/gamma": (4,), "output_norm/beta": (4,)})
    net = ParallelMaskNet(output_dim=5, num_blocks=2, block_output_dim=4, projection_ratio=0.5)
    net.build((None, WIDTH))
    per_block = (WIDTH * 3 + 3) + (3 * WIDTH + WIDTH) + 2 * WIDTH + WIDTH * 4 + 2 * 4
    assert net.count_params() == 2 * per_block + (8 * 5 + 5)


def test_masknet_in_front_of_cross_network():
    features = inputs()
    net = ParallelMaskNet(output_dim=4, num_blocks=2, block_output_dim=3)
    cross = CrossNetwork(num_layers=2, rank=2)
    model = functional_model(lambda x: cross(net(x)), features)
    masked = keras.ops.convert_to_numpy(net(features))
    expected = masked
    for layer in cross.cross_layers:
        expected = numpy_low_rank_cross(masked, expected,
                                        *[keras.ops.convert_to_numpy(w) for w in layer.weights])
    np.testing.assert_allclose(model.predict(features, verbose=0), expected, rtol=1e-5,
                               atol=1e-5)
    assert_gradients_finite_nonzero(model, features)


def test_gradients_finite_and_nonzero():
    x = inputs()
    assert_gradients_finite_nonzero(functional_model(ParallelMaskNet(output_dim=3, num_blocks=2,
                                                                     block_output_dim=4), x), x)


@pytest.mark.parametrize("kwargs, name", [
    ({"output_dim": 0}, "output_dim"), ({"output_dim": 4, "projection_ratio": 0.0},
                                        "projection_ratio"),
    ({"output_dim": 4, "projection_ratio": "2"}, "projection_ratio"),
])
def test_invalid_block_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MaskBlock(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    ({"output_dim": None}, "output_dim"), ({"num_blocks": 0}, "num_blocks"),
    ({"block_output_dim": -4}, "block_output_dim"), ({"projection_ratio": -1.0},
                                                     "projection_ratio"),
    ({"output_activation": "nope"}, "output_activation"),
])
def test_invalid_masknet_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ParallelMaskNet(**{"output_dim": 4, **kwargs})


def test_config_round_trip():
    block = assert_config_round_trip(MaskBlock(output_dim=7, projection_ratio=0.5,
                                               kernel_regularizer="l2"))
    assert block.projection_ratio == 0.5
    net = assert_config_round_trip(ParallelMaskNet(output_dim=8, num_blocks=2,
                                                   block_output_dim=16, projection_ratio=3.0,
                                                   output_activation="relu"))
    assert net.num_blocks == 2 and net.mask_blocks[1].projection_ratio == 3.0


def test_functional_model_save_and_reload(tmp_path):
    x = inputs()
    model = functional_model(
        lambda f: CrossNetwork(num_layers=2, rank=2)(ParallelMaskNet(
            output_dim=4, num_blocks=3, block_output_dim=5)(f)), x)
    assert_save_reload_equal(model, x, tmp_path, atol=1e-5)


def test_doctests():
    assert_doctests_pass(masknet)
