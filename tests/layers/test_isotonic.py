"""Tests of lirank_tf.layers.isotonic against a direct NumPy transcription of eq. 1."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)

from lirank_tf.layers import isotonic
from lirank_tf.layers.isotonic import IsotonicCalibration


def numpy_isotonic(logits, bucket_weights, bias, lower, step, embeddings=None):
    """Eq. 1 with k = the largest j in [0, K-1] with z - step * j > 0 (0 if none), z = y - lower.

    Written per example with explicit loops, independently of the layer's clip formulation.
    """
    num_buckets = len(bucket_weights)
    out = np.zeros(len(logits))
    for n, y in enumerate(logits[:, 0]):
        z = float(y) - lower
        positive = [j for j in range(num_buckets) if z - step * j > 0]
        k = max(positive) if positive else 0
        e = np.zeros(num_buckets) if embeddings is None else embeddings[n]
        total = 0.0
        for i in range(k + 1):
            v_i = step if i < k else z - step * k
            total += max(e[i] + bucket_weights[i], 0.0) * v_i
        out[n] = total + bias
    return out[:, None]


def logit_grid(lower, upper, count=57):
    """Logits spread below, across and above [lower, upper], including bucket boundaries."""
    inside = np.linspace(lower, upper, count)
    return np.concatenate([[lower - 3.0, lower - 0.2], inside, [upper + 0.3, upper + 5.0]]
                          ).astype("float32")[:, None]


def test_identity_at_initialisation():
    layer = IsotonicCalibration(lower=-4.0, upper=4.0, step=0.5)
    logits = logit_grid(-4.0, 4.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(logits)), logits, atol=1e-5)
    with_features = IsotonicCalibration(lower=-4.0, upper=4.0, step=0.5,
                                        calibration_vocab_sizes=[3, 5])
    ids = np.stack([np.arange(len(logits)) % 3, np.arange(len(logits)) % 5], 1).astype("int32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(with_features(logits, ids)), logits,
                               atol=1e-5)


def test_matches_numpy_without_features():
    layer = IsotonicCalibration(lower=-3.0, upper=2.0, step=0.5)
    assert layer.num_buckets == 10
    logits = logit_grid(-3.0, 2.0)
    layer.build((None, 1))
    weights = np.array([0.5, -1.0, 2.0, 0.0, 1.5, 3.0, -0.2, 0.7, 1.1, 0.4], "float32")
    layer.set_weights([weights, np.array(0.25, "float32")])
    expected = numpy_isotonic(logits, weights, 0.25, lower=-3.0, step=0.5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(logits)), expected,
                               rtol=1e-5, atol=1e-5)


def test_matches_numpy_with_calibration_features():
    layer = IsotonicCalibration(lower=-1.0, upper=1.0, step=0.25, calibration_vocab_sizes=[2, 3])
    logits = logit_grid(-1.0, 1.0, count=21)
    ids = np.stack([np.arange(len(logits)) % 2, (np.arange(len(logits)) // 2) % 3], 1)
    layer.build((None, 1), (None, 2))
    weights = np.cos(np.arange(8)).astype("float32")
    table_0 = np.sin(np.arange(16)).reshape(2, 8).astype("float32")
    table_1 = (0.5 * np.cos(np.arange(24) * 1.7)).reshape(3, 8).astype("float32")
    layer.set_weights([weights, np.array(-0.5, "float32"), table_0, table_1])
    embeddings = table_0[ids[:, 0]] + table_1[ids[:, 1]]
    expected = numpy_isotonic(logits, weights, -0.5, lower=-1.0, step=0.25, embeddings=embeddings)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(logits, ids.astype("int64"))),
                               expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("draw", range(20))
def test_monotone_for_any_weights(draw):
    rng = np.random.default_rng(draw)
    layer = IsotonicCalibration(lower=-2.0, upper=3.0, step=0.5, calibration_vocab_sizes=[4])
    layer.build((None, 1), (None, 1))
    layer.set_weights([rng.normal(size=10).astype("float32") * 3,
                       np.array(rng.normal(), "float32"),
                       rng.normal(size=(4, 10)).astype("float32") * 3])
    logits = np.sort(np.concatenate([rng.uniform(-6, 7, 300), layer.bucket_boundaries]))
    logits = logits.astype("float32")[:, None]
    for feature_id in range(4):
        ids = np.full((len(logits), 1), feature_id, "int32")
        out = keras.ops.convert_to_numpy(layer(logits, ids))[:, 0]
        assert np.all(np.diff(out) >= -1e-5), f"not monotone for id {feature_id}"


def test_bucket_count_and_boundaries():
    assert IsotonicCalibration(lower=-8.0, upper=8.0, step=0.1).num_buckets == 160
    assert IsotonicCalibration(lower=0.0, upper=1.0, step=0.3).num_buckets == 4
    assert IsotonicCalibration(lower=0.0, upper=1.0, step=5.0).num_buckets == 1
    np.testing.assert_allclose(IsotonicCalibration(lower=-1.0, upper=1.0, step=0.5)
                               .bucket_boundaries, [-1.0, -0.5, 0.0, 0.5, 1.0])


def test_single_bucket_is_affine():
    layer = IsotonicCalibration(lower=0.0, upper=1.0, step=2.0)
    layer.build((None, 1))
    layer.set_weights([np.array([3.0], "float32"), np.array(1.0, "float32")])
    logits = np.array([[-2.0], [0.5], [7.0]], "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(logits)), 3.0 * logits + 1.0)


def test_weight_shapes():
    layer = IsotonicCalibration(lower=-1.0, upper=1.0, step=0.5, calibration_vocab_sizes=[7, 2])
    layer.build((None, 1), (None, 2))
    assert_weight_shapes(layer, {"bucket_weights": (4,), "bias": (),
                                 "calibration_embedding_0": (7, 4),
                                 "calibration_embedding_1": (2, 4)})
    assert layer.count_params() == 4 + 1 + 28 + 8


def test_gradients_finite_nonzero_and_positive_input_slope():
    logits = logit_grid(-2.0, 2.0, count=33)
    ids = (np.arange(len(logits)) % 3)[:, None].astype("int32")
    layer = IsotonicCalibration(lower=-2.0, upper=2.0, step=0.5, calibration_vocab_sizes=[3])
    assert_gradients_finite_nonzero(functional_model(layer, [logits, ids]), [logits, ids])
    logits_tensor = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(logits_tensor)
        out = layer(logits_tensor, ids)
    slope = tape.gradient(out, logits_tensor).numpy()
    np.testing.assert_allclose(slope, 1.0)  # identity at initialisation, boundaries included


def test_input_slope_is_the_active_bucket_weight():
    layer = IsotonicCalibration(lower=-2.0, upper=2.0, step=0.5)
    layer.build((None, 1))
    weights = np.arange(1, 9).astype("float32") * np.array([1, -1] * 4, "float32")
    layer.set_weights([weights, np.array(0.0, "float32")])
    logits = tf.constant(logit_grid(-2.0, 2.0, count=33))  # includes every boundary
    with tf.GradientTape() as tape:
        tape.watch(logits)
        out = layer(logits)
    slope = tape.gradient(out, logits).numpy()[:, 0]
    for value, actual in zip(logits.numpy()[:, 0], slope):
        positive = [j for j in range(8) if value + 2.0 - 0.5 * j > 0]
        k = max(positive) if positive else 0
        assert actual == pytest.approx(max(weights[k], 0.0)), (value, k)


@pytest.mark.parametrize("kwargs, name", [
    ({"lower": float("nan")}, "lower"), ({"lower": "0"}, "lower"),
    ({"upper": float("inf")}, "upper"), ({"lower": 1.0, "upper": 1.0}, "upper"),
    ({"lower": 2.0, "upper": -2.0}, "upper"), ({"step": 0.0}, "step"), ({"step": -0.5}, "step"),
    ({"calibration_vocab_sizes": [3, 0]}, "calibration_vocab_sizes"),
    ({"calibration_vocab_sizes": []}, "calibration_vocab_sizes"),
    ({"calibration_vocab_sizes": 5}, "calibration_vocab_sizes"),
])
def test_invalid_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        IsotonicCalibration(**kwargs)


def test_invalid_inputs_raise():
    logits = np.zeros((2, 1), "float32")
    with pytest.raises(ValueError, match="logits"):
        IsotonicCalibration()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="calibration_ids is required"):
        IsotonicCalibration(calibration_vocab_sizes=[2])(logits)
    with pytest.raises(ValueError, match="calibration_vocab_sizes is None"):
        IsotonicCalibration()(logits, np.zeros((2, 1), "int32"))
    with pytest.raises(ValueError, match="calibration_ids"):
        IsotonicCalibration(calibration_vocab_sizes=[2])(logits, np.zeros((2, 2), "int32"))


def test_config_round_trip():
    clone = assert_config_round_trip(IsotonicCalibration(lower=-5.0, upper=6.0, step=0.25,
                                                         calibration_vocab_sizes=[10, 4]))
    assert (clone.lower, clone.upper, clone.step, clone.num_buckets) == (-5.0, 6.0, 0.25, 44)
    assert clone.calibration_vocab_sizes == [10, 4]


def test_functional_model_save_and_reload(tmp_path):
    logits = logit_grid(-2.0, 2.0, count=9)
    ids = np.stack([np.arange(len(logits)) % 3, np.arange(len(logits)) % 2], 1).astype("int32")
    layer = IsotonicCalibration(lower=-2.0, upper=2.0, step=0.5, calibration_vocab_sizes=[3, 2])
    model = functional_model(layer, [logits, ids])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    assert_save_reload_equal(model, [logits, ids], tmp_path)


def test_trains_jointly_to_correct_a_miscalibrated_logit():
    # Labels come from sigmoid(2 * logit): the layer must learn a slope near 2 in the middle.
    logits = np.linspace(-3, 3, 400).astype("float32")[:, None]
    labels = (1.0 / (1.0 + np.exp(-2.0 * logits))).astype("float32")
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(
        IsotonicCalibration(lower=-3.0, upper=3.0, step=1.0)(inputs)))
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    before = model.evaluate(logits, labels, verbose=0)
    model.fit(logits, labels, epochs=40, batch_size=100, verbose=0)
    assert model.evaluate(logits, labels, verbose=0) < before - 0.01
    prediction = model.predict(np.array([[1.0]], "float32"), verbose=0)[0, 0]
    assert abs(prediction - 1.0 / (1.0 + np.exp(-2.0))) < 0.03


def test_doctests():
    assert_doctests_pass(isotonic)
