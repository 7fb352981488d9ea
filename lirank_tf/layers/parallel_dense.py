"""Several independent dense layers evaluated as one batched einsum (experts, task towers)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

from lirank_tf.layers.validation import check_positive_int


@keras.saving.register_keras_serializable(package="lirank_tf")
class ParallelDense(keras.layers.Layer):
    """``num_branches`` independent dense layers applied in one einsum.

    For branch ``n`` with kernel ``W_n`` [d_in, units] and bias ``b_n``::

        y[:, n, :] = activation(x[:, n, :] @ W_n + b_n)     # per-branch input [B, N, d_in]
        y[:, n, :] = activation(x @ W_n + b_n)              # shared input [B, d_in]

    Used for the experts of MMoE / PLE and for per-task towers, where a Python loop of
    ``Dense`` layers would launch one small matmul per branch.

    Args:
        num_branches: int, number of independent dense layers ``N``.
        units: int, output width of every branch.
        activation: activation name or callable, default None (linear).
        use_bias: bool, default True.
        kernel_initializer: initializer of the kernel [N, d_in, units], default
            ``"glorot_uniform"``. Variance-scaling initializers (Glorot, He, LeCun) are
            rescaled so that each branch gets the variance of a lone ``Dense(units)``
            on ``d_in`` inputs (Keras would count the branches into the fans of a 3-D
            kernel and shrink the variance by ``N``).
        bias_initializer: initializer of the bias [N, units], default ``"zeros"``.

    Example:
        >>> layer = ParallelDense(num_branches=3, units=4, activation="relu")
        >>> tuple(layer(keras.ops.ones((2, 5))).shape)
        (2, 3, 4)

    References: LiRank §3.10 (MMoE and PLE experts, per-task towers).
    """

    def __init__(self, num_branches: int, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.num_branches = check_positive_int("num_branches", num_branches)
        self.units = check_positive_int("units", units)
        if not isinstance(use_bias, bool):
            raise ValueError(f"use_bias must be a bool, got {use_bias!r}")
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape) -> None:
        if len(input_shape) not in (2, 3) or input_shape[-1] is None:
            raise ValueError("ParallelDense expects [batch, d_in] or [batch, num_branches, d_in] "
                             f"with a known d_in, got shape {tuple(input_shape)}")
        if len(input_shape) == 3 and input_shape[1] not in (None, self.num_branches):
            raise ValueError(f"input has {input_shape[1]} branches, expected num_branches="
                             f"{self.num_branches}")
        input_dim = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel",
                                      shape=(self.num_branches, input_dim, self.units),
                                      initializer=self._per_branch_kernel_initializer())
        self.bias = (self.add_weight(name="bias", shape=(self.num_branches, self.units),
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)

    def _per_branch_kernel_initializer(self):
        initializer = self.kernel_initializer
        if not isinstance(initializer, keras.initializers.VarianceScaling):
            return initializer
        # One draw for all branches (a Keras initializer repeats its values when called
        # twice), rescaled by sqrt(N): Keras' fans of a 3-D kernel are N times a branch's.
        branch_gain = math.sqrt(self.num_branches)

        def initialize(shape, dtype=None):
            return initializer(shape, dtype=dtype) * branch_gain

        return initialize

    def call(self, inputs):
        if len(inputs.shape) == 2:
            outputs = ops.einsum("bi,nio->bno", inputs, self.kernel)
        else:
            outputs = ops.einsum("bni,nio->bno", inputs, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_branches, self.units)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "num_branches": self.num_branches, "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config


def parallel_stack(num_branches: int, units: Sequence[int], activation,
                   prefix: str) -> list[ParallelDense]:
    """``ParallelDense`` layers of the given widths (one branch per expert or task)."""
    return [ParallelDense(num_branches, width, activation=activation, name=f"{prefix}_{i}")
            for i, width in enumerate(units)]


def build_stack(layers: Sequence[keras.layers.Layer], input_shape) -> tuple:
    """Builds ``layers`` in sequence from ``input_shape``; returns the output shape."""
    shape = tuple(input_shape)
    for layer in layers:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape


def apply_stack(layers: Sequence[keras.layers.Layer], inputs):
    """Applies ``layers`` in sequence."""
    for layer in layers:
        inputs = layer(inputs)
    return inputs
