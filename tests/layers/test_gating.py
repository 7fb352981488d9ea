"""Tests of lirank_tf.layers.gating (DenseGate, GatedMLP) against NumPy references."""

import keras
import numpy as np
import pytest
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)

from lirank_tf.layers import gating
from lirank_tf.layers.gating import LARGE_MLP_UNITS, DenseGate, GatedMLP

BN_EPSILON = 1e-3  # Keras BatchNormalization default


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fixed(shape, scale=0.3, phase=1):
    size = int(np.prod(shape))
    return (scale * np.sin(np.arange(phase, phase + size) * 0.7)).reshape(shape).astype("float32")


def inputs(batch=6, width=5, seed=2):
    return np.random.default_rng(seed).normal(size=(batch, width)).astype("float32")


@pytest.mark.parametrize("granularity", ["bit", "vector"])
def test_dense_gate_matches_numpy(granularity):
    gate = DenseGate(granularity=granularity)
    gate.build((None, 5))
    gates = 5 if granularity == "bit" else 1
    kernel, bias = fixed((5, gates)), fixed((gates,), 0.5, 50)
    gate.set_weights([kernel, bias])
    x = inputs()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gate(x)),
                               x * sigmoid(x @ kernel + bias), rtol=1e-5, atol=1e-6)
    assert_weight_shapes(gate, {"gate_kernel": (5, gates), "gate_bias": (gates,)})


def set_mlp_weights(mlp):
    """Fixed weights for every sublayer; returns them per hidden layer as a dict."""
    per_layer = []
    for index, dense in enumerate(mlp.dense_layers):
        layer_weights = {"dense": [fixed(w.shape, 0.4, 10 * index + k)
                                   for k, w in enumerate(dense.weights)]}
        dense.set_weights(layer_weights["dense"])
        if mlp.use_batch_norm:
            norm = mlp.norm_layers[index]
            width = norm.weights[0].shape[0]
            gamma, beta = 1.0 + fixed((width,), 0.2, 3), fixed((width,), 0.1, 9)
            mean, var = fixed((width,), 0.3, 5), 0.5 + np.abs(fixed((width,), 1.0, 7))
            norm.set_weights([gamma, beta, mean, var])
            layer_weights["norm"] = (gamma, beta, mean, var)
        if mlp.use_gates:
            gate = mlp.gate_layers[index]
            layer_weights["gate"] = [fixed(w.shape, 0.5, 30 + k)
                                     for k, w in enumerate(gate.weights)]
            gate.set_weights(layer_weights["gate"])
        per_layer.append(layer_weights)
    return per_layer


def numpy_mlp(x, per_layer, activation, batch_stats=False):
    hidden = x
    for weights in per_layer:
        hidden = hidden @ weights["dense"][0]
        if "norm" in weights:
            gamma, beta, mean, var = weights["norm"]
            if batch_stats:
                mean, var = hidden.mean(0), hidden.var(0)
            hidden = gamma * (hidden - mean) / np.sqrt(var + BN_EPSILON) + beta
        else:
            hidden = hidden + weights["dense"][1]
        hidden = activation(hidden)
        if "gate" in weights:
            kernel, bias = weights["gate"]
            hidden = hidden * sigmoid(hidden @ kernel + bias)
    return hidden


@pytest.mark.parametrize("use_batch_norm", [False, True])
@pytest.mark.parametrize("use_gates", [False, True])
def test_gated_mlp_matches_numpy(use_batch_norm, use_gates):
    mlp = GatedMLP(units=[7, 4, 3], activation="tanh", use_batch_norm=use_batch_norm,
                   use_gates=use_gates)
    mlp.build((None, 5))
    per_layer = set_mlp_weights(mlp)
    x = inputs()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(mlp(x, training=False)),
                               numpy_mlp(x, per_layer, np.tanh), rtol=1e-5, atol=1e-5)
    if use_batch_norm:
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(mlp(x, training=True)),
            numpy_mlp(x, per_layer, np.tanh, batch_stats=True), rtol=1e-4, atol=1e-4)


