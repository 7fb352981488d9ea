"""Tests of lirank_tf.layers.sparse_moe against loop-based NumPy references."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)

from lirank_tf.layers import sparse_moe
from lirank_tf.layers.sparse_moe import SparseMoE, smooth_load

WIDTH, EXPERTS, OUT = 5, 4, 3


def fixed(shape, scale=0.5, phase=1):
    size = int(np.prod(shape))
    return (scale * np.sin(np.arange(phase, phase + size) * 1.3)).reshape(shape).astype("float32")


def inputs(batch=8, seed=4):
    return np.random.default_rng(seed).normal(size=(batch, WIDTH)).astype("float32")


def cv_squared(values):
    return values.var() / (values.mean() ** 2 + 1e-10)


def numpy_top_k_gates(logits, top_k):
    gates = np.zeros_like(logits, dtype="float64")
    for row, values in enumerate(logits):
        chosen = sorted(range(len(values)), key=lambda i: -values[i])[:top_k]
        weights = np.exp(values[chosen] - values[chosen].max())
        gates[row, chosen] = weights / weights.sum()
    return gates


def numpy_experts(x, kernels, biases):
    outputs = []
    for expert in range(kernels[0].shape[0]):
        hidden = x @ kernels[0][expert] + biases[0][expert]
        for kernel, bias in zip(kernels[1:], biases[1:]):
            hidden = np.maximum(hidden, 0.0) @ kernel[expert] + bias[expert]
        outputs.append(hidden)
    return np.stack(outputs, axis=1)


def built_moe(**kwargs):
    moe = SparseMoE(output_dim=OUT, num_experts=EXPERTS, expert_units=[6], **kwargs)
    moe.build((None, WIDTH))
    weights = [fixed(w.shape, 0.6, 17 * k + 1) for k, w in enumerate(moe.weights)]
    moe.set_weights(weights)
    return moe, {w.path.split("/")[-1]: value for w, value in zip(moe.weights, weights)}


@pytest.mark.parametrize("top_k", [1, 2, 4])
def test_inference_matches_numpy(top_k):
    moe, w = built_moe(top_k=top_k, importance_weight=0.3, load_weight=0.7)
    x = inputs()
    gates = numpy_top_k_gates(x @ w["gate_kernel"], top_k)
    experts = numpy_experts(x, [w["expert_kernel_0"], w["expert_kernel_1"]],
                            [w["expert_bias_0"], w["expert_bias_1"]])
    expected = np.einsum("be,beo->bo", gates, experts)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(moe(x)), expected, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(moe.gates(x)), gates, rtol=1e-5,
                               atol=1e-6)
    expected_loss = 0.3 * cv_squared(gates.sum(0)) + 0.7 * cv_squared((gates > 0).sum(0) * 1.0)
    assert len(moe.losses) == 1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(moe.losses[0]), expected_loss,
                               rtol=1e-4, atol=1e-7)


def test_smooth_load_matches_numpy():
    rng = np.random.default_rng(1)
    clean = rng.normal(size=(6, 5))
    noisy = clean + rng.normal(size=(6, 5))
    stddev = 0.5 + rng.uniform(size=(6, 5))
    top_k = 2
    selected = (numpy_top_k_gates(noisy, top_k) > 0).astype("float64")
    expected = np.zeros(5)
    for b in range(6):
        for i in range(5):
            others = sorted((noisy[b, j] for j in range(5) if j != i), reverse=True)
            threshold = others[top_k - 1]
            z = (clean[b, i] - threshold) / stddev[b, i]
            expected[i] += 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    actual = smooth_load(*(tf.constant(a, tf.float64) for a in (clean, noisy, stddev, selected)),
                         top_k)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(actual), expected, rtol=1e-10)


def test_training_gates_are_noisy_sparse_and_renormalised():
    moe = SparseMoE(output_dim=OUT, num_experts=EXPERTS, top_k=2, seed=3)
    x = inputs(batch=64)
    moe.build((None, WIDTH))  # zero gate kernels: without noise every row picks experts 0, 1
    clean = keras.ops.convert_to_numpy(moe.gates(x))
    # 0.5 to float32 rounding: softmax's vectorised exp may give exp(0) one ulp off 1
    np.testing.assert_allclose(clean[:, :2], 0.5, rtol=1e-6)
    assert np.all(clean[:, 2:] == 0.0)
    noisy = keras.ops.convert_to_numpy(moe.gates(x, training=True))
    assert np.all((noisy > 0).sum(1) == 2)
    np.testing.assert_allclose(noisy.sum(1), 1.0, rtol=1e-6)
    assert np.all((noisy > 0).sum(0) > 0), "noise should spread the rows over all experts"


def test_balancing_loss_gradients_reach_both_gate_kernels():
    moe, _ = built_moe(top_k=2, seed=5)
    x = tf.constant(inputs(batch=32))
    with tf.GradientTape() as tape:
        moe(x, training=True)
        loss = tf.add_n(moe.losses)
    grads = tape.gradient(loss, [moe.gate_kernel, moe.noise_kernel])
    for grad in grads:
        value = tf.convert_to_tensor(grad).numpy()
        assert np.all(np.isfinite(value)) and np.any(value != 0)


def test_no_noise_without_noisy_gating():
    moe, w = built_moe(top_k=2, noisy_gating=False)
    x = inputs()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(moe.gates(x, training=True)),
                               numpy_top_k_gates(x @ w["gate_kernel"], 2), rtol=1e-5, atol=1e-6)


def test_weight_shapes():
    moe, _ = built_moe(top_k=2)
    assert_weight_shapes(moe, {"gate_kernel": (WIDTH, EXPERTS), "noise_kernel": (WIDTH, EXPERTS),
                               "expert_kernel_0": (EXPERTS, WIDTH, 6),
                               "expert_bias_0": (EXPERTS, 6),
                               "expert_kernel_1": (EXPERTS, 6, OUT),
                               "expert_bias_1": (EXPERTS, OUT)})
    plain = SparseMoE(output_dim=2, num_experts=3, top_k=1, noisy_gating=False)
    plain.build((None, 4))
    assert plain.count_params() == 4 * 3 + 3 * 4 * 2 + 3 * 2


def test_gradients_finite_and_nonzero():
    x = inputs(batch=16)
    model = functional_model(SparseMoE(output_dim=OUT, num_experts=EXPERTS, top_k=2,
                                       expert_units=[4], seed=11), x)
    assert_gradients_finite_nonzero(model, x)


def test_fit_includes_balancing_loss():
    x = inputs(batch=64)
    model = functional_model(SparseMoE(output_dim=1, num_experts=EXPERTS, top_k=1,
                                       importance_weight=1.0, load_weight=1.0, seed=2), x)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    history = model.fit(x, x[:, :1], epochs=3, batch_size=16, verbose=0)
    assert len(model.losses) == 1
    assert np.all(np.isfinite(history.history["loss"]))


@pytest.mark.parametrize("kwargs, name", [
    ({"output_dim": 0}, "output_dim"), ({"num_experts": 0}, "num_experts"),
    ({"top_k": 0}, "top_k"), ({"num_experts": 2, "top_k": 3}, "top_k"),
    ({"expert_units": [4, -1]}, "expert_units"), ({"expert_units": "8"}, "expert_units"),
    ({"activation": "nope"}, "activation"), ({"noisy_gating": 1}, "noisy_gating"),
    ({"importance_weight": -1.0}, "importance_weight"),
    ({"load_weight": float("nan")}, "load_weight"), ({"seed": 1.5}, "seed"),
])
def test_invalid_arguments_name_the_argument(kwargs, name):
    arguments = {"output_dim": 2, **kwargs}
    with pytest.raises(ValueError, match=name):
        SparseMoE(**arguments)


def test_invalid_input_rank_raises():
    with pytest.raises(ValueError, match="batch, features"):
        SparseMoE(output_dim=2)(np.zeros((2, 3, 4), "float32"))


def test_config_round_trip():
    clone = assert_config_round_trip(SparseMoE(
        output_dim=4, num_experts=6, top_k=3, expert_units=[8, 8], activation="gelu",
        noisy_gating=False, importance_weight=0.1, load_weight=0.2, seed=7))
    assert (clone.num_experts, clone.top_k, clone.expert_units, clone.seed) == (6, 3, [8, 8], 7)


def test_functional_model_save_and_reload(tmp_path):
    x = inputs()
    model = functional_model(SparseMoE(output_dim=OUT, num_experts=EXPERTS, top_k=2,
                                       expert_units=[6]), x)
    model.set_weights([fixed(w.shape, 0.5, 9 * k) for k, w in enumerate(model.weights)])
    assert_save_reload_equal(model, x, tmp_path)


def test_doctests():
    assert_doctests_pass(sparse_moe)
