"""MaskNet: instance-guided masks in parallel MaskBlocks (Pinterest's MaskNet + DCNv2 block)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from lirank_tf.layers.validation import check_last_dim, check_positive_float, check_positive_int
from lirank_tf.layers.weight_options import set_weight_options, weight_options_config


@keras.saving.register_keras_serializable(package="lirank_tf")
class MaskBlock(keras.layers.Layer):
    """MaskBlock on the feature embedding: an instance-guided mask, then a normalised projection.

    For the input x of width d (all features concatenated):

        mask = W_2 ReLU(W_1 x + b_1) + b_2        W_1: d -> t, W_2: t -> d,
                                                  t = round(projection_ratio * d)
        out  = ReLU(LN_out(W_o (mask ⊙ LN_in(x))))     W_o: d -> output_dim, no bias (LN follows)

    The mask is computed from the example itself (instance-guided) and multiplies the
    layer-normalised input feature-wise; LN_in runs over the whole concatenated vector (the
    MaskNet paper normalises per field; here the fields are already concatenated).
    Sublayers: ``aggregation`` (W_1, b_1), ``mask_projection`` (W_2, b_2), ``input_norm``,
    ``hidden`` (W_o), ``output_norm``.

    Args:
        output_dim: int, required. Width of the block's output.
        projection_ratio: float > 0, default 2.0. t / d, the width of the mask's hidden
            (aggregation) layer relative to the input width.
        kernel_initializer: initializer, default "glorot_uniform".
        kernel_regularizer: regularizer or None, default None.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> block = MaskBlock(output_dim=4, projection_ratio=2.0)
        >>> tuple(block(np.ones((3, 6), dtype="float32")).shape)
        (3, 4)
        >>> block.aggregation.units  # round(2.0 * 6)
        12

    References:
        Wang, She, Zhang, "MaskNet: Introducing Feature-Wise Multiplication to CTR Ranking
        Models by Instance-Guided Mask" (DLP-KDD'21), §3.2-3.3; Pinterest Homefeed ranking
        (shared/papers/pinterest_homefeed_masknet_dcnv2_post.txt).
    """

    def __init__(
        self,
        output_dim: int,
        projection_ratio: float = 2.0,
        kernel_initializer: Any = "glorot_uniform",
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.projection_ratio = check_positive_float("projection_ratio", projection_ratio)
        set_weight_options(self, kernel_initializer=kernel_initializer,
                           kernel_regularizer=kernel_regularizer)

    def build(self, input_shape: tuple) -> None:
        # The sublayers are made here because the mask's widths depend on the input width.
        width = check_last_dim("inputs", input_shape)
        dense = dict(kernel_initializer=self.kernel_initializer,
                     kernel_regularizer=self.kernel_regularizer)
        self.aggregation = keras.layers.Dense(
            max(1, round(self.projection_ratio * width)), activation="relu", name="aggregation",
            **dense)
        self.mask_projection = keras.layers.Dense(width, name="mask_projection", **dense)
        self.input_norm = keras.layers.LayerNormalization(name="input_norm")
        self.hidden = keras.layers.Dense(self.output_dim, use_bias=False, name="hidden", **dense)
        self.output_norm = keras.layers.LayerNormalization(name="output_norm")
        self.aggregation.build(input_shape)
        self.mask_projection.build(tuple(input_shape)[:-1] + (self.aggregation.units,))
        self.input_norm.build(input_shape)
        self.hidden.build(input_shape)
        self.output_norm.build(tuple(input_shape)[:-1] + (self.output_dim,))

    def instance_mask(self, inputs: Any) -> Any:
        """The instance-guided mask W_2 ReLU(W_1 x + b_1) + b_2, same shape as the input."""
        return self.mask_projection(self.aggregation(inputs))

    def call(self, inputs: Any) -> Any:
        masked = self.instance_mask(inputs) * self.input_norm(inputs)
        return ops.relu(self.output_norm(self.hidden(masked)))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)[:-1] + (self.output_dim,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            output_dim=self.output_dim,
            projection_ratio=self.projection_ratio,
            **weight_options_config(self, ("kernel_initializer", "kernel_regularizer")),
        )
        return config


@keras.saving.register_keras_serializable(package="lirank_tf")
class ParallelMaskNet(keras.layers.Layer):
    """Parallel MaskNet: MaskBlocks side by side on the same input, concatenated and projected.

        out = act(W_p concat(MaskBlock_1(x), ..., MaskBlock_B(x)) + b_p)

    Pinterest's Homefeed ranker uses 3 blocks, projection ratio 2.0 and output width 512 in
    front of 4 stacked DCNv2 layers (`CrossNetwork`); the projection W_p gives the cross
    layers their input width. Sublayers ``mask_block_{i}`` and ``output_projection``.

    Args:
        output_dim: int, required. Width of the projected output.
        num_blocks: int, default 3. Number B of parallel MaskBlocks.
        block_output_dim: int, default 512. Output width of each MaskBlock.
        projection_ratio: float > 0, default 2.0. See `MaskBlock`.
        output_activation: activation, default None (linear projection).
        kernel_initializer: initializer, default "glorot_uniform".
        kernel_regularizer: regularizer or None, default None.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> from lirank_tf.layers.low_rank_cross import CrossNetwork
        >>> features = keras.Input(shape=(10,))
        >>> masked = ParallelMaskNet(output_dim=8, num_blocks=3, block_output_dim=16)(features)
        >>> model = keras.Model(features, CrossNetwork(num_layers=4, rank=4)(masked))
        >>> model.predict(np.ones((2, 10), dtype="float32"), verbose=0).shape
        (2, 8)

    References:
        MaskNet (Wang et al., DLP-KDD'21) §3.4.2 "ParaMaskNet"; Pinterest Homefeed MaskNet +
        DCNv2 (shared/papers/pinterest_homefeed_masknet_dcnv2_post.txt).
    """

    def __init__(
        self,
        output_dim: int,
        num_blocks: int = 3,
        block_output_dim: int = 512,
        projection_ratio: float = 2.0,
        output_activation: Any = None,
        kernel_initializer: Any = "glorot_uniform",
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.num_blocks = check_positive_int("num_blocks", num_blocks)
        self.block_output_dim = check_positive_int("block_output_dim", block_output_dim)
        try:
            self.output_activation = keras.activations.get(output_activation)
        except (ValueError, TypeError) as error:
            raise ValueError(f"output_activation is not a Keras activation: "
                             f"{output_activation!r}") from error
        self.mask_blocks = [
            MaskBlock(self.block_output_dim, projection_ratio=projection_ratio,
                      kernel_initializer=kernel_initializer,
                      kernel_regularizer=kernel_regularizer, name=f"mask_block_{index}")
            for index in range(self.num_blocks)
        ]
        self.output_projection = keras.layers.Dense(
            self.output_dim, activation=self.output_activation,
            kernel_initializer=kernel_initializer, kernel_regularizer=kernel_regularizer,
            name="output_projection")

    def build(self, input_shape: tuple) -> None:
        check_last_dim("inputs", input_shape)
        for block in self.mask_blocks:
            block.build(input_shape)
        self.output_projection.build(
            tuple(input_shape)[:-1] + (self.num_blocks * self.block_output_dim,))

    def call(self, inputs: Any) -> Any:
        outputs = [block(inputs) for block in self.mask_blocks]
        merged = outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=-1)
        return self.output_projection(merged)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)[:-1] + (self.output_dim,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        block = self.mask_blocks[0].get_config()
        config.update(
            output_dim=self.output_dim,
            num_blocks=self.num_blocks,
            block_output_dim=self.block_output_dim,
            projection_ratio=block["projection_ratio"],
            output_activation=keras.activations.serialize(self.output_activation),
            kernel_initializer=block["kernel_initializer"],
            kernel_regularizer=block["kernel_regularizer"],
        )
        return config