def test_dropout_only_in_training():
    mlp = GatedMLP(units=[64], dropout=0.5)
    mlp.build((None, 5))
    per_layer = set_mlp_weights(mlp)
    x = inputs(batch=100)
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    reference = numpy_mlp(x, per_layer, relu)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(mlp(x)), reference, rtol=1e-5,
                               atol=1e-6)
    trained = keras.ops.convert_to_numpy(mlp(x, training=True))
    kept = trained != 0
    assert 0.35 < kept[reference != 0].mean() < 0.65
    np.testing.assert_allclose(trained[kept], 2.0 * reference[kept], rtol=1e-5, atol=1e-6)


def test_weight_shapes_and_counts():
    mlp = GatedMLP(units=[6, 3], use_batch_norm=True, gate_granularity="vector")
    mlp.build((None, 4))
    assert_weight_shapes(mlp, {
        "dense_0/kernel": (4, 6), "dense_1/kernel": (6, 3),
        "batch_norm_0/gamma": (6,), "batch_norm_0/beta": (6,),
        "batch_norm_0/moving_mean": (6,), "batch_norm_0/moving_variance": (6,),
        "batch_norm_1/gamma": (3,), "batch_norm_1/beta": (3,),
        "batch_norm_1/moving_mean": (3,), "batch_norm_1/moving_variance": (3,),
        "gate_0/gate_kernel": (6, 1), "gate_0/gate_bias": (1,),
        "gate_1/gate_kernel": (3, 1), "gate_1/gate_bias": (1,)})
    bit = GatedMLP(units=[6, 3])
    bit.build((None, 4))
    assert bit.count_params() == (4 * 6 + 6) + (6 * 3 + 3) + (6 * 6 + 6) + (3 * 3 + 3)


def test_large_mlp_builds_and_runs():
    mlp = GatedMLP(units=LARGE_MLP_UNITS, gate_granularity="vector")
    out = mlp(inputs(batch=2, width=32))
    assert tuple(out.shape) == (2, 3500)
    dense = (32 * 3500 + 3500) + 3 * (3500 * 3500 + 3500)
    assert mlp.count_params() == dense + 4 * (3500 + 1)


def test_gradients_finite_and_nonzero():
    x = inputs()
    model = functional_model(GatedMLP(units=[8, 4], use_batch_norm=True, dropout=0.1), x)
    assert_gradients_finite_nonzero(model, x)


@pytest.mark.parametrize("kwargs, name", [
    ({"units": []}, "units"), ({"units": [4, 0]}, "units"), ({"units": 4}, "units"),
    ({"units": [4.0]}, "units"), ({"units": [4], "dropout": 1.0}, "dropout"),
    ({"units": [4], "dropout": -0.1}, "dropout"), ({"units": [4], "activation": "nope"},
                                                   "activation"),
    ({"units": [4], "use_batch_norm": 1}, "use_batch_norm"),
    ({"units": [4], "use_gates": "yes"}, "use_gates"),
    ({"units": [4], "gate_granularity": "row"}, "gate_granularity"),
    ({"units": [4], "use_gates": False, "gate_granularity": "row"}, "gate_granularity"),
])
def test_invalid_mlp_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GatedMLP(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    ({"granularity": "row"}, "granularity"), ({"gate_activation": "nope"}, "gate_activation")])
def test_invalid_gate_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DenseGate(**kwargs)


def test_config_round_trip():
    gate = assert_config_round_trip(DenseGate(granularity="vector", gate_activation="tanh"))
    assert gate.granularity == "vector"
    mlp = assert_config_round_trip(GatedMLP(units=[5, 2], activation="gelu", dropout=0.2,
                                            use_batch_norm=True, gate_granularity="vector",
                                            kernel_regularizer="l2"))
    assert mlp.units == [5, 2] and mlp.dropout == 0.2 and len(mlp.norm_layers) == 2


def test_functional_model_save_and_reload(tmp_path):
    x = inputs()
    model = functional_model(GatedMLP(units=[8, 4], use_batch_norm=True, dropout=0.3), x)
    model.compile("adam", "mse")
    model.fit(x, np.ones((len(x), 4), "float32"), epochs=2, verbose=0)  # moves BN statistics
    assert_save_reload_equal(model, x, tmp_path, atol=1e-5)


def test_doctests():
    assert_doctests_pass(gating)
