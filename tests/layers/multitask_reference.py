"""Fixed weights and independent NumPy references for the multi-task head tests."""

from __future__ import annotations

import keras
import numpy as np


def fixed(shape, phase, scale=0.4):
    """Deterministic, non-symmetric values of the given shape."""
    size = int(np.prod(shape))
    return (scale * np.sin(np.arange(phase, phase + size) * 0.73)).reshape(shape).astype("float32")


def assign_fixed_weights(layer: keras.layers.Layer, phase: int = 1) -> dict[str, np.ndarray]:
    """Gives every weight of a built layer fixed values; returns them by path below the layer."""
    weights = {}
    for index, weight in enumerate(layer.weights):
        value = fixed(weight.shape, phase=phase + 53 * index)
        weight.assign(value)
        weights[weight.path[len(layer.path) + 1:]] = value.astype(np.float64)
    return weights


def inputs(batch=6, width=5, seed=11):
    return np.random.default_rng(seed).normal(size=(batch, width)).astype("float32")


def relu(x):
    return np.maximum(x, 0.0)


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def _name(prefix, weight):
    return f"{prefix}/{weight}" if prefix else weight


def dense(x, weights, prefix, activation=None):
    """One Dense layer from weights named ``{prefix}/kernel`` and ``{prefix}/bias``."""
    y = x @ weights[_name(prefix, "kernel")] + weights[_name(prefix, "bias")]
    return relu(y) if activation == "relu" else y


def branch_dense(x, weights, prefix, branch, activation=None):
    """Branch ``branch`` of a ParallelDense layer, as a plain dense layer on ``x``."""
    y = x @ weights[_name(prefix, "kernel")][branch] + weights[_name(prefix, "bias")][branch]
    return relu(y) if activation == "relu" else y


def max_abs_difference(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)
