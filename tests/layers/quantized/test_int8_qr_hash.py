"""Int8 QR tables with float16 row parameters (lirank_tf.layers.quantized) against NumPy
and mmh3 references."""

import keras
import mmh3
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_save_reload_equal)

from lirank_tf.layers.qr_hash import QRHashEmbedding
from lirank_tf.layers.quantized.tables import quantize_table
from lirank_tf.layers.quantized import qr_hash, tables
from lirank_tf.layers.quantized.qr_hash import Int8QRHashEmbedding, QuantizedQRHashEmbedding
from lirank_tf.layers.quantized.tables import quantize_rows


def reference_float16_rows(table):
    """Middle-max with float16 row parameters, written from the docstring's definition."""
    table = np.asarray(table, np.float64)
    values, middles, scales = [], [], []
    for row in table:
        low, high = row.min(), row.max()
        middle = np.float16((high * 128 + low * 127) / 255)  # min + 128 * (max - min) / 255
        needed = max((high - float(middle)) / 127, (float(middle) - low) / 128)
        scale = np.float16(needed)
        while float(scale) < needed:  # the smallest float16 >= needed
            scale = np.nextafter(scale, np.float16(np.inf))
        ints = np.rint((row - float(middle)) / float(scale)) if scale else np.zeros_like(row)
        values.append(ints)
        middles.append(middle)
        scales.append(scale)
    return np.array(values), np.array(middles, np.float16), np.array(scales, np.float16)


def dequantized(values, middle, scale):
    return middle.astype(np.float32)[:, None] + values.astype(np.float32) * scale.astype(
        np.float32)[:, None]


def example_table():
    rng = np.random.default_rng(5)
    return np.concatenate([
        rng.normal(scale=0.3, size=(40, 30)),
        rng.normal(loc=3.0, scale=0.05, size=(5, 30)),     # offset rows: middle >> range
        np.full((1, 30), 0.1234567), np.zeros((1, 30)),    # constant rows
        rng.normal(scale=1e-4, size=(2, 30)),               # tiny range
    ]).astype(np.float32)


def test_float16_rows_match_the_reference_and_the_error_bound():
    table = example_table()
    values, middle, scale = quantize_rows(table)
    assert values.dtype == np.int8 and middle.dtype == np.float16 and scale.dtype == np.float16
    ref_values, ref_middle, ref_scale = reference_float16_rows(table)
    np.testing.assert_array_equal(middle, ref_middle)
    np.testing.assert_array_equal(scale, ref_scale)
    np.testing.assert_array_equal(values, ref_values)  # in [-128, 127] without clipping
    error = np.abs(dequantized(values, middle, scale).astype(np.float64) - table)
    bound = scale.astype(np.float64)[:, None] / 2 + 1e-6 * np.abs(table)
    assert np.all(error <= bound)
    # the float16 scale is within a float16 step of the float32 middle-max scale
    float32_scale = quantize_table(table).scale
    normal_rows = slice(0, 40)
    np.testing.assert_allclose(scale[normal_rows].astype(np.float32), float32_scale[normal_rows],
                               rtol=3e-3)


def test_float32_rows_are_the_layers_middle_max():
    table = example_table()
    for got, expected in zip(quantize_rows(table, "float32"), quantize_table(table)):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("table, row_params_dtype, match", [
    (np.zeros((2, 3)), "bfloat16", "row_params_dtype"),
    (np.full((2, 3), 1e5), "float16", "float16 range"),
    (np.array([[0.0, np.nan]]), "float16", "finite"),
    (np.zeros(3), "float16", "2-D"),
])
def test_invalid_tables_raise(table, row_params_dtype, match):
    with pytest.raises(ValueError, match=match):
        quantize_rows(table, row_params_dtype)


def built_float_layer(**kwargs):
    layer = QRHashEmbedding(30, num_quotient_buckets=97, num_remainder_buckets=13, **kwargs)
    layer(tf.constant(["warm-up"]))
    rng = np.random.default_rng(2)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype("float32"))
    return layer


