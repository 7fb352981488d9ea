"""Masked pooling of a sequence of embeddings (id lists, member history)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

POOLING_MODES = ("sum", "mean")


@keras.saving.register_keras_serializable(package="lirank_tf")
class MaskedPooling(keras.layers.Layer):
    """Sum or mean of the embeddings of the real (unmasked) steps of a sequence.

        sum:   out = sum_t m_t e_t
        mean:  out = sum_t m_t e_t / max(1, sum_t m_t)

    for embeddings e ``[batch, T, d]`` and mask m ``[batch, T]`` (bool or 0/1 floats). An
    empty row (no real step) gives zeros. It pools the per-step output of a sequence-mode
    ``QRHashEmbedding`` (id lists) and the (item + action) steps of the member history.

    Args:
        mode: "mean" (default) or "sum".
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> steps = np.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]], dtype="float32")
        >>> mask = np.array([[True, True, False]])
        >>> keras.ops.convert_to_numpy(MaskedPooling("mean")(steps, mask))
        array([[2., 3.]], dtype=float32)

    References: LiRank §A.1 (pooled sparse id features), §3.7 (member history).
    """

    def __init__(self, mode: str = "mean", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in POOLING_MODES:
            raise ValueError(f"mode must be one of {POOLING_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, embeddings: Any, mask: Any) -> Any:
        weights = ops.expand_dims(ops.cast(mask, embeddings.dtype), -1)
        total = ops.sum(embeddings * weights, axis=-2)
        if self.mode == "sum":
            return total
        return total / ops.maximum(ops.sum(weights, axis=-2), 1.0)

    def compute_output_shape(self, embeddings_shape: tuple, mask_shape: tuple | None = None) -> tuple:
        return tuple(embeddings_shape[:-2]) + (embeddings_shape[-1],)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(mode=self.mode)
        return config
