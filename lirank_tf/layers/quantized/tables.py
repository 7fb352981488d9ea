"""Row-wise 8-bit quantization of embedding tables in NumPy: middle-max (and the min-max baseline).

Middle-max (LiRank §3.13) stores, for every row ``i`` of a table ``X``, signed integers
``X_int`` in ``[-2**(bits-1), 2**(bits-1) - 1]`` plus a float ``middle`` and ``scale``::

    levels  = 2**bits - 1                                   # 255 for 8 bits
    scale_i  = (max_i - min_i) / levels
    middle_i = (max_i * 2**(bits-1) + min_i * (2**(bits-1) - 1)) / levels
    X_int    = round((X_i - middle_i) / scale_i)            # in [-128, 127]
    X_deq    = middle_i + X_int * scale_i

so ``min_i`` maps to -128 and ``max_i`` to 127 exactly (``middle_i = min_i + 128 * scale_i``).

Note on the paper's text: it prints both denominators as ``2**(bits-1)`` (128). Taken
literally that is not translation-invariant (``middle = max + min * 127/128``) and
contradicts the paper's own claim that ``X_int`` falls within [-128, 127]: a row spanning
[9, 11] would give ``X_int`` down to -698, and a row spanning [-1, 1] uses only
[-65, 64] (7 bits). We keep the paper's numerator and use ``2**bits - 1`` as the
denominator, the unique choice that maps [min, max] onto the full int8 range; the tests
check both the literal formula's overflow and this module's range.

Rows with ``max == min`` get ``scale = 0``, ``X_int = 0`` and ``middle = min``
(dequantised exactly). Rounding is half-to-even (``np.rint``), as ``tf.round`` does.

Middle-max and min-max (``q = round((X - min) / scale)`` in [0, 255], stored as uint8) put
the same 256 points on [min, max], so ``X_int = q - 128`` and their rounding errors are
equal, except for values within float32 rounding of a midpoint between two levels (one
level apart; about 4 entries per million of a N(0, 1) table, see
benchmarks/quantization_error.py).
They differ in representation: the signed range makes ``int8 -> int32 -> int8`` casts
lossless (no two's-complement wrap of values in [128, 255]), and values near the row's
middle are reconstructed from a small ``X_int * scale`` term.

Row parameters stored as float16 (``quantize_rows``, the ``--quantize int8`` export's
default) take 4 bytes per row instead of 8: for the Feed model's 30-wide rows the saving is
1 - (30 + 4) / 120 = 72 % instead of 1 - (30 + 8) / 120 = 68 % (the paper's "over 70 %" is
for 128-wide rows, where float32 row parameters suffice).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lirank_tf.layers.validation import check_positive_int


class MiddleMaxQuantizedTable(NamedTuple):
    """Row-wise middle-max quantized table: ``values`` int8 [rows, dim], float32 [rows]."""

    values: np.ndarray
    middle: np.ndarray
    scale: np.ndarray


class MinMaxQuantizedTable(NamedTuple):
    """Row-wise min-max quantized table: ``values`` uint8 [rows, dim], float32 [rows]."""

    values: np.ndarray
    minimum: np.ndarray
    scale: np.ndarray


def _check_table(table: np.ndarray) -> np.ndarray:
    table = np.asarray(table)
    if table.ndim != 2 or not np.issubdtype(table.dtype, np.floating):
        raise ValueError(f"table must be a 2-D float array, got dtype {table.dtype} and shape "
                         f"{table.shape}")
    if not np.all(np.isfinite(table)):
        raise ValueError("table must contain only finite values, got NaN or inf")
    return table.astype(np.float64)


def _check_bits(bits: int) -> int:
    check_positive_int("bits", bits)
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be in [2, 8] (values are stored as int8), got {bits!r}")
    return bits


def quantize_table(table: np.ndarray, bits: int = 8) -> MiddleMaxQuantizedTable:
    """Middle-max row-wise quantization of an embedding table (see the module docstring).

    Args:
        table: float array [rows, dim], finite.
        bits: int in [2, 8], default 8; integers lie in [-2**(bits-1), 2**(bits-1) - 1].

    Returns:
        ``(values, middle, scale)``: int8 [rows, dim], float32 [rows], float32 [rows].

    Example:
        >>> values, middle, scale = quantize_table(np.array([[-1.0, 0.5, 1.0]]))
        >>> values.tolist(), bool(scale[0] == np.float32(2 / 255))
        ([[-128, 63, 127]], True)

    References: LiRank §3.13 (middle-max row-wise embedding-table quantization).
    """
    table = _check_table(table)
    _check_bits(bits)
    half = 2 ** (bits - 1)
    levels = 2**bits - 1
    row_min = table.min(axis=1) if table.shape[1] else np.zeros(table.shape[0])
    row_max = table.max(axis=1) if table.shape[1] else np.zeros(table.shape[0])
    scale = ((row_max - row_min) / levels).astype(np.float32)
    middle = ((row_max * half + row_min * (half - 1)) / levels).astype(np.float32)
    middle = np.where(scale == 0, row_min.astype(np.float32), middle)
    # Integers from the stored float32 middle/scale, so the bound |X - X_deq| <= scale/2
    # holds for what is actually served.
    safe_scale = np.where(scale == 0, 1.0, scale.astype(np.float64))
    ints = np.rint((table - middle[:, None].astype(np.float64)) / safe_scale[:, None])
    values = np.clip(ints, -half, half - 1).astype(np.int8)
    return MiddleMaxQuantizedTable(values, middle, scale)


def dequantize_table(values: np.ndarray, middle: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``middle[:, None] + values * scale[:, None]`` as float32 (inverse of quantize_table)."""
    return (np.asarray(middle, np.float32)[:, None]
            + np.asarray(values).astype(np.float32) * np.asarray(scale, np.float32)[:, None])


