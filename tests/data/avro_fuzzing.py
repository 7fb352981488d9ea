"""Fuzzing harness shared by tests/data/test_avro_dataset_fuzz.py and benchmarks/fuzz_avro.py.

Valid Avro files (every codec, small blocks, a schema with most Avro types) are mutated with
byte flips, random bytes, truncations, insertions and deletions; each mutant is read whole by
AvroTensorDataset. The only acceptable outcomes are a clean ``InvalidArgumentError`` /
``DataLossError``, or data equal to what fastavro decodes from the same bytes (a mutation
may hit a value, giving a different valid file).
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field

import fastavro
import numpy as np
import tensorflow as tf

from avro_reference import actual_feature, expected_feature
from lirank_tf.data import (AvroTensorDataset, DenseFeature, SparseFeature, VarlenFeature,
                            read_avro_file)

SCHEMA = {"type": "record", "name": "Fuzz", "fields": [
    {"name": "id", "type": "long"},
    {"name": "small", "type": "int"},
    {"name": "name", "type": "string"},
    {"name": "skip_map", "type": {"type": "map", "values": "long"}},
    {"name": "score", "type": "double"},
    {"name": "flag", "type": "boolean"},
    {"name": "color", "type": {"type": "enum", "name": "C", "symbols": ["R", "G", "B"]}},
    {"name": "opt", "type": ["null", "float"]},
    {"name": "vec", "type": {"type": "array", "items": "float"}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "nested", "type": {"type": "array", "items": {"type": "array", "items": "int"}}},
    {"name": "skip_rec", "type": {"type": "record", "name": "R", "fields": [
        {"name": "u", "type": ["null", "string", "long"]},
        {"name": "w", "type": {"type": "array", "items": "bytes"}}]}},
    {"name": "sp", "type": {"type": "record", "name": "S", "fields": [
        {"name": "indices0", "type": {"type": "array", "items": "int"}},
        {"name": "values", "type": {"type": "array", "items": "double"}}]}},
]}
FEATURES = {
    "id": DenseFeature(tf.int64), "small": DenseFeature(tf.int32), "name": DenseFeature(tf.string),
    "score": DenseFeature(tf.float64), "flag": DenseFeature(tf.bool),
    "color": DenseFeature(tf.string), "opt": DenseFeature(tf.float32, default_value=-1.0),
    "vec": DenseFeature(tf.float32, (2,)), "tags": VarlenFeature(tf.string),
    "nested": VarlenFeature(tf.int32, (-1, -1)), "sp": SparseFeature(tf.float64, (8,)),
}


def make_records(count: int) -> list[dict]:
    return [{"id": k * 977 - 3000, "small": k - 5, "name": f"name-{k}-é",
             "skip_map": {f"k{j}": j for j in range(k % 3)}, "score": k / 3,
             "flag": k % 2 == 1, "color": "RGB"[k % 3], "opt": None if k % 4 == 0 else k / 2,
             "vec": [k, -k], "tags": [f"t{j}" for j in range(k % 4)],
             "nested": [[j] * (k % 3) for j in range(k % 3)],
             "skip_rec": {"u": [None, "s", k][k % 3], "w": [b"\x00\x01"] * (k % 2)},
             "sp": {"indices0": [j for j in range(k % 3)], "values": [j / 2 for j in range(k % 3)]}}
            for k in range(count)]


def valid_files(records: list[dict]) -> list[bytes]:
    files = []
    for codec in ("null", "deflate", "snappy"):
        buffer = io.BytesIO()
        fastavro.writer(buffer, fastavro.parse_schema(SCHEMA), records, codec=codec,
                        sync_interval=120)
        files.append(buffer.getvalue())
    return files


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(data)
    kind = rng.integers(0, 5)
    if kind == 0:  # flip bits of 1-3 bytes
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(0, len(data))] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:  # random bytes
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(0, len(data))] = int(rng.integers(0, 256))
    elif kind == 2:  # truncate
        del data[rng.integers(0, len(data)):]
    elif kind == 3:  # insert a few bytes
        at = int(rng.integers(0, len(data) + 1))
        data[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 6)), np.uint8))
    else:  # delete a few bytes
        at = int(rng.integers(0, len(data)))
        del data[at:at + int(rng.integers(1, 6))]
    return bytes(data)


def fastavro_records(data: bytes) -> list[dict] | None:
    """What fastavro reads from the bytes, or None if fastavro rejects them."""
    try:
        return list(fastavro.reader(io.BytesIO(data)))
    except Exception:  # fastavro raises many exception types on corrupt input
        return None


@dataclass
class FuzzStats:
    cases: int = 0
    clean_errors: int = 0
    decoded: int = 0
    compared_with_fastavro: int = 0
    error_types: dict = field(default_factory=dict)


def read_with_dataset(path: str) -> dict:
    """The whole file as one batch through the tf.data op (threads, pipeline, iterator)."""
    dataset = AvroTensorDataset([path], FEATURES, 1 << 30, num_parallel_calls=2)
    batches = list(dataset)
    if batches:
        return batches[0]
    return read_avro_file(path, FEATURES)  # no records: the op gives the empty batch


def run(cases: int, seed: int, directory: str, records: int = 40,
        time_limit: float | None = None, through_dataset: bool = False) -> FuzzStats:
    """Runs ``cases`` mutants; raises AssertionError on any unacceptable outcome.

    ``through_dataset`` reads with ``AvroTensorDataset`` (slower per file) instead of the
    synchronous ``read_avro_file``; both share the reader and decoder classes."""
    rng = np.random.default_rng(seed)
    bases = valid_files(make_records(records))
    stats = FuzzStats()
    path = os.path.join(directory, "mutant.avro")
    start = time.monotonic()
    for case in range(cases):
        if time_limit is not None and time.monotonic() - start > time_limit:
            break
        data = mutate(bases[case % len(bases)], rng)
        with open(path, "wb") as handle:
            handle.write(data)
        stats.cases += 1
        try:
            batch = read_with_dataset(path) if through_dataset else read_avro_file(path, FEATURES)
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as error:
            stats.clean_errors += 1
            name = type(error).__name__
            stats.error_types[name] = stats.error_types.get(name, 0) + 1
            assert "mutant.avro" in str(error), f"case {case}: error without file name: {error}"
            continue
        stats.decoded += 1
        records = fastavro_records(data)
        if records is None:  # e.g. invalid UTF-8 in a string: fastavro rejects, bytes are fine
            continue
        stats.compared_with_fastavro += 1
        count = int(batch["id"].shape[0])
        assert count == len(records), f"case {case}: op read {count} records, fastavro {len(records)}"
        for name, spec in FEATURES.items():
            got, want = actual_feature(batch[name], spec), expected_feature(records, name, spec)
            assert got == want, f"case {case}: {name!r} differs from fastavro:\n {got!r}\n {want!r}"
    return stats