def reference_lookup(layer_weights, ids, quotient_buckets=97, remainder_buckets=13):
    """sum over the halves of quotient + remainder rows, hashed with mmh3."""
    rows = []
    for id_ in ids:
        if id_ == "":
            rows.append(np.zeros(30))
            continue
        unsigned = mmh3.hash64(id_, seed=0, signed=False)[0]
        total = np.zeros(30)
        for half, bits in (("low", unsigned & 0xFFFFFFFF), ("high", unsigned >> 32)):
            total += layer_weights[f"quotient_table_{half}"][(bits // remainder_buckets)
                                                            % quotient_buckets]
            total += layer_weights[f"remainder_table_{half}"][bits % remainder_buckets]
        rows.append(total)
    return np.array(rows)


def test_layer_serves_the_dequantized_reference_tables():
    float_layer = built_float_layer(output_mode="sequence")
    quantized = Int8QRHashEmbedding.from_layer(float_layer)
    tables = {w.path.split("/")[-1]: dequantized(*reference_float16_rows(w.numpy()))
              for w in float_layer.weights}
    ids = ["member:1", "member:2", "", "post:77", "x" * 40]
    embeddings, mask = quantized(tf.constant([ids]))
    np.testing.assert_allclose(embeddings.numpy()[0], reference_lookup(tables, ids),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(mask.numpy()[0], [True, True, False, True, True])
    # and it is close to the float layer: each of 4 rows is off by at most scale / 2
    float_embeddings, _ = float_layer(tf.constant([ids]))
    assert np.max(np.abs(embeddings - float_embeddings)) < 4 * 2.6 / 255


def test_weights_are_int8_values_and_float16_row_parameters():
    quantized = Int8QRHashEmbedding.from_layer(built_float_layer())
    dtypes = {w.path.split("/")[-1]: (w.dtype, tuple(w.shape)) for w in quantized.weights}
    assert dtypes == {
        **{f"{kind}_table_{half}_values": ("int8", (rows, 30))
           for kind, rows in (("quotient", 97), ("remainder", 13)) for half in ("low", "high")},
        **{f"{kind}_table_{half}_{part}": ("float16", (rows,))
           for kind, rows in (("quotient", 97), ("remainder", 13)) for half in ("low", "high")
           for part in ("middle", "scale")},
    }
    assert not quantized.trainable_weights


def test_float32_row_parameters_equal_the_layers_quantized_embedding():
    float_layer = built_float_layer()
    ids = tf.constant(["a", "b", "c", ""])
    ours = Int8QRHashEmbedding.from_layer(float_layer, row_params_dtype="float32")
    theirs = QuantizedQRHashEmbedding.from_layer(float_layer)
    np.testing.assert_array_equal(ours(ids).numpy(), theirs(ids).numpy())


def test_config_round_trip():
    clone = assert_config_round_trip(Int8QRHashEmbedding(
        8, num_quotient_buckets=10, num_remainder_buckets=3, output_mode="sequence",
        hashed_input=True, row_params_dtype="float32"))
    assert clone.row_params_dtype == "float32"


def test_save_reload_equal(tmp_path):
    quantized = Int8QRHashEmbedding.from_layer(built_float_layer())
    ids = tf.constant(["member:1", "member:2", "", "post:77"])
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, quantized(inputs))
    assert_save_reload_equal(model, ids, tmp_path)


def test_from_layer_rejects_unbuilt_and_quantized_layers():
    with pytest.raises(ValueError, match="built, float QRHashEmbedding"):
        Int8QRHashEmbedding.from_layer(QRHashEmbedding(4, 10, 3))
    with pytest.raises(ValueError, match="built, float QRHashEmbedding"):
        Int8QRHashEmbedding.from_layer(Int8QRHashEmbedding.from_layer(built_float_layer()))


def test_set_tables_from_a_layer_of_another_layout_raises():
    quantized = Int8QRHashEmbedding(30, 97, 13, use_both_halves=False)
    with pytest.raises(ValueError, match="use_both_halves"):
        quantized.set_tables_from(built_float_layer())


def test_invalid_row_params_dtype_raises():
    with pytest.raises(ValueError, match="row_params_dtype"):
        Int8QRHashEmbedding(8, 10, 3, row_params_dtype="int8")


def test_registered_and_docstring_examples_run():
    assert keras.saving.get_registered_object("lirank_tf>Int8QRHashEmbedding") \
        is Int8QRHashEmbedding
    assert_doctests_pass(qr_hash)
    assert_doctests_pass(tables)