def quantize_table_min_max(table: np.ndarray, bits: int = 8) -> MinMaxQuantizedTable:
    """Min-max row-wise quantization (the baseline of LiRank §3.13, Guan et al. 2019).

    ``scale = (max - min) / (2**bits - 1)``, ``q = round((X - min) / scale)`` in
    [0, 2**bits - 1] stored as uint8, ``X_deq = min + q * scale``.

    Args:
        table: float array [rows, dim], finite.
        bits: int in [2, 8], default 8.

    Returns:
        ``(values, minimum, scale)``: uint8 [rows, dim], float32 [rows], float32 [rows].

    Example:
        >>> quantize_table_min_max(np.array([[-1.0, 0.5, 1.0]])).values.tolist()
        [[0, 191, 255]]
    """
    table = _check_table(table)
    _check_bits(bits)
    levels = 2**bits - 1
    row_min = table.min(axis=1) if table.shape[1] else np.zeros(table.shape[0])
    row_max = table.max(axis=1) if table.shape[1] else np.zeros(table.shape[0])
    scale = ((row_max - row_min) / levels).astype(np.float32)
    minimum = row_min.astype(np.float32)
    safe_scale = np.where(scale == 0, 1.0, scale.astype(np.float64))
    ints = np.rint((table - minimum[:, None].astype(np.float64)) / safe_scale[:, None])
    return MinMaxQuantizedTable(np.clip(ints, 0, levels).astype(np.uint8), minimum, scale)


def dequantize_table_min_max(values: np.ndarray, minimum: np.ndarray,
                             scale: np.ndarray) -> np.ndarray:
    """``minimum[:, None] + values * scale[:, None]`` as float32."""
    return (np.asarray(minimum, np.float32)[:, None]
            + np.asarray(values).astype(np.float32) * np.asarray(scale, np.float32)[:, None])


ROW_PARAMS_DTYPES = ("float16", "float32")
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def quantize_rows(table: np.ndarray, row_params_dtype: str = "float16") -> MiddleMaxQuantizedTable:
    """Middle-max int8 row-wise quantization with middle and scale stored as ``row_params_dtype``.

    float32: ``quantize_table``. float16: the middle is
    rounded to float16, the scale is the smallest float16 with which the row's min and max
    lie within [-128, 127] steps of that middle, and the integers are computed from these
    stored values, so every dequantised value ``middle + int * scale`` (in float32) is within
    ``scale / 2`` of the original, as for float32 row parameters.

    Args:
        table: float array [rows, dim], finite, values within the float16 range.
        row_params_dtype: "float16" (default) or "float32".

    Returns:
        ``(values int8 [rows, dim], middle [rows], scale [rows])``.

    Example:
        >>> values, middle, scale = quantize_rows(np.array([[-1.0, 0.5, 1.0]]))
        >>> values.tolist(), middle.dtype.name
        ([[-128, 63, 127]], 'float16')

    References: LiRank §3.13 (middle-max row-wise int8 quantization).
    """
    if row_params_dtype not in ROW_PARAMS_DTYPES:
        raise ValueError(f"row_params_dtype must be one of {ROW_PARAMS_DTYPES}, got "
                         f"{row_params_dtype!r}")
    quantized = quantize_table(table)  # validates the table
    if row_params_dtype == "float32":
        return quantized
    table = np.asarray(table, np.float64)
    if table.size and np.max(np.abs(table)) > _FLOAT16_MAX / 2:
        raise ValueError("table: values beyond the float16 range cannot have float16 row "
                         "parameters; use row_params_dtype='float32'")
    middle = quantized.middle.astype(np.float16)
    middle64 = middle.astype(np.float64)
    low = table.min(axis=1) if table.shape[1] else middle64
    high = table.max(axis=1) if table.shape[1] else middle64
    needed = np.maximum((high - middle64) / 127.0, (middle64 - low) / 128.0)
    scale = needed.astype(np.float16)
    short = scale.astype(np.float64) < needed
    scale[short] = np.nextafter(scale[short], np.float16(np.inf))
    safe_scale = np.where(scale == 0, 1.0, scale.astype(np.float64))
    ints = np.rint((table - middle64[:, None]) / safe_scale[:, None])
    return MiddleMaxQuantizedTable(np.clip(ints, -128, 127).astype(np.int8), middle, scale)
