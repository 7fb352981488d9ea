"""Normalisation statistics of dense features, fitted on a sample of the training data."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from lirank_tf.config import DenseFeatureConfig


MIN_STD = 1e-6


def squash(values: tf.Tensor, transform: str) -> tf.Tensor:
    """The heavy-tail transform applied before standardisation."""
    if transform == "log1p":
        return tf.math.log1p(tf.maximum(values, 0.0))
    if transform == "signed_log1p":
        return tf.sign(values) * tf.math.log1p(tf.abs(values))
    if transform == "none":
        return values
    raise ValueError(f"transform must be none, log1p or signed_log1p, got {transform!r}")


@dataclasses.dataclass
class DenseStatistics:
    """Per dense feature: mean and standard deviation (after ``squash``) of each component."""

    mean: dict[str, list[float]]
    std: dict[str, list[float]]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DenseStatistics":
        return cls(mean=dict(data["mean"]), std=dict(data["std"]))


def fit_dense_statistics(dataset: tf.data.Dataset, features: list[DenseFeatureConfig],
                         max_batches: int = 50) -> DenseStatistics:
    """Mean / std of each squashed dense feature over up to ``max_batches`` batches of
    ``(raw_features, labels)``.

    A component that is constant in the sample (std below ``MIN_STD``) gets std 1: it is only
    centred, so a value that differs at serving time stays on the scale of its raw difference
    instead of being multiplied by 1 / MIN_STD."""
    sums: dict[str, list[np.ndarray]] = {f.name: [] for f in features}
    for raw, _ in dataset.take(max_batches):
        for feature in features:
            values = tf.reshape(tf.cast(raw[feature.name], tf.float32), [-1, feature.size])
            sums[feature.name].append(squash(values, feature.transform).numpy())
    mean, std = {}, {}
    for feature in features:
        if not sums[feature.name]:
            raise ValueError("fit_dense_statistics: the dataset is empty")
        values = np.concatenate(sums[feature.name]).astype(np.float64)
        mean[feature.name] = values.mean(axis=0).tolist()
        spread = values.std(axis=0)
        std[feature.name] = np.where(spread < MIN_STD, 1.0, spread).tolist()
    return DenseStatistics(mean=mean, std=std)
