"""Low-rank DCNv2 cross layer and a stacked cross network (LiRank §3.3)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from lirank_tf.layers.validation import check_last_dim, check_positive_int
from lirank_tf.layers.weight_options import set_weight_options, weight_options_config


@keras.saving.register_keras_serializable(package="lirank_tf")
class LowRankCross(keras.layers.Layer):
    """DCNv2 cross layer whose weight matrix is factored into two skinny matrices.

    For the input features ``x_0`` and the previous layer's output ``x_l`` (both of width d):

        x_{l+1} = x_0 ⊙ (U (V x_l) + b) + x_l

    with V (r x d), U (d x r), b (d) and rank r << d: 2 d r + d weights instead of the
    d^2 + d of the full-rank DCNv2 layer ``x_0 ⊙ (W x_l + b) + x_l`` (used when ``rank`` is
    None). Keras multiplies row vectors, so the weights are stored transposed:
    ``down_kernel`` = V^T of shape (d, r) and ``up_kernel`` = U^T of shape (r, d); the weight
    order of ``get_weights`` is ``[down_kernel, up_kernel, bias]`` (``[kernel, bias]`` at full
    rank). Call as ``layer(x0)`` for the first layer of a stack (x_l = x_0) and as
    ``layer(x0, x)`` afterwards; inputs have shape (..., d).

    Args:
        rank: int or None, default None. Rank r of the factorisation; None builds the
            full-rank d x d kernel.
        use_bias: bool, default True. Whether to add the bias b.
        kernel_initializer: initializer, default "glorot_uniform". Initializer of the kernels.
        bias_initializer: initializer, default "zeros". Initializer of b.
        kernel_regularizer: regularizer or None, default None. Applied to every kernel.
        bias_regularizer: regularizer or None, default None. Applied to b.
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> import numpy as np
        >>> layer = LowRankCross(rank=2, kernel_initializer="ones")
        >>> x0 = np.array([[1.0, 2.0]], dtype="float32")
        >>> keras.ops.convert_to_numpy(layer(x0))  # x0 * (U V x0) + x0 = [1, 2] * 6 + [1, 2]
        array([[ 7., 14.]], dtype=float32)

    References:
        LiRank (KDD'24) §3.3 "Residual DCN"; Wang et al., "DCN V2" (WWW'21), eq. 1 and the
        low-rank cross layer of §5.
    """

    def __init__(
        self,
        rank: int | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rank = None if rank is None else check_positive_int("rank", rank)
        if not isinstance(use_bias, bool):
            raise ValueError(f"use_bias must be a bool, got {use_bias!r}")
        self.use_bias = use_bias
        set_weight_options(self, kernel_initializer=kernel_initializer,
                           bias_initializer=bias_initializer,
                           kernel_regularizer=kernel_regularizer,
                           bias_regularizer=bias_regularizer)

    def build(self, x0_shape: tuple, x_shape: tuple | None = None) -> None:
        width = check_last_dim("x0", x0_shape)
        if x_shape is not None and check_last_dim("x", x_shape) != width:
            raise ValueError(f"x must have the width of x0 ({width}), got shape {tuple(x_shape)}")
        if self.rank is None:
            self.kernel = self.add_weight(
                name="kernel", shape=(width, width), initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer)
        else:
            self.down_kernel = self.add_weight(
                name="down_kernel", shape=(width, self.rank),
                initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
            self.up_kernel = self.add_weight(
                name="up_kernel", shape=(self.rank, width),
                initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(width,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer)

    def call(self, x0: Any, x: Any = None) -> Any:
        if x is None:
            x = x0
        if self.rank is None:
            mixed = ops.matmul(x, self.kernel)
        else:
            mixed = ops.matmul(ops.matmul(x, self.down_kernel), self.up_kernel)
        if self.bias is not None:
            mixed = mixed + self.bias
        return x0 * mixed + x

    def compute_output_shape(self, x0_shape: tuple, x_shape: tuple | None = None) -> tuple:
        return tuple(x0_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            rank=self.rank,
            use_bias=self.use_bias,
            **weight_options_config(self),
        )
        return config


@keras.saving.register_keras_serializable(package="lirank_tf")
class CrossNetwork(keras.layers.Layer):
    """A stack of `LowRankCross` layers sharing the same x_0 (DCNv2's "stacked" cross network).

        x_1 = cross_0(x_0, x_0),  x_{l+1} = cross_l(x_0, x_l),  output = x_L

    Args:
        num_layers: int, default 2. Number L of cross layers (LiRank found two sufficient).
        rank: int or None, default None. Rank of every cross layer; None is full rank.
        use_bias: bool, default True. Whether each cross layer adds its bias.
        kernel_initializer: initializer, default "glorot_uniform".
        bias_initializer: initializer, default "zeros".
        kernel_regularizer: regularizer or None, default None.
        bias_regularizer: regularizer or None, default None.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> network = CrossNetwork(num_layers=2, rank=1, kernel_initializer="ones")
        >>> x0 = np.array([[1.0, 1.0]], dtype="float32")
        >>> keras.ops.convert_to_numpy(network(x0))  # x1 = 1 * 2 + 1 = 3; x2 = 1 * 6 + 3 = 9
        array([[9., 9.]], dtype=float32)

    References:
        LiRank (KDD'24) §3.3; Wang et al., "DCN V2" (WWW'21), Fig. 2 (stacked structure).
    """

    def __init__(
        self,
        num_layers: int = 2,
        rank: int | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.cross_layers = [
            LowRankCross(
                rank=rank, use_bias=use_bias, kernel_initializer=kernel_initializer,
                bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                bias_regularizer=bias_regularizer, name=f"cross_{index}")
            for index in range(self.num_layers)
        ]

    def build(self, input_shape: tuple) -> None:
        check_last_dim("inputs", input_shape)
        for layer in self.cross_layers:
            layer.build(input_shape, input_shape)

    def call(self, inputs: Any) -> Any:
        x = inputs
        for layer in self.cross_layers:
            x = layer(inputs, x)
        return x

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        first = self.cross_layers[0].get_config()
        config.update(num_layers=self.num_layers)
        for key in ("rank", "use_bias", "kernel_initializer", "bias_initializer",
                    "kernel_regularizer", "bias_regularizer"):
            config[key] = first[key]
        return config
