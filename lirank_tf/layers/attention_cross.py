"""Attention low-rank cross layer: DCNv2's low-rank map with self-attention inside (LiRank §3.3)."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from lirank_tf.layers.validation import check_last_dim, check_positive_float, check_positive_int
from lirank_tf.layers.weight_options import set_weight_options, weight_options_config


@keras.saving.register_keras_serializable(package="lirank_tf")
class AttentionLowRankCross(keras.layers.Layer):
    """Low-rank cross layer with scaled dot-product attention between its two low-rank maps.

    The low-rank map V of `LowRankCross` is duplicated into query, key and value maps
    V_q, V_k, V_v (each d -> r). Per example, the r low-rank components attend to each other:

        q = V_q x_l,  k = V_k x_l,  v = V_v x_l                        (each of length r)
        S = softmax_j(q_i k_j / (sqrt(r) * temperature))               (r x r, rows sum to 1)
        m = S v + v   (attention_skip=True)   or   m = S v   (attention_skip=False)
        x_{l+1} = x_0 ⊙ (U m + b) + x_l

    So the attention runs over the r components of the low-rank (feature-interaction) space,
    one r x r score matrix per example: S_ij says how much component i of the projected features
    reads from component j. ``attention_skip`` is the skip connection the paper adds around the
    attention (transformer-style, it keeps the plain low-rank path open and stabilises
    training); a larger ``temperature`` flattens S, a smaller one sharpens it. With S = I and
    ``attention_skip=False`` the layer is exactly `LowRankCross` with V = V_v (see
    `cross_with_scores`); with the skip, S = I gives `LowRankCross` with U doubled.

    Weights (Keras row-vector layout): ``query_kernel``, ``key_kernel``, ``value_kernel`` of
    shape (d, r), ``up_kernel`` = U^T of shape (r, d), ``bias`` of shape (d,), in that order.

    Args:
        rank: int, default 16. Rank r of the low-rank maps.
        temperature: float > 0, default 1.0. Divides the scaled attention logits.
        attention_skip: bool, default True. Adds v to S v (the skip connection).
        use_bias: bool, default True. Whether to add the bias b.
        kernel_initializer: initializer, default "glorot_uniform". For all four kernels.
        bias_initializer: initializer, default "zeros".
        kernel_regularizer: regularizer or None, default None.
        bias_regularizer: regularizer or None, default None.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> layer = AttentionLowRankCross(rank=2, attention_skip=False,
        ...                               kernel_initializer="ones")
        >>> x0 = np.array([[1.0, 2.0]], dtype="float32")
        >>> # q = k = v = [3, 3]: all scores equal, S v = [3, 3], U S v = [6, 6].
        >>> keras.ops.convert_to_numpy(layer(x0))
        array([[ 7., 14.]], dtype=float32)

    References:
        LiRank (KDD'24) §3.3 and Fig. 3 ("attention low-rank cross net"); Vaswani et al.,
        "Attention Is All You Need" (2017), scaled dot-product attention.
    """

    def __init__(
        self,
        rank: int = 16,
        temperature: float = 1.0,
        attention_skip: bool = True,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rank = check_positive_int("rank", rank)
        self.temperature = check_positive_float("temperature", temperature)
        for name, value in (("attention_skip", attention_skip), ("use_bias", use_bias)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be a bool, got {value!r}")
        self.attention_skip = attention_skip
        self.use_bias = use_bias
        set_weight_options(self, kernel_initializer=kernel_initializer,
                           bias_initializer=bias_initializer,
                           kernel_regularizer=kernel_regularizer,
                           bias_regularizer=bias_regularizer)

    def build(self, x0_shape: tuple, x_shape: tuple | None = None) -> None:
        width = check_last_dim("x0", x0_shape)
        if x_shape is not None and check_last_dim("x", x_shape) != width:
            raise ValueError(f"x must have the width of x0 ({width}), got shape {tuple(x_shape)}")

        def kernel(name: str, shape: tuple[int, int]) -> keras.Variable:
            return self.add_weight(name=name, shape=shape, initializer=self.kernel_initializer,
                                   regularizer=self.kernel_regularizer)

        self.query_kernel = kernel("query_kernel", (width, self.rank))
        self.key_kernel = kernel("key_kernel", (width, self.rank))
        self.value_kernel = kernel("value_kernel", (width, self.rank))
        self.up_kernel = kernel("up_kernel", (self.rank, width))
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(width,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)

    def attention_scores(self, x: Any) -> Any:
        """The per-example score matrices S of shape (..., r, r) for the input x_l (..., d)."""
        query = ops.matmul(x, self.query_kernel)
        key = ops.matmul(x, self.key_kernel)
        scale = 1.0 / (math.sqrt(self.rank) * self.temperature)
        logits = ops.expand_dims(query, -1) * ops.expand_dims(key, -2) * scale
        return ops.softmax(logits, axis=-1)

    def cross_with_scores(self, x0: Any, x: Any, scores: Any) -> Any:
        """The cross output for given score matrices (..., r, r), e.g. the identity."""
        value = ops.matmul(x, self.value_kernel)
        mixed = ops.squeeze(ops.matmul(scores, ops.expand_dims(value, -1)), -1)
        if self.attention_skip:
            mixed = mixed + value
        projected = ops.matmul(mixed, self.up_kernel)
        if self.bias is not None:
            projected = projected + self.bias
        return x0 * projected + x

    def call(self, x0: Any, x: Any = None) -> Any:
        if x is None:
            x = x0
        return self.cross_with_scores(x0, x, self.attention_scores(x))

    def compute_output_shape(self, x0_shape: tuple, x_shape: tuple | None = None) -> tuple:
        return tuple(x0_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            rank=self.rank,
            temperature=self.temperature,
            attention_skip=self.attention_skip,
            use_bias=self.use_bias,
            **weight_options_config(self),
        )
        return config
