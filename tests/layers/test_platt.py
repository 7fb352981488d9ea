"""PlattScaling: slope * logit + bias with non-trainable weights, the identity until set."""

import keras
import numpy as np
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_save_reload_equal, functional_model)

from lirank_tf.layers import platt
from lirank_tf.layers.platt import PlattScaling


def test_identity_until_its_weights_are_set_and_never_trained():
    logits = np.linspace(-3, 3, 7, dtype="float32").reshape(-1, 1)
    layer = PlattScaling()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(logits)), logits)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2


def test_matches_numpy_and_survives_both_round_trips(tmp_path):
    logits = np.random.default_rng(0).normal(size=(16, 1)).astype("float32")
    model = functional_model(PlattScaling(name="click_platt"), logits)
    model.get_layer("click_platt").set_weights([np.array(0.8, "float32"),
                                                np.array(-0.25, "float32")])
    np.testing.assert_allclose(model.predict(logits, verbose=0), 0.8 * logits - 0.25, rtol=1e-6)
    assert_save_reload_equal(model, logits, tmp_path)


def test_config_round_trip():
    assert_config_round_trip(PlattScaling(name="p"))


def test_doctests():
    assert_doctests_pass(platt)
