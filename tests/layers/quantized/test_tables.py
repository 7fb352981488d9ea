"""Middle-max / min-max row-wise quantization (lirank_tf.layers.quantized.tables) vs NumPy
references."""

import numpy as np
import pytest
from layer_checks import assert_doctests_pass
from quantization_reference import hard_tables, reference_middle_max

from lirank_tf.layers.quantized import tables
from lirank_tf.layers.quantized.tables import (dequantize_table, dequantize_table_min_max,
                                               quantize_table, quantize_table_min_max)


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


def test_docstring_examples_run():
    assert_doctests_pass(tables)
