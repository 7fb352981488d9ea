"""Middle-max / min-max row-wise quantization and QuantizedEmbedding vs NumPy references."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_save_reload_equal, assert_weight_shapes, functional_model)
from stock_ops_check import saved_model_op_types

from lirank_tf.layers import quantization
from lirank_tf.layers.quantization import (QuantizedEmbedding, dequantize_table,
                                           dequantize_table_min_max, quantize_table,
                                           quantize_table_min_max)


def reference_middle_max(table):
    """Row by row, from LiRank §3.13 with denominators 2**bits - 1 (see module docstring)."""
    values = np.zeros(table.shape, np.int64)
    middles, scales = [], []
    for i, row in enumerate(table.astype(np.float64)):
        low, high = row.min(), row.max()
        scale = np.float32((high - low) / 255.0)
        middle = np.float32((high * 128 + low * 127) / 255.0) if scale else np.float32(low)
        for j, x in enumerate(row):
            values[i, j] = round((x - float(middle)) / float(scale)) if scale else 0
        middles.append(middle)
        scales.append(scale)
    return values, np.array(middles), np.array(scales)


def hard_tables():
    normal = np.random.default_rng(3).normal(0.0, 1.0, size=(300, 32)).astype("float32")
    special = np.stack([
        np.linspace(-1, 1, 32), np.linspace(9, 11, 32), np.full(32, 2.5), np.full(32, -7.0),
        np.r_[np.zeros(31), 1000.0], np.linspace(1e-8, 2e-8, 32), np.linspace(-1e4, 3e4, 32),
        np.linspace(5e3, 5e3 + 1, 32),
    ]).astype("float32")
    return {"normal": normal, "special": special}


@pytest.mark.parametrize("name", ["normal", "special"])
def test_middle_max_matches_reference_and_stays_in_int8(name):
    table = hard_tables()[name]
    values, middle, scale = quantize_table(table)
    ref_values, ref_middle, ref_scale = reference_middle_max(table)
    assert values.dtype == np.int8 and middle.dtype == scale.dtype == np.float32
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(scale, ref_scale)
    np.testing.assert_array_equal(middle, ref_middle)
    assert values.min() >= -128 and values.max() <= 127
    # Row extremes use the full range: min -> -128, max -> 127 (non-constant rows).
    varying = scale > 0
    np.testing.assert_array_equal(values[varying].min(axis=1), -128)
    np.testing.assert_array_equal(values[varying].max(axis=1), 127)


@pytest.mark.parametrize("name", ["normal", "special"])
def test_round_trip_error_is_within_half_a_step(name):
    table = hard_tables()[name]
    values, middle, scale = quantize_table(table)
    error = np.abs(dequantize_table(values, middle, scale).astype(np.float64) - table)
    # scale / 2 from rounding, plus float32 rounding of middle + int * scale.
    float_slack = 4 * np.finfo(np.float32).eps * np.abs(table).max(axis=1)
    assert np.all(error <= (scale / 2 + float_slack)[:, None])
    constant = scale == 0
    np.testing.assert_array_equal(dequantize_table(values, middle, scale)[constant],
                                  table[constant])


def test_min_max_baseline_matches_reference_and_range():
    table = hard_tables()["special"]
    values, minimum, scale = quantize_table_min_max(table)
    assert values.dtype == np.uint8
    for i, row in enumerate(table.astype(np.float64)):
        step = np.float32((row.max() - row.min()) / 255.0)
        assert scale[i] == step and minimum[i] == np.float32(row.min())
        expected = [round((x - float(minimum[i])) / float(step)) if step else 0 for x in row]
        np.testing.assert_array_equal(values[i], expected)
    error = np.abs(dequantize_table_min_max(values, minimum, scale) - table)
    float_slack = 4 * np.finfo(np.float32).eps * np.abs(table).max(axis=1)
    assert np.all(error <= (scale / 2 + float_slack)[:, None])


def test_middle_max_and_min_max_share_one_grid_on_normal_tables():
    table = hard_tables()["normal"]
    middle_max = quantize_table(table)
    min_max = quantize_table_min_max(table)
    level_difference = middle_max.values.astype(np.int32) + 128 - min_max.values
    # Same grid: same level except at float32 near-ties, where they differ by one level.
    assert np.abs(level_difference).max() <= 1 and np.mean(level_difference != 0) < 1e-4
    error_middle = dequantize_table(*middle_max) - table
    error_min_max = dequantize_table_min_max(*min_max) - table
    rms_middle, rms_min_max = np.sqrt(np.mean(error_middle**2)), np.sqrt(np.mean(error_min_max**2))
    # Uniform rounding error on the same grid: RMS ~ scale / sqrt(12), equal for both.
    expected_rms = np.sqrt(np.mean(middle_max.scale**2) / 12)
    assert abs(rms_middle - expected_rms) < 0.05 * expected_rms
    assert abs(rms_middle - rms_min_max) < 1e-3 * rms_min_max


def test_paper_formula_read_literally_leaves_int8():
    """Documents why the denominators are 2**bits - 1: with 2**(bits-1) they overflow."""
    row = np.linspace(9.0, 11.0, 5)
    literal_middle = (row.max() * 128 + row.min() * 127) / 128
    literal_scale = (row.max() - row.min()) / 128
    literal_ints = np.round((row - literal_middle) / literal_scale)
    assert literal_ints.min() < -128
    assert quantize_table(row[None, :]).values.min() == -128


@pytest.mark.parametrize("bits", [2, 4, 7])
def test_fewer_bits_use_their_own_signed_range(bits):
    values, middle, scale = quantize_table(hard_tables()["normal"], bits=bits)
    assert values.min() == -(2 ** (bits - 1)) and values.max() == 2 ** (bits - 1) - 1


@pytest.mark.parametrize("table, bits, match", [
    (np.zeros(4, "float32"), 8, "2-D"), (np.zeros((2, 2), "int32"), 8, "float"),
    (np.array([[np.nan, 1.0]]), 8, "finite"), (np.zeros((2, 2)), 9, "bits"),
    (np.zeros((2, 2)), 1, "bits"), (np.zeros((2, 2)), True, "bits"),
])
def test_invalid_tables_and_bits_raise(table, bits, match):
    with pytest.raises(ValueError, match=match):
        quantize_table(table, bits=bits)


def quantized_layer():
    table = hard_tables()["normal"][:50, :8]
    return QuantizedEmbedding.from_table(table), table


def test_layer_lookup_matches_numpy_dequantization():
    layer, table = quantized_layer()
    ids = np.array([[0, 49, 7], [3, 3, 20]])
    values, middle, scale = reference_middle_max(table)
    expected = middle[ids][..., None] + values[ids] * scale[ids][..., None]
    np.testing.assert_allclose(layer(ids).numpy(), expected, rtol=1e-6, atol=1e-6)
    assert np.abs(layer(ids).numpy() - table[ids]).max() <= scale.max() / 2 + 1e-6


def test_layer_weights_are_int8_and_not_trainable():
    layer, _ = quantized_layer()
    assert layer.trainable_weights == []
    assert layer.quantized_values.dtype == "int8"
    assert_weight_shapes(layer, {"quantized_values": (50, 8), "middle": (50,), "scale": (50,)})


def test_from_embedding_quantizes_a_keras_embedding():
    embedding = keras.layers.Embedding(20, 6)
    embedding.build((None,))
    layer = QuantizedEmbedding.from_embedding(embedding)
    table = keras.ops.convert_to_numpy(embedding.embeddings)
    np.testing.assert_allclose(layer(np.arange(20)).numpy(),
                               dequantize_table(*quantize_table(table)), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="embedding"):
        QuantizedEmbedding.from_embedding(keras.layers.Dense(3))


@pytest.mark.parametrize("kwargs, match", [({"input_dim": 0, "output_dim": 2}, "input_dim"),
                                           ({"input_dim": 3, "output_dim": 1.0}, "output_dim")])
def test_invalid_layer_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QuantizedEmbedding(**kwargs)


def test_set_table_checks_the_shape():
    with pytest.raises(ValueError, match="shape"):
        QuantizedEmbedding(4, 3).set_table(np.zeros((3, 4), "float32"))


def test_config_round_trip():
    assert_config_round_trip(QuantizedEmbedding(10, 4))


def test_save_reload_keeps_the_quantized_table(tmp_path):
    layer, _ = quantized_layer()
    ids = np.array([[1, 2], [49, 0], [5, 5]], dtype="int32")
    model = functional_model(layer, ids)
    assert_save_reload_equal(model, ids, tmp_path, atol=0)
    assert not {op for op in saved_model_op_types(tmp_path / "saved_model")
                if op.startswith("Lirank")}
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(reloaded.layers[-1].quantized_values.numpy(),
                                  layer.quantized_values.numpy())


def test_layer_works_in_graph_mode():
    layer, table = quantized_layer()
    lookup = tf.function(layer, input_signature=[tf.TensorSpec([None], tf.int64)])
    np.testing.assert_allclose(lookup(tf.constant([4, 9], tf.int64)).numpy(),
                               layer(np.array([4, 9])).numpy())


def test_docstring_examples_run():
    assert_doctests_pass(quantization)
