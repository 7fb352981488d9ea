"""Layers and helpers of lirank_tf.models (pooling, hash buckets, routing, block options)
against NumPy / mmh3 references."""

import keras
import mmh3
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          functional_model)

from lirank_tf.config import ConfigError, ModelConfig
from lirank_tf.models import calibration, heads, options, pooling, routing
from lirank_tf.models.calibration import HashBuckets
from lirank_tf.models.options import BLOCK_OPTIONS, block_options
from lirank_tf.models.pooling import MaskedPooling
from lirank_tf.models.routing import SelectByHash, id_hashes

STEPS = np.array([[[1.0, 2.0], [3.0, -4.0], [5.0, 6.0]],
                  [[7.0, 8.0], [9.0, 1.0], [2.0, 3.0]],
                  [[4.0, 4.0], [4.0, 4.0], [4.0, 4.0]]], dtype="float32")
MASK = np.array([[True, False, True], [False, False, True], [False, False, False]])


def test_docstring_examples_run():
    for module in (pooling, calibration, routing, options, heads):
        assert_doctests_pass(module)


@pytest.mark.parametrize("mode", ["mean", "sum"])
def test_masked_pooling_matches_numpy(mode):
    weights = MASK[..., None].astype("float64")
    total = (STEPS * weights).sum(axis=1)
    expected = total if mode == "sum" else total / np.maximum(weights.sum(axis=1), 1.0)
    actual = keras.ops.convert_to_numpy(MaskedPooling(mode)(STEPS, MASK))
    np.testing.assert_allclose(actual, expected, rtol=1e-6)
    assert np.all(actual[2] == 0.0)   # an empty row pools to zeros
    float_mask = keras.ops.convert_to_numpy(MaskedPooling(mode)(STEPS, MASK.astype("float32")))
    np.testing.assert_array_equal(float_mask, actual)


def test_masked_pooling_gradients_config_and_round_trips(tmp_path):
    layer = MaskedPooling("mean")
    assert_config_round_trip(layer)
    dense = keras.layers.Dense(2, name="steps")
    model = functional_model(lambda s, m: MaskedPooling("mean")(dense(s), m), [STEPS, MASK])
    assert_gradients_finite_nonzero(model, [STEPS, MASK])
    assert_save_reload_equal(model, [STEPS, MASK], tmp_path)
    with pytest.raises(ValueError, match="mode must be one of .* got 'max'"):
        MaskedPooling("max")


def test_hash_buckets_match_mmh3_and_numpy_floormod():
    ids = ["web", "ios", "android", ""]
    hashes = np.array([mmh3.hash64(s, signed=True)[0] for s in ids], dtype=np.int64)
    other = np.array([-7, 13, 2**62, 0], dtype=np.int64)
    actual = keras.ops.convert_to_numpy(HashBuckets(num_buckets=64)([hashes, other]))
    expected = np.stack([np.mod(hashes, 64), np.mod(other, 64)], axis=1)   # floor modulo
    np.testing.assert_array_equal(actual, expected)
    assert actual.min() >= 0 and actual.max() < 64


def test_hash_buckets_config_round_trip_and_bad_arguments(tmp_path):
    assert_config_round_trip(HashBuckets(num_buckets=8))
    hashes = np.array([3, -9, 40], dtype=np.int64)
    model = functional_model(lambda a, b: HashBuckets(8)([a, b]), [hashes, hashes * 3])
    assert_save_reload_equal(model, [hashes, hashes * 3], tmp_path)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=f"num_buckets must be a positive int, got {bad!r}"):
            HashBuckets(num_buckets=bad)


def test_id_hashes_are_the_transformation_model_hashes():
    values = ["job_search", "jymbii", "member:1234"]
    assert id_hashes(values) == [mmh3.hash64(v, signed=True)[0] for v in values]
    assert id_hashes(["x"], seed=7) == [mmh3.hash64("x", seed=7, signed=True)[0]]


def test_select_by_hash_matches_numpy():
    route_hashes = [101, -202, 303]
    ids = np.array([-202, 303, 101, 999, -202], dtype=np.int64)
    towers = [np.arange(10, dtype="float32").reshape(5, 2) + 100.0 * c for c in range(3)]
    expected_index = np.array([route_hashes.index(i) if i in route_hashes else 1 for i in ids])
    expected = np.stack(towers, axis=1)[np.arange(5), expected_index]
    actual = keras.ops.convert_to_numpy(SelectByHash(route_hashes, default_index=1)(ids, towers))
    np.testing.assert_array_equal(actual, expected)


def test_select_by_hash_gradient_only_reaches_the_chosen_tower(tmp_path):
    ids = np.array([11, 22, 22, 11], dtype=np.int64)
    x = np.arange(12, dtype="float32").reshape(4, 3) / 10.0
    id_input, x_input = keras.Input((), dtype="int64"), keras.Input((3,))
    towers = [keras.layers.Dense(1, name=f"tower_{i}")(x_input) for i in range(2)]
    model = keras.Model([id_input, x_input], SelectByHash([11, 22])(id_input, towers))
    assert_gradients_finite_nonzero(model, [ids, x])
    assert_save_reload_equal(model, [ids, x], tmp_path)
    only_first = np.full(4, 11, np.int64)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model([only_first, x]))
    grads = tape.gradient(loss, model.get_layer("tower_1").trainable_weights)
    assert all(np.all(tf.convert_to_tensor(g).numpy() == 0) for g in grads)


def test_select_by_hash_config_and_bad_arguments():
    assert_config_round_trip(SelectByHash([5, 6], default_index=1))
    for bad, message in [([], "route_hashes must be a non-empty list"),
                         ([1, 1], "route_hashes must be distinct"),
                         (["a"], "route_hashes must hold ints")]:
        with pytest.raises(ValueError, match=message):
            SelectByHash(bad)
    with pytest.raises(ValueError, match=r"default_index must be an int in \[0, 2\), got 2"):
        SelectByHash([1, 2], default_index=2)
    with pytest.raises(ValueError, match="towers must hold 2 tensors"):
        SelectByHash([1, 2])(np.array([1]), [np.ones((1, 1), "float32")])


def test_block_options_merge_defaults_and_reject_unknown_keys():
    model = ModelConfig(options={"transact": {"num_heads": 4}})
    merged = block_options(model, "transact")
    assert merged["num_heads"] == 4 and merged["last_steps"] == BLOCK_OPTIONS["transact"]["last_steps"]
    assert "ffn_dim" not in merged   # None defaults are left to the layer
    with pytest.raises(ConfigError, match=r"model.options.ple: unknown key\(s\) \['levels'\]"):
        block_options(ModelConfig(options={"ple": {"levels": 3}}), "ple")
    with pytest.raises(ConfigError, match="model.options.mmoe: expected a mapping"):
        block_options(ModelConfig(options={"mmoe": [64]}), "mmoe")
