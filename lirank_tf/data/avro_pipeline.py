"""Raw-feature batches from the C++ ``AvroTensorDataset`` (LiRank §4.2), in the layout of
``lirank_tf.data.raw_features`` (the same as the fastavro reader's)."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from lirank_tf.data.avro_dataset import AvroTensorDataset
from lirank_tf.data.avro_features import DenseFeature, VarlenFeature
from lirank_tf.data.avro_file import open_avro
from lirank_tf.data.raw_features import RawField

_NUMERIC_DTYPES = {"int": tf.int64, "long": tf.int64, "float": tf.float32, "double": tf.float64,
                   "boolean": tf.bool}


def _base_types(path: str) -> dict[str, object]:
    """{field: its Avro type, the non-null branch of a nullable union}."""
    with open_avro(path) as avro:
        fields = avro.fields
    types = {}
    for field in fields:
        avro_type = field["type"]
        if isinstance(avro_type, list):
            avro_type = next((t for t in avro_type if t != "null"), "null")
        types[field["name"]] = avro_type
    return types


def _numeric_dtype(path: str, types: dict, name: str, what: str) -> tf.DType:
    if name not in types:
        raise ValueError(f"{path}: the file's schema has no {what} field {name!r}")
    avro_type = types[name]
    if isinstance(avro_type, dict) and avro_type.get("type") == "array":
        avro_type = avro_type["items"]
    if avro_type not in _NUMERIC_DTYPES:
        raise ValueError(f"{path}: {what} field {name!r} has type {avro_type!r}; expected int, "
                         "long, float, double or boolean")
    return _NUMERIC_DTYPES[avro_type]


def feature_specs(fields: Sequence[RawField], labels: Sequence[str], first_file: str) -> dict:
    """The ``AvroTensorDataset`` spec of the raw fields and label fields; numeric fields are
    read in their Avro type (cast to float32 afterwards)."""
    types = _base_types(first_file)
    specs = {}
    for field in fields:
        if field.kind == "string":
            specs[field.name] = DenseFeature(tf.string, default_value="")
        elif field.kind == "int":
            specs[field.name] = DenseFeature(tf.int64, default_value=-1)
        elif field.kind == "string_list":
            specs[field.name] = VarlenFeature(tf.string)
        elif field.kind == "int_list":
            specs[field.name] = VarlenFeature(tf.int64)
        else:
            dtype = _numeric_dtype(first_file, types, field.name, "numeric")
            shape = () if field.kind == "float" else (field.size,)
            default = (field.default if dtype.is_floating else int(field.default)) if not shape else None
            if dtype == tf.bool:
                default = bool(default) if default is not None else None
            specs[field.name] = DenseFeature(dtype, shape=shape, default_value=default)
    for name in labels:
        if name not in specs:
            specs[name] = DenseFeature(_numeric_dtype(first_file, types, name, "label"))
    return specs


def avro_op_dataset(files: Sequence[str], fields: Sequence[RawField], labels: dict[str, str],
                    batch_size: int, *, shuffle: bool = False, shuffle_buffer_size: int = 20_000,
                    seed: int | None = None, drop_remainder: bool = False) -> tf.data.Dataset:
    """``(raw_features, {task: label})`` batches of ``files`` read by the C++ op. Labels must lie
    in [0, 1]; a batch holding one outside fails with the value and the files."""
    if not files:
        raise ValueError("files: no Avro files given")
    specs = feature_specs(fields, sorted(set(labels.values())), files[0])
    dataset = AvroTensorDataset(list(files), specs, batch_size,
                                shuffle_buffer_size=shuffle_buffer_size if shuffle else 0,
                                drop_remainder=drop_remainder, seed=seed)
    file_list = ", ".join(str(f) for f in files[:5]) + (" ..." if len(files) > 5 else "")

    def split(batch):
        targets = {}
        for task, field in labels.items():
            value = tf.cast(batch[field], tf.float32)
            check = tf.debugging.assert_less_equal(
                tf.abs(value - 0.5), 0.5,
                message=f"label {field!r} outside [0, 1] in one of: {file_list}")
            with tf.control_dependencies([check]):
                targets[task] = tf.identity(value)
        features = {}
        for field in fields:
            value = batch[field.name]
            features[field.name] = (tf.cast(value, tf.float32)
                                    if field.kind in ("float", "float_vector") else value)
        return features, targets

    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE)
