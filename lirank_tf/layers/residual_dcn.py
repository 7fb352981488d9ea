"""Residual DCN: a low-rank cross and an attention low-rank cross in parallel, stacked (§3.3)."""

from __future__ import annotations

from typing import Any

import keras

from lirank_tf.layers.attention_cross import AttentionLowRankCross
from lirank_tf.layers.low_rank_cross import LowRankCross
from lirank_tf.layers.validation import check_last_dim, check_positive_int


@keras.saving.register_keras_serializable(package="lirank_tf")
class ResidualDCN(keras.layers.Layer):
    """Stack of Residual DCN layers, each a plain and an attention low-rank cross in parallel.

    Layer l runs `LowRankCross` c_l and `AttentionLowRankCross` a_l on the same (x_0, x_l) and
    averages them:

        x_{l+1} = (c_l(x_0, x_l) + a_l(x_0, x_l)) / 2
                = x_0 ⊙ ((U_c V_c x_l + b_c + U_a m_l + b_a) / 2) + x_l

    The average keeps the residual x_l with weight 1 (a sum would double it at every layer,
    2^L over L layers) and adds no parameters; the two branches' cross terms are each halved,
    which their weights absorb. Output = x_L, same shape as the input (..., d).

    Args:
        num_layers: int, default 2. Number of stacked Residual DCN layers.
        rank: int, default 16. Rank of both branches' low-rank maps.
        temperature: float > 0, default 1.0. Attention temperature of the attention branch.
        attention_skip: bool, default True. Skip connection around the attention (see
            `AttentionLowRankCross`).
        use_bias: bool, default True.
        kernel_initializer: initializer, default "glorot_uniform".
        bias_initializer: initializer, default "zeros".
        kernel_regularizer: regularizer or None, default None.
        bias_regularizer: regularizer or None, default None.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> layer = ResidualDCN(num_layers=1, rank=2, attention_skip=False,
        ...                     kernel_initializer="ones")
        >>> x0 = np.array([[1.0, 2.0]], dtype="float32")
        >>> # Both branches give x0 * 6 + x0 with all-ones kernels (uniform attention).
        >>> keras.ops.convert_to_numpy(layer(x0))
        array([[ 7., 14.]], dtype=float32)

    References:
        LiRank (KDD'24) §3.3 "Residual DCN" (parallel low-rank and attention low-rank cross
        nets) and Table 6 ("+ Residual DCN").
    """

    def __init__(
        self,
        num_layers: int = 2,
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
        self.num_layers = check_positive_int("num_layers", num_layers)
        check_positive_int("rank", rank)
        common = dict(rank=rank, use_bias=use_bias, kernel_initializer=kernel_initializer,
                      bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                      bias_regularizer=bias_regularizer)
        self.cross_layers = [LowRankCross(name=f"cross_{index}", **common)
                             for index in range(self.num_layers)]
        self.attention_layers = [
            AttentionLowRankCross(temperature=temperature, attention_skip=attention_skip,
                                  name=f"attention_cross_{index}", **common)
            for index in range(self.num_layers)
        ]

    def build(self, input_shape: tuple) -> None:
        check_last_dim("inputs", input_shape)
        for cross, attention in zip(self.cross_layers, self.attention_layers):
            cross.build(input_shape, input_shape)
            attention.build(input_shape, input_shape)

    def call(self, inputs: Any) -> Any:
        x = inputs
        for cross, attention in zip(self.cross_layers, self.attention_layers):
            x = 0.5 * (cross(inputs, x) + attention(inputs, x))
        return x

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        attention = self.attention_layers[0].get_config()
        config.update(num_layers=self.num_layers)
        for key in ("rank", "temperature", "attention_skip", "use_bias", "kernel_initializer",
                    "bias_initializer", "kernel_regularizer", "bias_regularizer"):
            config[key] = attention[key]
        return config
