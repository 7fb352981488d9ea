"""AvroTensorDataset decodes every value exactly as fastavro reads it.

Files come from two independent writers (fastavro, Apache avro), every codec, many block
sizes, with empty and very long arrays, unicode strings, nulls, enums, fixed, nested and
sparse layouts, and fields that must be skipped (maps, records, recursive types, unions).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from avro_reference import (assert_batches_match, read_fastavro, write_apache_avro,
                            write_fastavro)
from lirank_tf.data import (AvroTensorDataset, DenseFeature, SparseFeature, VarlenFeature,
                            features_from_schema)

SYMBOLS = ["RED", "GREEN", "BLUE"]
NODE = {"type": "record", "name": "Node", "fields": [
    {"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]}
SCHEMA = {
    "type": "record", "name": "Sample", "namespace": "lirank.test",
    "fields": [
        {"name": "i", "type": "int"},
        {"name": "skip_map", "type": {"type": "map", "values": {"type": "array", "items": "string"}}},
        {"name": "l", "type": "long"},
        {"name": "l_small", "type": "long"},
        {"name": "i64", "type": "int"},
        {"name": "f", "type": "float"},
        {"name": "f64", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "d32", "type": "double"},
        {"name": "b", "type": "boolean"},
        {"name": "skip_record", "type": {"type": "record", "name": "Inner", "fields": [
            {"name": "x", "type": "int"},
            {"name": "ys", "type": {"type": "array", "items": {
                "type": "record", "name": "Leaf", "fields": [{"name": "z", "type": "string"}]}}}]}},
        {"name": "s", "type": "string"},
        {"name": "by", "type": "bytes"},
        {"name": "e", "type": {"type": "enum", "name": "Color", "symbols": SYMBOLS}},
        {"name": "e_index", "type": "Color"},
        {"name": "fx", "type": {"type": "fixed", "name": "Three", "size": 3}},
        {"name": "skip_union", "type": ["null", "int", "string", "Leaf"]},
        {"name": "ni", "type": ["null", "int"]},
        {"name": "ns", "type": ["string", "null"]},
        {"name": "skip_list", "type": ["null", NODE]},
        {"name": "arr_l", "type": {"type": "array", "items": "long"}},
        {"name": "arr_s", "type": {"type": "array", "items": "string"}},
        {"name": "arr_f", "type": {"type": "array", "items": "float"}},
        {"name": "mat", "type": {"type": "array", "items": {"type": "array", "items": "double"}}},
        {"name": "nested", "type": {"type": "array", "items": {"type": "array", "items": "int"}}},
        {"name": "pairs", "type": {"type": "array", "items": {"type": "array", "items": "float"}}},
        {"name": "n_arr", "type": ["null", {"type": "array", "items": "double"}]},
        {"name": "arr_ni", "type": {"type": "array", "items": ["null", "long"]}},
        {"name": "skip_fixed", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {"name": "sp", "type": {"type": "record", "name": "FloatSparse", "fields": [
            {"name": "indices0", "type": {"type": "array", "items": "long"}},
            {"name": "values", "type": {"type": "array", "items": "float"}}]}},
        {"name": "sp2", "type": ["null", {"type": "record", "name": "StringSparse", "fields": [
            {"name": "values", "type": {"type": "array", "items": "string"}},
            {"name": "indices1", "type": {"type": "array", "items": "long"}},
            {"name": "indices0", "type": {"type": "array", "items": "int"}}]}]},
        {"name": "tail", "type": "int"},
    ],
}
FEATURES = {
    "i": DenseFeature(tf.int32), "l": DenseFeature(tf.int64), "l_small": DenseFeature(tf.int32),
    "i64": DenseFeature(tf.int64), "f": DenseFeature(tf.float32), "f64": DenseFeature(tf.float64),
    "d": DenseFeature(tf.float64), "d32": DenseFeature(tf.float32), "b": DenseFeature(tf.bool),
    "s": DenseFeature(tf.string), "by": DenseFeature(tf.string), "e": DenseFeature(tf.string),
    "e_index": DenseFeature(tf.int32), "fx": DenseFeature(tf.string),
    "ni": DenseFeature(tf.int32, default_value=-7),
    "ns": DenseFeature(tf.string, default_value="∅ missing"),
    "arr_l": VarlenFeature(tf.int64), "arr_s": VarlenFeature(tf.string, output="sparse"),
    "arr_f": DenseFeature(tf.float32, (3,)), "mat": DenseFeature(tf.float64, (2, 3)),
    "nested": VarlenFeature(tf.int32, (-1, -1)),
    "pairs": VarlenFeature(tf.float32, (-1, 2)),
    "n_arr": VarlenFeature(tf.float64), "arr_ni": VarlenFeature(tf.int64, default_value=99),
    "sp": SparseFeature(tf.float32, (50,)), "sp2": SparseFeature(tf.string, (-1, 8)),
    "tail": DenseFeature(tf.int32),
}
ENUM_SYMBOLS = {"e_index": SYMBOLS}
TEXTS = ["", "a", "member:12345", "héllo wörld", "日本語のテキスト", "emoji 🎉🚀", "x" * 40,
         "combining é", "tab\tnewline\n", "\u0000nul"]


def make_records(count: int, long_every: int = 0) -> list[dict]:
    """Varied records from a fixed pattern (no randomness needed for coverage)."""
    records = []
    for k in range(count):
        n = k % 6
        long_row = long_every and k % long_every == long_every - 1
        records.append({
            "i": (k * 7919) % 200003 - 100000 if k % 11 else (2**31 - 1 if k % 2 else -2**31),
            "skip_map": {f"key{j}": [TEXTS[(j + k) % len(TEXTS)]] * j for j in range(k % 3)},
            "l": (k * 2654435761) * (-1) ** k if k % 13 else (2**63 - 1 if k % 2 else -2**63),
            "l_small": (k * 31337) % (2**31) - 2**30,
            "i64": -k,
            "f": k / 7.0 - 3.0,
            "f64": float(np.float32(k * 0.1)),
            "d": k * 1e-3 - 1e10 + 1e-7 * k,
            "d32": k * 1.5e30 if k % 5 == 0 else -k / 3.0,
            "b": k % 3 == 0,
            "skip_record": {"x": k, "ys": [{"z": TEXTS[j % len(TEXTS)]} for j in range(k % 4)]},
            "s": TEXTS[k % len(TEXTS)] + str(k),
            "by": bytes(range(k % 7)) + b"\xff\x00",
            "e": SYMBOLS[k % 3],
            "e_index": SYMBOLS[(k + 1) % 3],
            "fx": bytes([k % 256, 0, 255]),
            "skip_union": [None, k, str(k), {"z": "leaf"}][k % 4],
            "ni": None if k % 4 == 1 else k - 50,
            "ns": None if k % 5 == 2 else TEXTS[(k + 3) % len(TEXTS)],
            "skip_list": None if k % 3 == 0 else {"v": k, "next": {"v": k + 1, "next": None}},
            "arr_l": [k * j - 5 for j in range(5000 if long_row else n)],
            "arr_s": [TEXTS[(k + j) % len(TEXTS)] for j in range(n * 2)],
            "arr_f": [k + 0.25, -k - 0.5, 1e-3 * k],
            "mat": [[k + 0.1, k + 0.2, k + 0.3], [-k - 0.1, -k - 0.2, -k - 0.3]],
            "nested": [[j * 10 + m for m in range((k + j) % 4)] for j in range(k % 5)],
            "pairs": [[j + 0.5, -j - 0.5] for j in range(k % 4)],
            "n_arr": None if k % 7 == 3 else [k * 0.5] * (k % 3),
            "arr_ni": [None if (j + k) % 3 == 0 else j * k for j in range(k % 5)],
            "skip_fixed": b"abcd",
            "sp": {"indices0": [(k + 3 * j) % 50 for j in range(n)],
                   "values": [float(j) + 0.5 for j in range(n)]},
            "sp2": None if k % 6 == 4 else {
                "values": [TEXTS[j % len(TEXTS)] for j in range(k % 3)],
                "indices1": [(j * 3) % 8 for j in range(k % 3)],
                "indices0": [k + j for j in range(k % 3)]},
            "tail": 123456 - k,
        })
    return records


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return make_records(230, long_every=97)


def _dataset(path: str, batch_size: int, **kwargs) -> AvroTensorDataset:
    return AvroTensorDataset([path], FEATURES, batch_size, **kwargs)


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy"])
@pytest.mark.parametrize("sync_interval", [1, 700, 16000, 10_000_000])
def test_fastavro_files_every_codec_and_block_size(tmp_path, records, codec, sync_interval):
    path = write_fastavro(str(tmp_path / "f.avro"), SCHEMA, records, codec, sync_interval)
    batches = assert_batches_match(_dataset(path, 64, num_parallel_calls=2), read_fastavro(path),
                                   FEATURES, 64, ENUM_SYMBOLS)
    assert batches == 4


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_apache_avro_writer(tmp_path, records, codec):
    path = write_apache_avro(str(tmp_path / "a.avro"), SCHEMA, records, codec)
    assert_batches_match(_dataset(path, 50), read_fastavro(path), FEATURES, 50, ENUM_SYMBOLS)


@pytest.mark.parametrize("batch_size", [1, 7, 229, 230, 1000])
@pytest.mark.parametrize("threads", [1, 2, tf.data.AUTOTUNE])
def test_batch_sizes_and_threads(tmp_path, records, batch_size, threads):
    path = write_fastavro(str(tmp_path / "f.avro"), SCHEMA, records, "deflate", 500)
    assert_batches_match(_dataset(path, batch_size, num_parallel_calls=threads),
                         read_fastavro(path), FEATURES, batch_size, ENUM_SYMBOLS)


def test_drop_remainder_gives_static_batch_dimension(tmp_path, records):
    path = write_fastavro(str(tmp_path / "f.avro"), SCHEMA, records, "null", 900)
    dataset = _dataset(path, 64, drop_remainder=True)
    assert dataset.element_spec["i"].shape.as_list() == [64]
    assert dataset.element_spec["mat"].shape.as_list() == [64, 2, 3]
    assert dataset.element_spec["nested"].shape.as_list() == [64, None, None]
    assert dataset.element_spec["sp"].shape.as_list() == [64, 50]
    assert_batches_match(dataset, read_fastavro(path), FEATURES, 64, ENUM_SYMBOLS,
                         drop_remainder=True)


def test_many_files_in_order(tmp_path, records):
    paths = [write_fastavro(str(tmp_path / f"part{k}.avro"), SCHEMA, records[k * 50:(k + 1) * 50],
                            ["null", "deflate", "snappy"][k % 3], 300) for k in range(5)]
    paths.insert(2, write_fastavro(str(tmp_path / "empty.avro"), SCHEMA, []))
    dataset = AvroTensorDataset(paths, FEATURES, 33, num_parallel_calls=2)
    assert_batches_match(dataset, records[:230], FEATURES, 33, ENUM_SYMBOLS)


def test_empty_and_one_record_files(tmp_path, records):
    empty = write_fastavro(str(tmp_path / "empty.avro"), SCHEMA, [])
    assert list(_dataset(empty, 8)) == []
    one = write_fastavro(str(tmp_path / "one.avro"), SCHEMA, records[5:6], "snappy")
    assert assert_batches_match(_dataset(one, 8), records[5:6], FEATURES, 8, ENUM_SYMBOLS) == 1


def test_string_tensor_and_scalar_filenames(tmp_path, records):
    path = write_fastavro(str(tmp_path / "f.avro"), SCHEMA, records[:20], "deflate")
    for names in (tf.constant([path, path]), tf.constant(path)):
        batches = list(AvroTensorDataset(names, {"i": DenseFeature(tf.int32)}, 100))
        expected = [r["i"] for r in records[:20]] * (2 if names.shape.rank else 1)
        assert batches[0]["i"].numpy().tolist() == expected


def test_fields_outside_the_spec_are_skipped(tmp_path, records):
    """Only the tail field after every kind of skipped field: it must still line up."""
    path = write_fastavro(str(tmp_path / "f.avro"), SCHEMA, records, "snappy", 2000)
    features = {"tail": DenseFeature(tf.int32), "sp2": SparseFeature(tf.string, (-1, 8))}
    assert_batches_match(AvroTensorDataset([path], features, 100), records, features, 100)


def test_interleave_and_shard(tmp_path, records):
    paths = [write_fastavro(str(tmp_path / f"p{k}.avro"), SCHEMA, records[k * 40:(k + 1) * 40],
                            "deflate", 400) for k in range(4)]
    features = {"i": DenseFeature(tf.int32), "arr_l": VarlenFeature(tf.int64)}
    # Horovod-style sharding of the file names: rank 1 of 2 reads files 1 and 3.
    shard = AvroTensorDataset(tf.data.Dataset.from_tensor_slices(paths).shard(2, 1), features, 1000)
    got = next(iter(shard))["i"].numpy().tolist()
    assert got == [r["i"] for r in records[40:80] + records[120:160]]
    # One AvroTensorDataset per file inside interleave (file name is a scalar tensor there).
    interleaved = tf.data.Dataset.from_tensor_slices(paths).interleave(
        lambda name: AvroTensorDataset(name, features, 10), cycle_length=2, block_length=1)
    firsts = [batch["i"].numpy()[0] for batch in interleaved]
    want = []
    for pair in ((0, 1), (2, 3)):
        for step in range(4):
            want += [records[pair[0] * 40 + step * 10]["i"], records[pair[1] * 40 + step * 10]["i"]]
    assert firsts == want


def test_features_from_schema(tmp_path, records):
    path = write_fastavro(str(tmp_path / "f.avro"), SCHEMA, records[:10])
    derived = features_from_schema(path)
    assert derived["i"] == DenseFeature(tf.int32)
    assert derived["l"] == DenseFeature(tf.int64)
    assert derived["by"] == DenseFeature(tf.string)
    assert derived["e"] == DenseFeature(tf.string)
    assert derived["e_index"] == DenseFeature(tf.string)
    assert derived["fx"] == DenseFeature(tf.string)
    assert derived["ni"] == DenseFeature(tf.int32, default_value=0)
    assert derived["ns"] == DenseFeature(tf.string, default_value="")
    assert derived["arr_s"] == VarlenFeature(tf.string)
    assert derived["nested"] == VarlenFeature(tf.int32, (-1, -1))
    assert derived["n_arr"] == VarlenFeature(tf.float64)
    assert derived["arr_ni"] == VarlenFeature(tf.int64)
    assert derived["sp"] == SparseFeature(tf.float32, (-1,))
    assert derived["sp2"] == SparseFeature(tf.string, (-1, -1))
    for skipped in ("skip_map", "skip_record", "skip_union", "skip_list"):
        assert skipped not in derived
    # The derived spec reads the file (nullable items need a default to be read).
    derived["arr_ni"] = VarlenFeature(tf.int64, default_value=99)
    batch = next(iter(AvroTensorDataset([path], derived, 10)))
    assert batch["sp2"].dense_shape.numpy().tolist()[0] == 10
    assert batch["e_index"].numpy().tolist() == [r["e_index"].encode() for r in records[:10]]


def test_feed_schema_file(tmp_path):
    """The project's Feed schema: derived spec, fixed-length dense vector, nullable long."""
    import json
    from pathlib import Path
    import lirank_tf.data
    schema = json.loads((Path(lirank_tf.data.__file__).parent / "schemas" / "feed.avsc").read_text())
    field_types = {f["name"]: f["type"] for f in schema["fields"]}
    rows = []
    for k in range(40):
        row = {}
        for name, kind in field_types.items():
            if kind == "int":
                row[name] = k % 24
            elif kind == "long":
                row[name] = 10**12 + k
            elif kind == "float":
                row[name] = k / 8
            elif kind == "string":
                row[name] = f"{name}:{k}"
            elif isinstance(kind, list):
                row[name] = None if k % 3 == 0 else k * 1000
            elif kind["items"] == "float":
                row[name] = [k + j / 4 for j in range(16)]
            elif kind["items"] == "int":
                row[name] = list(range(k % 5))
            else:
                row[name] = [f"id:{j}" for j in range(k % 4)]
        rows.append(row)
    path = write_fastavro(str(tmp_path / "feed.avro"), schema, rows, "deflate", 500)
    features = features_from_schema(path)
    features["dense_features"] = DenseFeature(tf.float32, (16,))
    features["actor_follower_count"] = DenseFeature(tf.int64, default_value=-1)
    assert_batches_match(AvroTensorDataset([path], features, 16), read_fastavro(path), features, 16)


def test_reads_through_tensorflow_file_systems(tmp_path, records):
    """Files are opened with TensorFlow's file system layer: the in-memory ram:// scheme works."""
    local = write_fastavro(str(tmp_path / "f.avro"), SCHEMA, records[:80], "snappy", 900)
    remote = "ram://avro_values_test/part-0.avro"
    with tf.io.gfile.GFile(remote, "wb") as handle:
        handle.write(open(local, "rb").read())
    assert features_from_schema(remote)["tail"] == DenseFeature(tf.int32)
    assert_batches_match(AvroTensorDataset([remote], FEATURES, 32), read_fastavro(local), FEATURES,
                         32, ENUM_SYMBOLS)
