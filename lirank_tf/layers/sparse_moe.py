"""Sparsely-gated mixture of experts with noisy top-k gating (LiRank §3.5, Shazeer et al.)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from lirank_tf.layers.validation import check_last_dim, check_positive_int, check_positive_int_list

NOISE_EPSILON = 1e-2  # floor of the noise stddev, keeps the smooth load's division finite


def coefficient_of_variation_squared(values: Any) -> Any:
    """CV^2 = variance / mean^2 of a 1-D tensor (0 when all entries are equal)."""
    mean = ops.mean(values)
    return ops.mean(ops.square(values - mean)) / (ops.square(mean) + 1e-10)


def smooth_load(clean_logits: Any, noisy_logits: Any, noise_stddev: Any, selected: Any,
                top_k: int) -> Any:
    """Shazeer et al.'s differentiable load: sum over the batch of P(expert i is in the top k).

    P(x, i) = Phi((clean_i - kth_excluding(noisy, k, i)) / stddev_i), where kth_excluding is the
    k-th largest noisy logit among the other experts: the (k+1)-th largest overall if i is
    selected (in the top k), the k-th largest otherwise. Requires top_k < number of experts.
    Shapes: logits, stddev and the 0/1 ``selected`` mask (batch, experts); result (experts,).
    """
    top_values, _ = ops.top_k(noisy_logits, top_k + 1)
    kth = top_values[:, top_k - 1:top_k]
    kth_plus_one = top_values[:, top_k:top_k + 1]
    threshold = ops.where(selected > 0, kth_plus_one, kth)
    standardized = (clean_logits - threshold) / noise_stddev
    probability = 0.5 * (1.0 + ops.erf(standardized / math.sqrt(2.0)))
    return ops.sum(probability, axis=0)


@keras.saving.register_keras_serializable(package="lirank_tf")
class SparseMoE(keras.layers.Layer):
    """Mixture of small MLP experts, each example routed to its top-k experts by a noisy gate.

        H(x) = x W_g + N(0, 1) * (softplus(x W_noise) + 0.01)      (noise in training only)
        G(x) = softmax(KeepTopK(H(x), k))       (the k kept weights renormalised to sum to 1)
        y    = sum_i G(x)_i E_i(x)

    E_i is an MLP with hidden widths ``expert_units`` (activation ``activation``) and a linear
    output of width ``output_dim``. Load balancing (Shazeer et al. §4) adds, via ``add_loss``,

        importance_weight * CV^2(Importance) + load_weight * CV^2(Load),

    Importance = sum over the batch of G(x), Load = the smooth estimator `smooth_load` (in
    training with noise and k < n) or else the count of examples routed to each expert.
    The experts' weights are stacked (one (n, in, out) kernel per layer) and all experts are
    evaluated with one einsum, then combined with the sparse gates: the result is exactly the
    sparse mixture (unselected experts have gate 0), computed densely, which is fast for the
    small experts of a ranking model and uses stock ops only (TF Serving friendly).
    Weights: ``gate_kernel`` (d, n), ``noise_kernel`` (d, n) if noisy, then
    ``expert_kernel_{l}`` (n, in, out) and ``expert_bias_{l}`` (n, out) per expert layer.
    The gate kernels start at zero (uniform gates, as in the paper).

    Args:
        output_dim: int, required. Output width of every expert and of the layer.
        num_experts: int, default 8. Number n of experts.
        top_k: int in [1, num_experts], default 2. Experts used per example.
        expert_units: list of positive ints, default (). Hidden widths of each expert MLP.
        activation: activation, default "relu". Of the experts' hidden layers.
        noisy_gating: bool, default True. Add the trainable Gaussian noise in training.
        importance_weight: float >= 0, default 0.01. Weight of CV^2(Importance).
        load_weight: float >= 0, default 0.01. Weight of CV^2(Load).
        kernel_initializer: initializer, default "glorot_uniform". For the experts.
        seed: int or None, default None. Seed of the gating noise.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> moe = SparseMoE(output_dim=3, num_experts=4, top_k=2, expert_units=[8])
        >>> y = moe(np.ones((5, 6), dtype="float32"))
        >>> tuple(y.shape), len(moe.losses)
        ((5, 3), 1)
        >>> gates = keras.ops.convert_to_numpy(moe.gates(np.ones((5, 6), dtype="float32")))
        >>> (gates > 0).sum(axis=1).tolist(), gates.sum(axis=1).round(6).tolist()
        ([2, 2, 2, 2, 2], [1.0, 1.0, 1.0, 1.0, 1.0])

    References:
        LiRank (KDD'24) §3.5 and Table 6 ("+ Sparsly Gated MMoE"); Shazeer et al.,
        "Outrageously Large Neural Networks: The Sparsely-Gated Mixture-of-Experts Layer"
        (ICLR'17), §2.1 (noisy top-k gating) and §4 / App. A (importance and load losses).
    """

    def __init__(
        self,
        output_dim: int,
        num_experts: int = 8,
        top_k: int = 2,
        expert_units: Sequence[int] = (),
        activation: Any = "relu",
        noisy_gating: bool = True,
        importance_weight: float = 0.01,
        load_weight: float = 0.01,
        kernel_initializer: Any = "glorot_uniform",
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.num_experts = check_positive_int("num_experts", num_experts)
        self.top_k = check_positive_int("top_k", top_k)
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k must be <= num_experts ({num_experts}), got {top_k!r}")
        self.expert_units = check_positive_int_list("expert_units", expert_units,
                                                    allow_empty=True)
        try:
            self.activation = keras.activations.get(activation)
        except (ValueError, TypeError) as error:
            raise ValueError(f"activation is not a Keras activation: {activation!r}") from error
        if not isinstance(noisy_gating, bool):
            raise ValueError(f"noisy_gating must be a bool, got {noisy_gating!r}")
        self.noisy_gating = noisy_gating
        for name, value in (("importance_weight", importance_weight),
                            ("load_weight", load_weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        self.importance_weight = float(importance_weight)
        self.load_weight = float(load_weight)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 2:
            raise ValueError(f"inputs must have shape (batch, features), got {tuple(input_shape)}")
        width = check_last_dim("inputs", input_shape)
        self.gate_kernel = self.add_weight(
            name="gate_kernel", shape=(width, self.num_experts), initializer="zeros")
        self.noise_kernel = None
        if self.noisy_gating:
            self.noise_kernel = self.add_weight(
                name="noise_kernel", shape=(width, self.num_experts), initializer="zeros")
        self.expert_kernels, self.expert_biases = [], []
        for index, (fan_in, fan_out) in enumerate(zip(
                [width] + self.expert_units, self.expert_units + [self.output_dim])):
            self.expert_kernels.append(self.add_weight(
                name=f"expert_kernel_{index}", shape=(self.num_experts, fan_in, fan_out),
                initializer=self.kernel_initializer))
            self.expert_biases.append(self.add_weight(
                name=f"expert_bias_{index}", shape=(self.num_experts, fan_out),
                initializer="zeros"))

    def _gating(self, inputs: Any, training: bool | None) -> tuple[Any, Any, Any]:
        """Returns (gates (batch, n), importance (n,), load (n,))."""
        clean = ops.matmul(inputs, self.gate_kernel)
        noisy = self.noisy_gating and bool(training)
        logits = clean
        if noisy:
            stddev = ops.softplus(ops.matmul(inputs, self.noise_kernel)) + NOISE_EPSILON
            noise = keras.random.normal(ops.shape(clean), seed=self.seed_generator,
                                        dtype=clean.dtype)
            logits = clean + noise * stddev
        _, top_indices = ops.top_k(logits, self.top_k)
        selected = ops.sum(ops.one_hot(top_indices, self.num_experts, dtype=logits.dtype), axis=1)
        gates = ops.softmax(ops.where(selected > 0, logits, ops.full_like(logits, -math.inf)),
                            axis=-1)
        importance = ops.sum(gates, axis=0)
        if noisy and self.top_k < self.num_experts:
            load = smooth_load(clean, logits, stddev, selected, self.top_k)
        else:
            load = ops.sum(selected, axis=0)
        return gates, importance, load

    def gates(self, inputs: Any, training: bool | None = False) -> Any:
        """The gate weights G(x) of shape (batch, n): k non-zero entries per row, summing to 1."""
        return self._gating(inputs, training)[0]

    def expert_outputs(self, inputs: Any) -> Any:
        """Every expert's output, shape (batch, n, output_dim)."""
        hidden = ops.einsum("bd,edh->beh", inputs, self.expert_kernels[0]) + self.expert_biases[0]
        for kernel, bias in zip(self.expert_kernels[1:], self.expert_biases[1:]):
            hidden = ops.einsum("beh,ehk->bek", self.activation(hidden), kernel) + bias
        return hidden

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        gates, importance, load = self._gating(inputs, training)
        self.add_loss(self.importance_weight * coefficient_of_variation_squared(importance)
                      + self.load_weight * coefficient_of_variation_squared(load))
        return ops.sum(ops.expand_dims(gates, -1) * self.expert_outputs(inputs), axis=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.output_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            output_dim=self.output_dim,
            num_experts=self.num_experts,
            top_k=self.top_k,
            expert_units=list(self.expert_units),
            activation=keras.activations.serialize(self.activation),
            noisy_gating=self.noisy_gating,
            importance_weight=self.importance_weight,
            load_weight=self.load_weight,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            seed=self.seed,
        )
        return config
