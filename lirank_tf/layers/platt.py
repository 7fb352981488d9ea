"""Platt scaling of a logit: ``slope * logit + bias``, with both numbers fitted after training.

The layer's two weights are not trained by ``model.fit`` (they start as the identity, slope 1
and bias 0); `lirank_tf.training.platt` fits them on held-out data by log loss once training
is over and writes them into the layer, so the saved model, its evaluation and its export all
score with them. A positive slope keeps the order of the scores: AUC is unchanged, only the
probabilities move.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="lirank_tf")
class PlattScaling(keras.layers.Layer):
    """``slope * logits + bias`` with scalar, non-trainable ``slope`` (1.0) and ``bias`` (0.0).

    Args:
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> layer = PlattScaling()
        >>> layer.build((None, 1))
        >>> layer.set_weights([np.array(0.5, "float32"), np.array(1.0, "float32")])
        >>> keras.ops.convert_to_numpy(layer(np.array([[2.0], [-4.0]], "float32"))).ravel()
        array([ 2., -1.], dtype=float32)

    References: J. Platt, Probabilistic outputs for support vector machines (1999).
    """

    def build(self, input_shape: tuple) -> None:
        self.slope = self.add_weight(name="slope", shape=(), initializer="ones",
                                     trainable=False)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros",
                                    trainable=False)

    def call(self, logits: tf.Tensor) -> tf.Tensor:
        return logits * tf.cast(self.slope, logits.dtype) + tf.cast(self.bias, logits.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape
