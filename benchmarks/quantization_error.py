"""Round-trip error of 8-bit row-wise embedding quantization on normal-distributed tables.

    python benchmarks/quantization_error.py [--rows 100000] [--dim 64]

Compares middle-max (LiRank §3.13, as implemented in lirank_tf.layers.quantized.tables),
the min-max baseline, and the paper's middle-max formula read literally (denominators
2**(bits-1), integers clipped to int8), on N(0, sigma^2) tables for a few sigmas and on
a table whose rows are offset (mean 3, as embeddings of a trained model can be).
"""

from __future__ import annotations

import argparse

import numpy as np

from lirank_tf.layers.quantized.tables import (dequantize_table, dequantize_table_min_max,
                                               quantize_table, quantize_table_min_max)


def literal_paper_round_trip(table: np.ndarray) -> tuple[np.ndarray, float]:
    """Dequantised table and the fraction of integers clipped, with 2**(bits-1) denominators."""
    table = table.astype(np.float64)
    low, high = table.min(axis=1, keepdims=True), table.max(axis=1, keepdims=True)
    middle = (high * 128 + low * 127) / 128
    scale = (high - low) / 128
    ints = np.rint((table - middle) / scale)
    clipped = float(np.mean((ints < -128) | (ints > 127)))
    return middle + np.clip(ints, -128, 127) * scale, clipped


def error_row(name: str, table: np.ndarray, dequantized: np.ndarray) -> str:
    error = dequantized.astype(np.float64) - table
    return (f"| {name:<46} | {np.mean(np.abs(error)):.3e} | {np.sqrt(np.mean(error**2)):.3e} "
            f"| {np.max(np.abs(error)):.3e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    differences = []
    print(f"| {'table / method':<46} | mean abs  | RMS       | max abs   |")
    print(f"|{'-' * 48}|-----------|-----------|-----------|")
    for label, mean, sigma in [("N(0, 0.05^2)", 0.0, 0.05), ("N(0, 1)", 0.0, 1.0),
                               ("N(3, 1) (offset rows)", 3.0, 1.0)]:
        table = rng.normal(mean, sigma, size=(args.rows, args.dim)).astype(np.float32)
        literal, clipped = literal_paper_round_trip(table)
        middle_max = dequantize_table(*quantize_table(table))
        min_max = dequantize_table_min_max(*quantize_table_min_max(table))
        print(error_row(f"{label}: middle-max", table, middle_max))
        print(error_row(f"{label}: min-max", table, min_max))
        print(error_row(f"{label}: paper formula literal ({clipped:.0%} clipped)", table,
                        literal))
        levels = (quantize_table(table).values.astype(np.int32) + 128
                  - quantize_table_min_max(table).values)
        differences.append(f"{label}: middle-max and min-max levels differ (by at most "
                           f"{np.abs(levels).max()}) for {np.mean(levels != 0):.2e} of entries")
    print("\n".join(differences))


if __name__ == "__main__":
    main()
