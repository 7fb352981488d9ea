"""ParallelDense (lirank_tf.layers.parallel_dense) against per-branch NumPy dense layers."""

import keras
import numpy as np
import pytest
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)
from multitask_reference import assign_fixed_weights, branch_dense, inputs

from lirank_tf.layers import parallel_dense
from lirank_tf.layers.parallel_dense import ParallelDense


def test_shared_input_matches_per_branch_dense():
    layer = ParallelDense(3, 4, activation="relu")
    x = inputs()
    layer.build(x.shape)
    weights = assign_fixed_weights(layer)
    expected = np.stack([branch_dense(x, weights, "", n, "relu") for n in range(3)], axis=1)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_per_branch_input_matches_per_branch_dense():
    layer = ParallelDense(3, 2, use_bias=False)
    x = np.stack([inputs(seed=s) for s in range(3)], axis=1)  # [6, 3, 5]
    layer.build(x.shape)
    weights = assign_fixed_weights(layer)
    expected = np.stack([x[:, n] @ weights["kernel"][n] for n in range(3)], axis=1)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert_weight_shapes(layer, {"kernel": (3, 5, 2)})


def test_variance_scaling_init_is_per_branch():
    layer = ParallelDense(8, 100, kernel_initializer="glorot_uniform")
    layer.build((None, 200))
    kernel = layer.kernel.numpy()
    lone_dense_std = np.sqrt(2.0 / (200 + 100))  # Glorot for one Dense(100) on 200 inputs
    for branch in kernel:
        assert abs(branch.std() - lone_dense_std) < 0.05 * lone_dense_std
    assert not np.allclose(kernel[0], kernel[1])  # branches are not copies
    ones = ParallelDense(3, 2, kernel_initializer="ones")
    ones.build((None, 4))
    np.testing.assert_array_equal(ones.kernel.numpy(), np.ones((3, 4, 2)))


def test_gradients_and_save_reload(tmp_path):
    x = inputs()
    model = functional_model(ParallelDense(3, 4, activation="tanh"), x)
    assert_gradients_finite_nonzero(model, x)
    assert_save_reload_equal(model, x, tmp_path)


def test_config_round_trip():
    assert_config_round_trip(ParallelDense(2, 3, activation="relu", use_bias=False,
                                           kernel_initializer=keras.initializers.HeNormal(),
                                           bias_initializer="ones"))


@pytest.mark.parametrize("kwargs, name", [
    ({"num_branches": 0, "units": 2}, "num_branches"), ({"num_branches": 2, "units": 0}, "units"),
    ({"num_branches": 2, "units": 2, "use_bias": "yes"}, "use_bias"),
])
def test_invalid_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ParallelDense(**kwargs)


def test_wrong_input_shapes_raise():
    with pytest.raises(ValueError, match="num_branches"):
        ParallelDense(3, 2).build((None, 4, 5))
    with pytest.raises(ValueError, match="d_in"):
        ParallelDense(3, 2).build((None, 2, 3, 4))


def test_docstring_examples_run():
    assert_doctests_pass(parallel_dense)
