"""Feature specs of AvroTensorDataset and argument validation: clear ValueErrors, exact JSON."""

from __future__ import annotations

import json

import fastavro
import pytest
import tensorflow as tf

from lirank_tf.data import (AvroTensorDataset, DenseFeature, SparseFeature, VarlenFeature,
                            features_from_schema, read_avro_file)
from lirank_tf.data.avro_features import spec_json, validate_features


@pytest.fixture(scope="module")
def path(tmp_path_factory) -> str:
    file = tmp_path_factory.mktemp("features") / "x.avro"
    schema = {"type": "record", "name": "X", "fields": [{"name": "x", "type": "int"}]}
    with open(file, "wb") as handle:
        fastavro.writer(handle, schema, [{"x": 1}, {"x": 2}, {"x": 3}])
    return str(file)


@pytest.mark.parametrize("make, match", [
    (lambda: DenseFeature(tf.uint8), "dtype must be one of .*got uint8"),
    (lambda: DenseFeature("no such dtype"), "dtype must be one of .*'no such dtype'"),
    (lambda: DenseFeature(tf.float32, (-1,)), r"shape dimensions must be positive ints, got \(-1,\)"),
    (lambda: DenseFeature(tf.float32, (0, 2)), r"positive ints, got \(0, 2\)"),
    (lambda: DenseFeature(tf.float32, 3), "shape must be a sequence of ints, got 3"),
    (lambda: DenseFeature(tf.float32, (1,) * 9), "rank <= 8"),
    (lambda: DenseFeature(tf.int32, default_value=2**31), "default_value 2147483648 does not fit dtype int32"),
    (lambda: DenseFeature(tf.int64, default_value=1.5), "default_value 1.5 does not fit dtype int64"),
    (lambda: DenseFeature(tf.bool, default_value=1), "default_value 1 does not fit dtype bool"),
    (lambda: DenseFeature(tf.string, default_value=3), "default_value 3 does not fit dtype string"),
    (lambda: DenseFeature(tf.float32, default_value="x"), "default_value 'x' does not fit dtype float32"),
    (lambda: SparseFeature(tf.float32, ()), r"rank >= 1, got \(\)"),
    (lambda: SparseFeature(tf.float32, (0,)), "positive ints or -1"),
    (lambda: VarlenFeature(tf.int64, (3,)), r"at least one -1 dimension, got \(3,\)"),
    (lambda: VarlenFeature(tf.int64, output="dense"), "output must be 'ragged' or 'sparse', got 'dense'"),
    (lambda: VarlenFeature(tf.int64, (-2,)), "positive ints or -1"),
])
def test_invalid_specs_raise_value_error_naming_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_specs_normalise_their_arguments():
    assert DenseFeature("float32", [4]) == DenseFeature(tf.float32, (4,))
    assert DenseFeature(tf.string, default_value="é").default_value == "é".encode()
    assert DenseFeature(tf.float64, default_value=2).default_value == 2.0
    assert VarlenFeature(tf.int32, (-1, 3, -1, 2)).ragged_rank == 3
    assert VarlenFeature(tf.int32, (-1, 4)).ragged_rank == 1


def test_spec_json_is_the_op_contract():
    features = validate_features({
        "b": VarlenFeature(tf.string, (-1, 2), output="sparse", default_value=b"\x00z"),
        "a": DenseFeature(tf.float32, (3,), default_value=0.5),
        "c": SparseFeature(tf.int64, (-1, 10)),
        "d": VarlenFeature(tf.bool)})
    assert list(features) == ["a", "b", "c", "d"]
    assert json.loads(spec_json(features)) == [
        {"name": "a", "kind": "dense", "dtype": "float32", "shape": [3], "default": 0.5},
        {"name": "b", "kind": "varlen", "dtype": "string", "shape": [-1, 2], "default": "007a"},
        {"name": "c", "kind": "sparse", "dtype": "int64", "shape": [-1, 10]},
        {"name": "d", "kind": "ragged", "dtype": "bool", "shape": [-1]}]


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, r"batch_size must be an int in \[1, 2147483648\], got 0"),
    ({"batch_size": 2.0}, r"batch_size must be an int in \[1, .*got 2.0"),
    ({"batch_size": True}, r"batch_size must be an int in \[1, .*got True"),
    ({"shuffle_buffer_size": -1}, r"shuffle_buffer_size must be an int in \[0, .*got -1"),
    ({"shuffle_buffer_size": 2**62}, r"shuffle_buffer_size must be an int in \[0, 1099511627776\]"),
    ({"num_parallel_calls": 0}, r"num_parallel_calls must be an int in \[1, 256\] or tf.data.AUTOTUNE, got 0"),
    ({"reader_buffer_size": 100}, r"reader_buffer_size must be an int in \[1024, .*got 100"),
    ({"drop_remainder": "yes"}, "drop_remainder must be a bool, got 'yes'"),
    ({"seed": "1"}, "seed must be an int or None, got '1'"),
    ({"features": {}}, "features must be a non-empty dict"),
    ({"features": {"x": tf.int32}}, r"features\['x'\] must be a DenseFeature"),
    ({"filenames": []}, "filenames must be a non-empty list of str, got \\[\\]"),
    ({"filenames": 3}, "filenames must be a list of str, a string tensor or a dataset of names, got int"),
    ({"filenames": tf.data.Dataset.range(3)}, "scalar tf.string, got element_spec"),
    ({"filenames": tf.constant([["a"]])}, "scalar or a vector, got shape"),
])
def test_invalid_dataset_arguments(path, kwargs, match):
    arguments = {"filenames": [path], "features": {"x": DenseFeature(tf.int32)}, "batch_size": 2}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        AvroTensorDataset(arguments.pop("filenames"), arguments.pop("features"),
                          arguments.pop("batch_size"), **arguments)


def test_element_spec_and_features_property(path):
    dataset = AvroTensorDataset([path], {"x": DenseFeature(tf.int32),
                                         "y": VarlenFeature(tf.float32, (-1, 2)),
                                         "z": SparseFeature(tf.string, (5, -1))}, 4)
    assert isinstance(dataset, tf.data.Dataset)
    assert dataset.element_spec["x"] == tf.TensorSpec([None], tf.int32)
    assert dataset.element_spec["y"] == tf.RaggedTensorSpec([None, None, 2], tf.float32, 1,
                                                            row_splits_dtype=tf.int64)
    assert dataset.element_spec["z"] == tf.SparseTensorSpec([None, 5, None], tf.string)
    assert list(dataset.features) == ["x", "y", "z"]


def test_read_avro_file_and_features_from_schema(path):
    features = features_from_schema(path)
    assert features == {"x": DenseFeature(tf.int32)}
    assert read_avro_file(path, features)["x"].numpy().tolist() == [1, 2, 3]
