"""Isotonic calibration layer trained jointly with the model (LiRank §3.4, eq. 1)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from lirank_tf.layers.validation import (check_finite_float, check_positive_float,
                                         check_positive_int_list)


@keras.saving.register_keras_serializable(package="lirank_tf")
class IsotonicCalibration(keras.layers.Layer):
    """Monotone piece-wise linear map of a logit with learned, feature-dependent slopes.

    The logit y is bucketised by ``step`` from ``lower``: with z = y - lower, bucket i covers
    (i * step, (i + 1) * step] and K = ceil((upper - lower) / step) buckets cover the range.
    Eq. 1 of the paper, shifted to start at ``lower``:

        y_cali = sum_{i=0..k} ReLU(e_i + w_i) * v_i + b,
        v_i = step for i < k,  v_k = z - step * k,  k = max{j in [0, K-1] : z - step * j > 0}

    (k = 0 when z <= 0). Outside the range the end buckets extend linearly: below ``lower``
    only bucket 0 is active and v_0 = z < 0 (the slope of bucket 0 continues down), above
    ``upper`` the last bucket's v_{K-1} keeps growing. Every v_i is a non-decreasing function of
    y and every slope ReLU(e_i + w_i) is >= 0, so y_cali is monotone non-decreasing in y for
    any weights and any calibration features. The output is a calibrated logit; apply a
    sigmoid for the probability (pass logits, not probabilities, as the paper requires).

    ``e`` is a K-vector from the calibration features: with ``calibration_vocab_sizes``
    ``[n_1, ..., n_F]`` the layer owns F embedding tables of shape (n_f, K) and
    e = sum_f table_f[id_f], where ``calibration_ids`` is an int tensor (batch, F) of ids in
    [0, n_f) (e.g. device type, channel). Without calibration features e = 0.

    Initialisation is the identity on the logit: w_i = 1, e = 0 (zero tables) and b = lower,
    so y_cali = z + lower = y everywhere, including outside [lower, upper]; the layer starts
    by passing the model's logit through and learns the correction jointly.

    Weights: ``bucket_weights`` (K,), ``bias`` (), then ``calibration_embedding_{f}`` (n_f, K).

    Args:
        lower: float, default -8.0. Start of the bucketised logit range.
        upper: float, default 8.0. End of the range (> lower); the last bucket ends at
            lower + K * step >= upper.
        step: float > 0, default 0.5. Bucket width.
        calibration_vocab_sizes: list of positive ints or None, default None. Vocabulary size
            of each categorical calibration feature.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
        >>> import numpy as np
        >>> layer = IsotonicCalibration(lower=-2.0, upper=2.0, step=1.0)
        >>> logits = np.array([[-3.0], [-0.5], [1.5], [4.0]], dtype="float32")
        >>> keras.ops.convert_to_numpy(layer(logits))[:, 0]  # identity at initialisation
        array([-3. , -0.5,  1.5,  4. ], dtype=float32)
        >>> layer.set_weights([np.array([0.0, 1.0, 2.0, 0.5]), np.array(-2.0)])
        >>> # y = 1.5: z = 3.5, v = [1, 1, 1, 0.5], y_cali = 0 + 1 + 2 + 0.25 - 2 = 1.25
        >>> keras.ops.convert_to_numpy(layer(logits))[:, 0]
        array([-2.  , -1.5 ,  1.25,  2.5 ], dtype=float32)

    References:
        LiRank (KDD'24) §3.4 "Isotonic Calibration Layer in DNN", eq. 1 and Fig. 4.
    """

    def __init__(
        self,
        lower: float = -8.0,
        upper: float = 8.0,
        step: float = 0.5,
        calibration_vocab_sizes: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lower = check_finite_float("lower", lower)
        self.upper = check_finite_float("upper", upper)
        if self.upper <= self.lower:
            raise ValueError(f"upper must be greater than lower ({lower!r}), got {upper!r}")
        self.step = check_positive_float("step", step)
        self.calibration_vocab_sizes = (
            None if calibration_vocab_sizes is None
            else check_positive_int_list("calibration_vocab_sizes", calibration_vocab_sizes))
        # The tolerance keeps e.g. (8 - -8) / 0.1 = 160.00000000000003 at 160 buckets.
        self.num_buckets = max(1, math.ceil((self.upper - self.lower) / self.step - 1e-9))

    @property
    def bucket_boundaries(self) -> np.ndarray:
        """The K + 1 logit values lower, lower + step, ..., lower + K * step."""
        return self.lower + self.step * np.arange(self.num_buckets + 1)

    def build(self, logits_shape: tuple, calibration_ids_shape: tuple | None = None) -> None:
        if len(logits_shape) < 1 or logits_shape[-1] != 1:
            raise ValueError(f"logits must have shape (..., 1), got {tuple(logits_shape)}")
        num_features = len(self.calibration_vocab_sizes or ())
        if calibration_ids_shape is not None and not num_features:
            raise ValueError("calibration_ids was given but calibration_vocab_sizes is None")
        if calibration_ids_shape is not None and calibration_ids_shape[-1] != num_features:
            raise ValueError(
                f"calibration_ids must have shape (..., {num_features}) for "
                f"calibration_vocab_sizes={self.calibration_vocab_sizes}, got "
                f"{tuple(calibration_ids_shape)}")
        self.bucket_weights = self.add_weight(
            name="bucket_weights", shape=(self.num_buckets,), initializer="ones")
        self.bias = self.add_weight(
            name="bias", shape=(), initializer=keras.initializers.Constant(self.lower))
        self.calibration_tables = [
            self.add_weight(name=f"calibration_embedding_{index}",
                            shape=(vocab_size, self.num_buckets), initializer="zeros")
            for index, vocab_size in enumerate(self.calibration_vocab_sizes or ())
        ]
        # Bucket i's v_i is z - i * step clipped to [low_i, high_i]; the end buckets are
        # unbounded (low_0 = -inf, high_{K-1} = inf).
        thresholds = self.step * np.arange(self.num_buckets)
        low = np.zeros(self.num_buckets)
        high = np.full(self.num_buckets, self.step)
        low[0], high[-1] = -np.inf, np.inf
        self._thresholds, self._low, self._high = (
            value.astype(self.compute_dtype) for value in (thresholds, low, high))

    def bucket_lengths(self, logits: Any) -> Any:
        """The v_i of eq. 1, shape (..., K), for logits of shape (..., 1).

        Written with `where` on eq. 1's strict inequalities rather than min/max, so that at a
        bucket boundary z = j * step exactly one bucket (j - 1, whose v equals step there)
        carries the gradient with respect to the logit: the slope is never 0 or doubled.
        """
        shifted = ops.cast(logits, self.compute_dtype) - self.lower - self._thresholds
        partial = ops.where(shifted > self._low, shifted, ops.zeros_like(shifted))
        return ops.where(shifted > self._high, ops.broadcast_to(self._high, ops.shape(shifted)),
                         partial)

    def call(self, logits: Any, calibration_ids: Any = None) -> Any:
        slopes = self.bucket_weights
        if self.calibration_vocab_sizes:
            if calibration_ids is None:
                raise ValueError(
                    "calibration_ids is required with calibration_vocab_sizes="
                    f"{self.calibration_vocab_sizes}")
            ids = ops.cast(calibration_ids, "int32")
            for index, table in enumerate(self.calibration_tables):
                slopes = slopes + ops.take(table, ids[..., index], axis=0)
        elif calibration_ids is not None:
            raise ValueError("calibration_ids was given but calibration_vocab_sizes is None")
        weighted = ops.relu(slopes) * self.bucket_lengths(logits)
        return ops.sum(weighted, axis=-1, keepdims=True) + self.bias

    def compute_output_shape(self, logits_shape: tuple,
                             calibration_ids_shape: tuple | None = None) -> tuple:
        return tuple(logits_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(lower=self.lower, upper=self.upper, step=self.step,
                      calibration_vocab_sizes=self.calibration_vocab_sizes)
        return config
