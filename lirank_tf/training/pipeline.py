"""Input pipelines: Avro files -> raw batches -> transformation model (async) -> prefetch."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from lirank_tf.config import ExperimentConfig
# the file utilities live in lirank_tf.data.files; imported here for their earlier callers
from lirank_tf.data.files import count_records, expand_globs, spread_files  # noqa: F401
from lirank_tf.data.raw_features import label_fields, raw_fields
from lirank_tf.transform import TransformationModel


def raw_dataset(config: ExperimentConfig, files: Sequence[str], *, shuffle: bool,
                batch_size: int | None = None, seed: int | None = None) -> tf.data.Dataset:
    """``(raw features, {task: label})`` batches of ``files`` with the configured reader.

    ``shuffle`` shuffles the records (in a buffer of ``data.shuffle_buffer_size`` records),
    except with set-wise scoring (``model.setwise_group`` set): there the rows a model scores
    together must share a batch, so the files are read in order, without a record-level
    shuffle (the Feed simulator, like a serving log, writes the rows of a session one after
    the other), and whole batches are shuffled instead, in a buffer of
    ``shuffle_buffer_size / batch_size`` batches (at least 2: the same number of records),
    reshuffled every epoch with ``seed``. A group is split only where it straddles two
    batches (never, when the group sizes divide ``batch_size``).
    """
    batch_size = batch_size or config.training.batch_size
    fields = raw_fields(config)
    labels = label_fields(config)
    shuffle_batches = shuffle and bool(config.model.setwise_group)
    shuffle_records = shuffle and not shuffle_batches
    if config.data.reader == "avro_op":
        # loads the C++ op library, which a fastavro run never needs
        from lirank_tf.data.avro_pipeline import avro_op_dataset
        dataset = avro_op_dataset(files, fields, labels, batch_size, shuffle=shuffle_records,
                                  shuffle_buffer_size=config.data.shuffle_buffer_size, seed=seed)
    else:
        from lirank_tf.data.fastavro_reader import fastavro_dataset
        dataset = fastavro_dataset(files, fields, labels, batch_size, shuffle=shuffle_records,
                                   seed=seed)
    if shuffle_batches:
        buffer = max(2, -(-config.data.shuffle_buffer_size // batch_size))
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    return dataset


def _labels_as_columns(features, labels):
    return features, {task: tf.reshape(tf.cast(value, tf.float32), [-1, 1])
                      for task, value in labels.items()}


def training_dataset(config: ExperimentConfig, files: Sequence[str], transform: TransformationModel,
                     *, shuffle: bool, seed: int | None = None,
                     batch_size: int | None = None, batches: int | None = None) -> tf.data.Dataset:
    """Model-ready batches: the transformation model runs in ``Dataset.map`` with parallel
    calls, overlapping the training step (LiRank §4.3), then batches are prefetched (to the GPU
    when there is one, LiRank §4.4).

    ``shuffle``: records, or with ``model.setwise_group`` whole batches (see ``raw_dataset``).
    ``batches``: the number of batches the files hold, when the caller knows it (e.g. from the
    record counts of the Avro block headers). The readers cannot tell it before reading, so
    without it the dataset's cardinality is unknown: Keras then finds the end of an epoch by
    running out of data (the "Your input ran out of data" warning and TensorFlow's
    "OUT_OF_RANGE: End of sequence" log) and counting the batches means iterating them. With
    it the cardinality is asserted: known to Keras, and a wrong count fails the epoch with
    TensorFlow's "Input dataset was expected to contain N elements" error.
    """
    dataset = raw_dataset(config, files, shuffle=shuffle, batch_size=batch_size, seed=seed)
    if batches is not None:
        if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
            raise ValueError(f"batches must be a positive int or None, got {batches!r}")
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    dataset = dataset.map(transform.map_fn(), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(_labels_as_columns, num_parallel_calls=tf.data.AUTOTUNE)
    return prefetch_to_device(dataset)


def _logical_device(device: str) -> str:
    """The name of the logical device ``device`` designates ("/gpu:0", "GPU:1",
    "/device:CPU:0" ...); ValueError if this process has no such device."""
    if not isinstance(device, str):
        raise ValueError(f"device must be a device name such as '/gpu:0', got {device!r}")
    try:
        spec = tf.DeviceSpec.from_string(device if device.startswith("/") else f"/{device}")
    except (ValueError, TypeError) as error:
        raise ValueError(f"device: cannot parse {device!r} as a device name") from error
    if spec.device_type is None:
        raise ValueError(f"device: {device!r} names no device type (e.g. '/gpu:0')")
    wanted = (spec.device_type.upper(), spec.device_index or 0)
    devices = tf.config.list_logical_devices()
    for logical in devices:
        found = tf.DeviceSpec.from_string(logical.name)
        if (found.device_type.upper(), found.device_index or 0) == wanted:
            return logical.name
    raise ValueError(f"device: {device!r} is not a device of this process; devices: "
                     f"{[logical.name for logical in devices]}")


def prefetch_to_device(dataset: tf.data.Dataset, device: str | None = None,
                       buffer_size: int = 2) -> tf.data.Dataset:
    """Prefetches batches into the memory of ``device`` so the host-to-device copy of the next
    batch overlaps the current step (LiRank §4.4).

    ``device`` None (default) means the first GPU of this process (``/gpu:0``; under Horovod
    each worker sees its own GPU as the first), and on a host without a GPU a plain
    ``prefetch`` (AUTOTUNE): nothing to copy. A named device ("/gpu:0", "/cpu:0") must exist.

    The copy is ``tf.data.experimental.copy_to_device`` followed by a ``prefetch`` of
    ``buffer_size`` batches placed on the device, as ``prefetch_to_device`` does; between
    the two, the input's cardinality is asserted again (the copy's generator loses it), so
    Keras and batch counting see the known number of batches. Apply it last: a later
    transformation would run on the host again.

    Args:
        dataset: the batches.
        device: str or None (default), see above.
        buffer_size: int >= 1 or ``tf.data.AUTOTUNE``, batches held on the device, default 2.

    Raises:
        ValueError: an unknown device or a bad ``buffer_size``.
    """
    if buffer_size != tf.data.AUTOTUNE and (
            isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1):
        raise ValueError(f"buffer_size must be an int >= 1 or tf.data.AUTOTUNE, got "
                         f"{buffer_size!r}")
    if device is None:
        if not tf.config.list_logical_devices("GPU"):
            return dataset.prefetch(tf.data.AUTOTUNE)
        device = "/gpu:0"
    target = _logical_device(device)
    cardinality = tf.get_static_value(dataset.cardinality())   # None in a graph
    on_device = dataset.apply(tf.data.experimental.copy_to_device(target))
    if cardinality is not None and cardinality != tf.data.UNKNOWN_CARDINALITY:
        on_device = on_device.apply(tf.data.experimental.assert_cardinality(cardinality))
    with tf.device(target):
        return on_device.prefetch(buffer_size)
