"""L2 regularisation of the embedding rows a batch touches (an activity penalty on lookups)."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lirank_tf")
class TouchedRowL2(keras.layers.Layer):
    """Identity on looked-up embeddings that adds an L2 penalty of those vectors to the loss.

    For a single id per row, embeddings e ``[batch, d]``; for an id list, per-step embeddings
    ``[batch, T, d]`` with ``step_mask`` m ``[batch, T]`` (not named ``mask``: Keras passes
    that argument itself). The penalty added with ``add_loss`` is

        single id:  l2 * mean_b ||e_b||^2
        id list:    l2 * mean_b ( sum_t m_bt ||e_bt||^2 / max(1, sum_t m_bt) )

    so each feature of an example weighs as one vector (a pooled list row counts 1 / length,
    as in its mean-pooled output), and a row is penalised in proportion to how often the
    batch looks it up: rows no example touches get no gradient, so the sparse (AdaGrad,
    ``tf.IndexedSlices``) update stays sparse. This is the per-batch embedding L2 of CTR
    libraries (DIN's mini-batch aware regularisation without its frequency rescaling); unlike
    a ``keras.regularizers.L2`` on the table, its cost does not grow with the table. The
    penalty is on the lookup output, so it applies unchanged to QR-hash embeddings (the sum
    of the looked-up quotient and remainder rows) and to tables sharded over Horovod workers
    (each worker penalises its own batch's vectors; the averaged gradient is the global
    batch's).

    Args:
        l2: float >= 0, required. Penalty coefficient.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> layer = TouchedRowL2(0.5)
        >>> vectors = np.array([[1.0, 2.0], [0.0, 2.0]], dtype="float32")
        >>> out = layer(vectors)
        >>> float(layer.losses[0])   # 0.5 * mean(5, 4)
        2.25

    References: Zhou et al. 2018 (DIN) §4.3 mini-batch aware regularisation; the embedding L2
    of DeepCTR / FuxiCTR; LiRank §3.12 (QR-hash tables).
    """

    def __init__(self, l2: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not math.isfinite(l2) \
                or l2 < 0:
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self.l2 = float(l2)

    def call(self, embeddings: Any, step_mask: Any = None) -> Any:
        squares = ops.sum(ops.square(embeddings), axis=-1)
        if step_mask is None:
            if len(embeddings.shape) != 2:
                raise ValueError("embeddings of rank 3 (an id list) need a mask, got shape "
                                 f"{tuple(embeddings.shape)}")
            per_example = squares
        else:
            weights = ops.cast(step_mask, squares.dtype)
            per_example = ops.sum(squares * weights, axis=-1) / ops.maximum(
                ops.sum(weights, axis=-1), 1.0)
        self.add_loss(self.l2 * ops.mean(per_example))
        return embeddings

    def compute_output_shape(self, embeddings_shape: tuple,
                             step_mask_shape: tuple | None = None) -> tuple:
        return tuple(embeddings_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(l2=self.l2)
        return config
