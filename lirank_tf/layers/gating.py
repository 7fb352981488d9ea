"""Dense gating of hidden layers (GateNet) and the gated large MLP (LiRank §3.5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from lirank_tf.layers.validation import check_last_dim, check_positive_int_list, check_rate
from lirank_tf.layers.weight_options import set_weight_options, weight_options_config

GATE_GRANULARITIES = ("bit", "vector")

# The largest MLP LiRank tried offline for Feed ("Large MLP", §3.5): 4 layers of width 3500.
LARGE_MLP_UNITS = (3500, 3500, 3500, 3500)


@keras.saving.register_keras_serializable(package="lirank_tf")
class DenseGate(keras.layers.Layer):
    """GateNet hidden gate: scales a hidden layer's output by a gate computed from itself.

        bit-wise:     h' = h ⊙ sigmoid(h W_g + b_g)     W_g (d x d), one gate per unit
        vector-wise:  h' = h * sigmoid(h w_g + b_g)     w_g (d x 1), one gate per example

    GateNet's hidden gate is applied to the activated output h of a hidden layer; its
    ablation found bit-wise gates better, vector-wise gates cost only d + 1 weights. Weights:
    ``gate_kernel`` and ``gate_bias``.

    Args:
        granularity: "bit" (default) or "vector".
        gate_activation: activation, default "sigmoid". Maps the gate logits to gates.
        kernel_initializer: initializer, default "glorot_uniform". For W_g.
        bias_initializer: initializer, default "zeros". For b_g.
        kernel_regularizer: regularizer or None, default None. For W_g.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> gate = DenseGate(kernel_initializer="zeros")  # gates sigmoid(0) = 0.5
        >>> keras.ops.convert_to_numpy(gate(np.array([[2.0, -4.0]], dtype="float32")))
        array([[ 1., -2.]], dtype=float32)

    References:
        LiRank (KDD'24) §3.5 "Dense Gating and Large MLP"; Huang et al., "GateNet:
        Gating-Enhanced Deep Network for Click-Through Rate Prediction" (2020), §3.2 hidden gate.
    """

    def __init__(
        self,
        granularity: str = "bit",
        gate_activation: Any = "sigmoid",
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if granularity not in GATE_GRANULARITIES:
            raise ValueError(f"granularity must be one of {GATE_GRANULARITIES}, "
                             f"got {granularity!r}")
        self.granularity = granularity
        try:
            self.gate_activation = keras.activations.get(gate_activation)
        except (ValueError, TypeError) as error:
            raise ValueError(f"gate_activation is not a Keras activation: "
                             f"{gate_activation!r}") from error
        set_weight_options(self, kernel_initializer=kernel_initializer,
                           bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer)

    def build(self, input_shape: tuple) -> None:
        width = check_last_dim("inputs", input_shape)
        gates = width if self.granularity == "bit" else 1
        self.gate_kernel = self.add_weight(
            name="gate_kernel", shape=(width, gates), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer)
        self.gate_bias = self.add_weight(
            name="gate_bias", shape=(gates,), initializer=self.bias_initializer)

    def call(self, inputs: Any) -> Any:
        gates = self.gate_activation(ops.matmul(inputs, self.gate_kernel) + self.gate_bias)
        return inputs * gates

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            granularity=self.granularity,
            gate_activation=keras.activations.serialize(self.gate_activation),
            **weight_options_config(self, ("kernel_initializer", "bias_initializer",
                                           "kernel_regularizer")),
        )
        return config


@keras.saving.register_keras_serializable(package="lirank_tf")
class GatedMLP(keras.layers.Layer):
    """MLP whose hidden layers are each followed by a GateNet `DenseGate` (LiRank's DG + LMLP).

    Hidden layer l (width units[l]):

        z_l = BN(h_{l-1} W_l)   (use_batch_norm)   or   z_l = h_{l-1} W_l + b_l
        h_l = Dropout(Gate_l(act(z_l)))

    Batch norm sits between the matmul and the activation (the Dense bias is then dropped,
    BN's beta replaces it); the gate, when on, follows the activation; dropout comes last.
    The output is the last hidden layer (width units[-1]); task heads go on top.
    `LARGE_MLP_UNITS` is the paper's 4 x 3500 configuration.

    Args:
        units: list of positive ints, required. Width of each hidden layer.
        activation: activation, default "relu".
        dropout: float in [0, 1), default 0.0. Dropout rate after every hidden layer.
        use_batch_norm: bool, default False. Batch norm before each activation.
        use_gates: bool, default True. Gate every hidden layer (False: a plain MLP).
        gate_granularity: "bit" (default) or "vector". See `DenseGate`.
        kernel_initializer: initializer, default "glorot_uniform". For dense and gate kernels.
        kernel_regularizer: regularizer or None, default None. For dense and gate kernels.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> mlp = GatedMLP(units=[16, 8], dropout=0.1, use_batch_norm=True)
        >>> tuple(mlp(np.ones((4, 5), dtype="float32")).shape)
        (4, 8)

    References:
        LiRank (KDD'24) §3.5 "Dense Gating and Large MLP" and Table 6 ("+ Dense Gating",
        "+ Large MLP"); GateNet (Huang et al., 2020).
    """

    def __init__(
        self,
        units: Sequence[int],
        activation: Any = "relu",
        dropout: float = 0.0,
        use_batch_norm: bool = False,
        use_gates: bool = True,
        gate_granularity: str = "bit",
        kernel_initializer: Any = "glorot_uniform",
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int_list("units", units)
        try:
            self.activation = keras.activations.get(activation)
        except (ValueError, TypeError) as error:
            raise ValueError(f"activation is not a Keras activation: {activation!r}") from error
        self.dropout = check_rate("dropout", dropout)
        for name, value in (("use_batch_norm", use_batch_norm), ("use_gates", use_gates)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be a bool, got {value!r}")
        self.use_batch_norm = use_batch_norm
        self.use_gates = use_gates
        if gate_granularity not in GATE_GRANULARITIES:
            raise ValueError(f"gate_granularity must be one of {GATE_GRANULARITIES}, "
                             f"got {gate_granularity!r}")
        self.gate_granularity = gate_granularity
        set_weight_options(self, kernel_initializer=kernel_initializer,
                           kernel_regularizer=kernel_regularizer)
        self.dense_layers = [
            keras.layers.Dense(width, use_bias=not use_batch_norm,
                               kernel_initializer=self.kernel_initializer,
                               kernel_regularizer=self.kernel_regularizer, name=f"dense_{index}")
            for index, width in enumerate(self.units)
        ]
        self.norm_layers = ([keras.layers.BatchNormalization(name=f"batch_norm_{index}")
                             for index in range(len(self.units))] if use_batch_norm else [])
        self.gate_layers = ([DenseGate(granularity=gate_granularity,
                                       kernel_initializer=self.kernel_initializer,
                                       kernel_regularizer=self.kernel_regularizer,
                                       name=f"gate_{index}")
                             for index in range(len(self.units))] if use_gates else [])
        self.dropout_layer = keras.layers.Dropout(self.dropout) if self.dropout else None

    def build(self, input_shape: tuple) -> None:
        shape = tuple(input_shape)
        check_last_dim("inputs", shape)
        for index, dense in enumerate(self.dense_layers):
            dense.build(shape)
            shape = shape[:-1] + (self.units[index],)
            if self.use_batch_norm:
                self.norm_layers[index].build(shape)
            if self.use_gates:
                self.gate_layers[index].build(shape)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        hidden = inputs
        for index, dense in enumerate(self.dense_layers):
            hidden = dense(hidden)
            if self.use_batch_norm:
                hidden = self.norm_layers[index](hidden, training=training)
            hidden = self.activation(hidden)
            if self.use_gates:
                hidden = self.gate_layers[index](hidden)
            if self.dropout_layer is not None:
                hidden = self.dropout_layer(hidden, training=training)
        return hidden

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)[:-1] + (self.units[-1],)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=list(self.units),
            activation=keras.activations.serialize(self.activation),
            dropout=self.dropout,
            use_batch_norm=self.use_batch_norm,
            use_gates=self.use_gates,
            gate_granularity=self.gate_granularity,
            **weight_options_config(self, ("kernel_initializer", "kernel_regularizer")),
        )
        return config
