"""Test helpers for AvroTensorDataset: two independent Avro writers and a reference decoder.

The reference takes records as decoded by fastavro and turns them into the canonical Python
form of each feature kind (lists of values, ragged lists, sparse index/value lists) with NumPy
casting rules, independently of the C++ op under test.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import avro.datafile
import avro.io
import avro.schema
import fastavro
import numpy as np
import tensorflow as tf

from lirank_tf.data.avro_features import DenseFeature, SparseFeature, VarlenFeature

NUMPY_DTYPES = {tf.int32: np.int32, tf.int64: np.int64, tf.float32: np.float32,
                tf.float64: np.float64, tf.bool: np.bool_, tf.string: object}


def write_fastavro(path: str, schema: dict, records: Sequence[dict], codec: str = "null",
                   sync_interval: int = 16000) -> str:
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(schema), records, codec=codec,
                        sync_interval=sync_interval)
    return str(path)


def write_apache_avro(path: str, schema: dict, records: Sequence[dict], codec: str = "null") -> str:
    """Writes with the Apache ``avro`` package (an implementation independent of fastavro)."""
    parsed = avro.schema.parse(json.dumps(schema))
    with open(path, "wb") as handle:
        writer = avro.datafile.DataFileWriter(handle, avro.io.DatumWriter(), parsed, codec=codec)
        for record in records:
            writer.append(record)
        writer.close()
    return str(path)


def read_fastavro(path: str) -> list[dict]:
    with open(path, "rb") as handle:
        return list(fastavro.reader(handle))


def _leaf(value: Any, dtype: tf.DType, default: Any) -> Any:
    if value is None:
        if default is None:
            raise ValueError("null without default in the reference")
        value = default
    if dtype == tf.string:
        return value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return np.asarray(value, NUMPY_DTYPES[dtype]).item()


def _nested(value: Any, depth: int, dtype: tf.DType, default: Any) -> Any:
    if depth == 0:
        return _leaf(value, dtype, default)
    return [_nested(item, depth - 1, dtype, default) for item in (value or [])]


def _enum_or_value(value: Any, dtype: tf.DType, symbols: Sequence[str] | None) -> Any:
    if symbols is not None and dtype != tf.string and value is not None:
        return symbols.index(value)
    return value


def expected_feature(records: Sequence[dict], name: str, spec: Any,
                     symbols: Sequence[str] | None = None) -> Any:
    """Canonical form of one feature of a batch of fastavro records."""
    column = [_enum_or_value(r[name], spec.dtype, symbols) for r in records]
    if isinstance(spec, DenseFeature):
        out = []
        for value in column:
            if value is None:
                value = np.full(spec.shape, spec.default_value, dtype=object).tolist() \
                    if spec.shape else spec.default_value
            out.append(_nested(value, len(spec.shape), spec.dtype, spec.default_value))
        return out
    if isinstance(spec, SparseFeature):
        rank = len(spec.shape)
        indices, values, largest = [], [], [-1] * rank
        for row, value in enumerate(column):
            if value is None:
                continue
            for j, item in enumerate(value["values"]):
                index = [int(value[f"indices{k}"][j]) for k in range(rank)]
                largest = [max(a, b) for a, b in zip(largest, index)]
                indices.append([row, *index])
                values.append(_leaf(item, spec.dtype, None))
        shape = [len(column)] + [d if d >= 0 else largest[k] + 1 for k, d in enumerate(spec.shape)]
        return indices, values, shape
    rows = [_nested(value, len(spec.shape), spec.dtype, spec.default_value) for value in column]
    if spec.output == "ragged":
        return rows
    indices, values = [], []
    longest = [0] * len(spec.shape)

    def walk(node: Any, prefix: list[int], depth: int) -> None:
        if depth == len(spec.shape):
            indices.append(prefix)
            values.append(node)
            return
        longest[depth] = max(longest[depth], len(node))
        for k, item in enumerate(node):
            walk(item, prefix + [k], depth + 1)

    for row, value in enumerate(rows):
        walk(value, [row], 0)
    shape = [len(rows)] + [d if d >= 0 else longest[k] for k, d in enumerate(spec.shape)]
    return indices, values, shape


def actual_feature(value: Any, spec: Any) -> Any:
    """Canonical form of one feature of a batch produced by AvroTensorDataset."""
    if isinstance(value, tf.RaggedTensor):  # RaggedTensor.to_list slices row by row: slow
        rows = value.flat_values.numpy().tolist()
        for splits in reversed(value.nested_row_splits):
            bounds = splits.numpy().tolist()
            rows = [rows[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]
        return rows
    if isinstance(value, tf.SparseTensor):
        return (value.indices.numpy().tolist(), value.values.numpy().tolist(),
                value.dense_shape.numpy().tolist())
    return value.numpy().tolist()


def assert_batches_match(dataset: tf.data.Dataset, records: Sequence[dict], features: dict,
                         batch_size: int, symbols: dict[str, Sequence[str]] | None = None,
                         drop_remainder: bool = False) -> int:
    """Compares every batch of ``dataset`` with the reference; returns the number of batches."""
    symbols = symbols or {}
    count = 0
    for count, batch in enumerate(dataset, start=1):
        start = (count - 1) * batch_size
        chunk = records[start:start + batch_size]
        assert chunk, f"batch {count} beyond the {len(records)} records"
        assert set(batch) == set(features)
        for name, spec in features.items():
            got = actual_feature(batch[name], spec)
            want = expected_feature(chunk, name, spec, symbols.get(name))
            assert got == want, f"batch {count}, feature {name!r}:\n got  {got!r}\n want {want!r}"
    expected_batches = len(records) // batch_size if drop_remainder else \
        -(-len(records) // batch_size)
    assert count == expected_batches, f"{count} batches, expected {expected_batches}"
    return count


# --- hand-made object container files (for layouts no writer produces) ----------------------

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def zigzag(n: int) -> bytes:
    return varint((n << 1) ^ (n >> 63))


def ocf_with_blocks(schema: dict, codec: str, blocks: list[tuple[int, bytes]]) -> bytes:
    sync = bytes(range(16))
    meta = {"avro.schema": json.dumps(schema).encode(), "avro.codec": codec.encode()}
    out = bytearray(b"Obj\x01") + zigzag(len(meta))
    for key, value in meta.items():
        out += zigzag(len(key)) + key.encode() + zigzag(len(value)) + value
    out += b"\x00" + sync
    for count, payload in blocks:
        out += zigzag(count) + zigzag(len(payload)) + payload + sync
    return bytes(out)
