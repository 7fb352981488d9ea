"""Initializer / regularizer options: resolved to Keras objects and serialized back equal."""

import keras
import numpy as np
import pytest

from lirank_tf.layers import LowRankCross
from lirank_tf.layers.weight_options import set_weight_options, weight_options_config


def test_options_resolve_and_round_trip_through_a_layer_config():
    layer = LowRankCross(rank=2, kernel_regularizer=keras.regularizers.L2(0.25),
                         bias_initializer=keras.initializers.Constant(0.5))
    assert isinstance(layer.kernel_regularizer, keras.regularizers.L2)
    clone = LowRankCross.from_config(layer.get_config())
    assert clone.kernel_regularizer.get_config() == {"l2": 0.25}
    x = np.ones((2, 3), "float32")
    clone(x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone.bias), np.full(3, 0.5))


def test_only_initializer_and_regularizer_names_are_options():
    layer = keras.layers.Layer()
    set_weight_options(layer, kernel_initializer="zeros", bias_regularizer=None)
    assert weight_options_config(layer, ("kernel_initializer", "bias_regularizer")) == {
        "kernel_initializer": keras.initializers.serialize(keras.initializers.Zeros()),
        "bias_regularizer": None}
    with pytest.raises(ValueError, match="kernel_constraint"):
        set_weight_options(layer, kernel_constraint="non_neg")
