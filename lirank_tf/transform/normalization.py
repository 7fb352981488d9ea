"""Normalisation of dense features: statistics fitted on a sample of the training data, and
the standardisation the transformation model applies in training and serving alike.

Every dense value goes through ``standardise``:

1. a non-finite value (NaN, +inf, -inf) is missing: it takes the feature's ``default``, as a
   null does (an infinity carries no magnitude; it comes from a division by zero or an
   overflow upstream, and ranking an item first or last for it would be a bug's decision);
2. a finite value is clipped to the feature's training range ``[minimum, maximum]`` (per
   component), so the model never sees a value beyond those it was fitted on (statistics
   saved before the range was recorded have none: no clipping; a component constant in the
   sample is not clipped either, as it is only centred: see ``fit_dense_statistics``);
3. squash (``transform``), standardise with the mean and std of the squashed sample;
4. the standardised value is bounded to ``+-MAX_ABS_STANDARDISED``, so a huge finite value
   (1e38) that overflows float32 when standardised stays finite. Values of the statistics
   sample never reach the bound: by Samuelson's inequality ``|x - mean| / std <= sqrt(n - 1)``
   for a sample of ``n`` rows, under 1000 below a million rows.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from lirank_tf.config import DenseFeatureConfig


MIN_STD = 1e-6
MAX_ABS_STANDARDISED = 1000.0
FLOAT32_MAX = float(np.finfo(np.float32).max)


def squash(values: tf.Tensor, transform: str) -> tf.Tensor:
    """The heavy-tail transform applied before standardisation."""
    if transform == "log1p":
        return tf.math.log1p(tf.maximum(values, 0.0))
    if transform == "signed_log1p":
        return tf.sign(values) * tf.math.log1p(tf.abs(values))
    if transform == "none":
        return values
    raise ValueError(f"transform must be none, log1p or signed_log1p, got {transform!r}")


def finite_or_default(values: tf.Tensor, default: float,
                      value_range: tuple[tf.Tensor, tf.Tensor] | None = None) -> tf.Tensor:
    """``float32`` values with NaN / +-inf replaced by ``default`` and finite values clipped to
    ``value_range`` (``(minimum, maximum)``, broadcast against the values) when given.

    A float64 value beyond the float32 range is clipped to it (a large finite value, not an
    infinity); integers are cast."""
    values = tf.convert_to_tensor(values)
    if not values.dtype.is_floating:
        values = tf.cast(values, tf.float32)
    finite = tf.math.is_finite(values)
    if values.dtype != tf.float32:
        values = tf.cast(tf.clip_by_value(values, -FLOAT32_MAX, FLOAT32_MAX), tf.float32)
    if value_range is not None:
        values = tf.minimum(tf.maximum(values, value_range[0]), value_range[1])
    return tf.where(finite, values, tf.constant(default, tf.float32))


@dataclasses.dataclass
class DenseStatistics:
    """Per dense feature and component: mean and standard deviation (after ``squash``), and
    the training range ``minimum`` / ``maximum`` of the raw values (before ``squash``).

    The range is optional (None): statistics saved before it was recorded load without it,
    and their transformation model does not clip (it still bounds standardised values).
    ``to_dict`` leaves an absent range out, so such a file is saved again unchanged."""

    mean: dict[str, list[float]]
    std: dict[str, list[float]]
    minimum: dict[str, list[float]] | None = None
    maximum: dict[str, list[float]] | None = None

    def __post_init__(self) -> None:
        if (self.minimum is None) != (self.maximum is None):
            raise ValueError("statistics: minimum and maximum go together, got "
                             f"minimum={self.minimum!r}, maximum={self.maximum!r}")

    def value_range(self, name: str) -> tuple[list[float], list[float]] | None:
        """``(minimum, maximum)`` of feature ``name``, or None without a range for it."""
        if self.minimum is None or name not in self.minimum or name not in self.maximum:
            return None
        return self.minimum[name], self.maximum[name]

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict) -> "DenseStatistics":
        optional = {key: dict(data[key]) for key in ("minimum", "maximum")
                    if data.get(key) is not None}
        return cls(mean=dict(data["mean"]), std=dict(data["std"]), **optional)


def standardise(values: tf.Tensor, feature: DenseFeatureConfig, mean: tf.Tensor, std: tf.Tensor,
                value_range: tuple[tf.Tensor, tf.Tensor] | None = None) -> tf.Tensor:
    """``float32 [batch, feature.size]``: the steps of this module's docstring on ``values``
    (``[batch]`` or ``[batch, feature.size]``) with the feature's statistics."""
    values = tf.reshape(values, [-1, feature.size])
    values = finite_or_default(values, feature.default, value_range)
    standardised = (squash(values, feature.transform) - mean) / std
    return tf.clip_by_value(standardised, -MAX_ABS_STANDARDISED, MAX_ABS_STANDARDISED)


def fit_dense_statistics(dataset: tf.data.Dataset, features: list[DenseFeatureConfig],
                         max_batches: int = 50) -> DenseStatistics:
    """Mean / std of each squashed dense feature, and the range of its raw values, over up to
    ``max_batches`` batches of ``(raw_features, labels)``; NaN and +-inf count as the
    feature's default, as the transformation model treats them.

    A component that is constant in the sample (std below ``MIN_STD``) gets std 1: it is only
    centred, so a value that differs at serving time stays on the scale of its raw difference
    instead of being multiplied by 1 / MIN_STD."""
    raws: dict[str, list[np.ndarray]] = {f.name: [] for f in features}
    squashed: dict[str, list[np.ndarray]] = {f.name: [] for f in features}
    for raw, _ in dataset.take(max_batches):
        for feature in features:
            values = finite_or_default(tf.reshape(raw[feature.name], [-1, feature.size]),
                                       _default(feature))
            raws[feature.name].append(values.numpy())
            squashed[feature.name].append(squash(values, feature.transform).numpy())
    mean, std, minimum, maximum = {}, {}, {}, {}
    for feature in features:
        if not squashed[feature.name]:
            raise ValueError("fit_dense_statistics: the dataset is empty")
        values = np.concatenate(squashed[feature.name]).astype(np.float64)
        mean[feature.name] = values.mean(axis=0).tolist()
        spread = values.std(axis=0)
        std[feature.name] = np.where(spread < MIN_STD, 1.0, spread).tolist()
        raw_values = np.concatenate(raws[feature.name])
        minimum[feature.name] = raw_values.min(axis=0).astype(np.float64).tolist()
        maximum[feature.name] = raw_values.max(axis=0).astype(np.float64).tolist()
    return DenseStatistics(mean=mean, std=std, minimum=minimum, maximum=maximum)


def _default(feature) -> float:
    # a feature spec without a default (a duck-typed one in a test) means 0.0, the config's own
    return getattr(feature, "default", 0.0)
