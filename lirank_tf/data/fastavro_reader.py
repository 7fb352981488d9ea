"""A pure-Python Avro reader (fastavro) into a ``tf.data`` pipeline of raw-feature batches.

Reference implementation and fallback of the C++ ``AvroTensorDataset``: it loads the named
columns of every file into memory, then batches with ``tf.gather``. Use the C++ op for data
that does not fit in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from lirank_tf.data.avro_file import open_avro
from lirank_tf.data.raw_features import RawField

# what a null (Avro union with null) becomes, by raw kind; numeric kinds take the feature default
_MISSING = {"string": "", "int": -1, "string_list": [], "int_list": []}


def read_columns(files: Sequence[str | Path], fields: Sequence[RawField],
                 labels: Sequence[str] = ()) -> dict[str, tf.Tensor | tf.RaggedTensor]:
    """Reads ``fields`` and ``labels`` of every record of ``files`` into (ragged) tensors."""
    if not files:
        raise ValueError("files: no Avro files given")
    values: dict[str, list] = {f.name: [] for f in fields}
    label_values: dict[str, list] = {name: [] for name in labels}
    for path in files:
        with open_avro(path) as reader:
            schema_fields = {f["name"] for f in reader.fields}
            missing = sorted((set(values) | set(label_values)) - schema_fields)
            if missing:
                raise ValueError(f"{path}: the file's schema has no field(s) {missing}")
            for record in reader:
                for field in fields:
                    value = record[field.name]
                    if value is None:
                        value = _MISSING.get(field.kind, field.default)
                    values[field.name].append(value)
                for name in label_values:
                    label_values[name].append(record[name])
    columns: dict[str, tf.Tensor | tf.RaggedTensor] = {}
    for field in fields:
        column = values[field.name]
        if field.kind == "string":
            columns[field.name] = tf.constant(column, tf.string, shape=[len(column)])
        elif field.kind == "int":
            columns[field.name] = tf.constant(np.asarray(column, np.int64), tf.int64)
        elif field.kind in ("string_list", "int_list"):
            flat = [v for row in column for v in row]
            flat_values = (tf.constant([v.encode("utf-8") for v in flat], tf.string, shape=[len(flat)])
                           if field.kind == "string_list" else tf.constant(np.array(flat, np.int64)))
            columns[field.name] = tf.RaggedTensor.from_row_lengths(
                flat_values, tf.constant(np.array([len(row) for row in column], np.int64)))
        else:
            columns[field.name] = tf.constant(np.asarray(column, np.float32).reshape(len(column), -1)
                                              if field.kind == "float_vector" else np.asarray(column, np.float32))
    for name, column in label_values.items():
        array = np.asarray(column, np.float32)
        columns[name] = tf.constant(array)
    return columns


def fastavro_dataset(files: Sequence[str | Path], fields: Sequence[RawField],
                     labels: dict[str, str], batch_size: int, *, shuffle: bool = False,
                     seed: int | None = None, drop_remainder: bool = False) -> tf.data.Dataset:
    """``(raw_features, {task: label})`` batches of the records of ``files``."""
    columns = read_columns(files, fields, sorted(set(labels.values())))
    count = int(next(iter(columns.values())).shape[0])
    dataset = tf.data.Dataset.range(count)
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    names = [f.name for f in fields]

    def gather(indices: tf.Tensor):
        features = {name: tf.gather(columns[name], indices) for name in names}
        targets = {task: tf.gather(columns[field], indices) for task, field in labels.items()}
        return features, targets

    return dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
