"""NumPy references of middle-max quantization, and tables that stress it (shared by the tests
of lirank_tf.layers.quantized)."""

import numpy as np


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
