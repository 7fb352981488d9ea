"""Input pipelines: Avro files -> raw batches -> transformation model (async) -> prefetch."""

from __future__ import annotations

import glob as globlib
from typing import Sequence

import tensorflow as tf

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.raw_features import label_fields, raw_fields
from lirank_tf.transform import TransformationModel


def expand_globs(patterns: Sequence[str], what: str = "files") -> list[str]:
    """Sorted files matching any of ``patterns``; an error names a pattern matching nothing."""
    files: list[str] = []
    for pattern in patterns:
        matches = sorted(globlib.glob(pattern)) if any(c in pattern for c in "*?[") else (
            [pattern] if tf.io.gfile.exists(pattern) else [])
        if not matches:
            raise FileNotFoundError(f"{what}: {pattern!r} matches no file")
        files.extend(matches)
    return files


def raw_dataset(config: ExperimentConfig, files: Sequence[str], *, shuffle: bool,
                batch_size: int | None = None, seed: int | None = None) -> tf.data.Dataset:
    """``(raw features, {task: label})`` batches of ``files`` with the configured reader."""
    batch_size = batch_size or config.training.batch_size
    fields = raw_fields(config)
    labels = label_fields(config)
    if config.data.reader == "avro_op":
        from lirank_tf.data.avro_pipeline import avro_op_dataset
        return avro_op_dataset(files, fields, labels, batch_size, shuffle=shuffle,
                               shuffle_buffer_size=config.data.shuffle_buffer_size, seed=seed)
    from lirank_tf.data.fastavro_reader import fastavro_dataset
    return fastavro_dataset(files, fields, labels, batch_size, shuffle=shuffle, seed=seed)


def _labels_as_columns(features, labels):
    return features, {task: tf.reshape(tf.cast(value, tf.float32), [-1, 1])
                      for task, value in labels.items()}


def training_dataset(config: ExperimentConfig, files: Sequence[str], transform: TransformationModel,
                     *, shuffle: bool, seed: int | None = None,
                     batch_size: int | None = None) -> tf.data.Dataset:
    """Model-ready batches: the transformation model runs in ``Dataset.map`` with parallel
    calls, overlapping the training step (LiRank §4.3), then batches are prefetched (to the GPU
    when there is one, LiRank §4.4)."""
    dataset = raw_dataset(config, files, shuffle=shuffle, batch_size=batch_size, seed=seed)
    dataset = dataset.map(transform.map_fn(), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(_labels_as_columns, num_parallel_calls=tf.data.AUTOTUNE)
    return prefetch_to_device(dataset)


def prefetch_to_device(dataset: tf.data.Dataset, device: str | None = None,
                       buffer_size: int = 2) -> tf.data.Dataset:
    """Prefetches batches into the memory of ``device`` (default: the first GPU if any),
    so the host-to-device copy overlaps the previous step (LiRank §4.4); on a host without a
    GPU and no ``device`` named it is a plain ``prefetch``. ``prefetch_to_device`` must be the
    last transformation of a pipeline."""
    if device is None:
        gpus = tf.config.list_logical_devices("GPU")
        device = gpus[0].name if gpus else None
    if device is None:
        return dataset.prefetch(tf.data.AUTOTUNE)
    return dataset.apply(tf.data.experimental.prefetch_to_device(device, buffer_size))
