"""AvroTensorDataset errors: clean TensorFlow errors naming file, block offset and field.

Spec/schema mismatches fail before any block is read; corrupt or truncated data, values out of
range for the dtype, wrong fixed lengths, nulls without default and bad sparse records fail
with InvalidArgumentError / DataLossError, never a crash or a silently wrong tensor.
"""

from __future__ import annotations

import re

import fastavro
import pytest
import tensorflow as tf

from avro_reference import ocf_with_blocks, write_fastavro, zigzag
from lirank_tf.data import (AvroTensorDataset, DenseFeature, SparseFeature, VarlenFeature)

SCHEMA = {"type": "record", "name": "E", "fields": [
    {"name": "id", "type": "int"},
    {"name": "big", "type": "long"},
    {"name": "wide", "type": "double"},
    {"name": "name", "type": "string"},
    {"name": "opt", "type": ["null", "int"]},
    {"name": "vec", "type": {"type": "array", "items": "float"}},
    {"name": "grid", "type": {"type": "array", "items": {"type": "array", "items": "float"}}},
    {"name": "choice", "type": ["null", "int", "string"]},
    {"name": "sp", "type": {"type": "record", "name": "Sp", "fields": [
        {"name": "indices0", "type": {"type": "array", "items": "long"}},
        {"name": "values", "type": {"type": "array", "items": "float"}}]}},
]}
DATA_ERROR = (tf.errors.InvalidArgumentError, tf.errors.DataLossError)


def _record(k: int, **overrides) -> dict:
    record = {"id": k, "big": k * 1000, "wide": k / 4, "name": f"n{k}", "opt": k,
              "vec": [1.0, 2.0, 3.0], "grid": [[1.0, 2.0], [3.0, 4.0]], "choice": k,
              "sp": {"indices0": [k % 5], "values": [0.5]}}
    record.update(overrides)
    return record


def _blocks(path: str) -> list[tuple[int, int]]:
    """(byte offset, record count) of every block, as fastavro reads them."""
    with open(path, "rb") as handle:
        return [(block.offset, block.num_records) for block in fastavro.block_reader(handle)]


def _read_all(path, features, batch_size=4, **kwargs):
    return [batch for batch in AvroTensorDataset([path], features, batch_size, **kwargs)]


def _write(tmp_path, records, codec="null", sync_interval=16000, name="e.avro"):
    return write_fastavro(str(tmp_path / name), SCHEMA, records, codec, sync_interval)


# --- spec / schema mismatches, reported before reading -------------------------------------

@pytest.mark.parametrize("feature_name, spec, expected, found", [
    ("name", DenseFeature(tf.int32), "int32", "string"),
    ("id", DenseFeature(tf.string), "string", "int"),
    ("wide", DenseFeature(tf.bool), "boolean", "double"),
    ("id", DenseFeature(tf.int32, (3,)), "array", "int"),
    ("vec", DenseFeature(tf.float32), "values of Avro type float", "array<float>"),
    ("vec", VarlenFeature(tf.float32, (-1, -1)), "2 nested array", "float"),
    ("grid", VarlenFeature(tf.float32, (-1,)), "inside 1 nested array", "array<float>"),
    ("choice", DenseFeature(tf.int32, default_value=0), "a union of null and one other type",
     "union<null,int,string>"),
    ("id", SparseFeature(tf.float32, (10,)), "sparse record", "int"),
    ("sp", SparseFeature(tf.float32, (10, 10)), "indices1", "record Sp"),
    ("sp", SparseFeature(tf.string, (10,)), "'values' as an array of string", "array<float>"),
])
def test_spec_mismatch_names_field_expected_and_found(tmp_path, feature_name, spec, expected, found):
    path = _write(tmp_path, [_record(k) for k in range(3)])
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        _read_all(path, {feature_name: spec})
    message = str(error.value)
    assert path in message
    assert f"'{feature_name}'" in message
    assert expected in message, message
    assert found in message, message


def test_missing_field(tmp_path):
    path = _write(tmp_path, [_record(1)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="'nope'.*not a field.*id, big"):
        _read_all(path, {"nope": DenseFeature(tf.int32)})


def test_spec_mismatch_is_reported_before_reading_corrupt_data(tmp_path):
    path = _write(tmp_path, [_record(k) for k in range(10)])
    data = bytearray(open(path, "rb").read())
    offset, _ = _blocks(path)[0]
    data[offset + 5:offset + 40] = b"\xff" * 35  # garbage in the first block
    open(path, "wb").write(bytes(data))
    with pytest.raises(tf.errors.InvalidArgumentError, match="'name'.*int64.*string"):
        _read_all(path, {"name": DenseFeature(tf.int64)})


# --- values that do not fit the spec ---------------------------------------------------------

def test_long_to_int32_overflow_names_file_block_and_field(tmp_path):
    records = [_record(k) for k in range(30)]
    records[17]["big"] = 2**31
    path = _write(tmp_path, records, sync_interval=200)
    block_offset = next(offset for offset, count in _cumulative(_blocks(path)) if count > 17)
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        _read_all(path, {"big": DenseFeature(tf.int32)})
    message = str(error.value)
    assert f"{path}: block at byte offset {block_offset}" in message
    assert "field 'big'" in message and "2147483648" in message and "int32" in message
    # int64 reads it fine
    values = [v for b in _read_all(path, {"big": DenseFeature(tf.int64)}) for v in b["big"].numpy()]
    assert values[17] == 2**31


def _cumulative(blocks):
    """(offset, records up to and including this block)."""
    total = 0
    for offset, count in blocks:
        total += count
        yield offset, total


def test_double_to_float32_overflow(tmp_path):
    path = _write(tmp_path, [_record(0, wide=1e300)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="'wide'.*float32 range"):
        _read_all(path, {"wide": DenseFeature(tf.float32)})


def test_fixed_length_mismatch(tmp_path):
    path = _write(tmp_path, [_record(0), _record(1, vec=[1.0, 2.0])])
    with pytest.raises(tf.errors.InvalidArgumentError, match="record 1 .*'vec'.*2 items.*requires 3"):
        _read_all(path, {"vec": DenseFeature(tf.float32, (3,))})
    with pytest.raises(tf.errors.InvalidArgumentError, match="'vec'.*more than the 2 items"):
        _read_all(path, {"vec": DenseFeature(tf.float32, (2,))})
    with pytest.raises(tf.errors.InvalidArgumentError, match="'grid'.*requires 3"):
        _read_all(path, {"grid": VarlenFeature(tf.float32, (-1, 3))})


def test_null_without_default(tmp_path):
    path = _write(tmp_path, [_record(0), _record(1, opt=None)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="record 1 .*'opt'.*null value.*default"):
        _read_all(path, {"opt": DenseFeature(tf.int32)})
    batch = _read_all(path, {"opt": DenseFeature(tf.int32, default_value=-1)})[0]
    assert batch["opt"].numpy().tolist() == [0, -1]


def test_sparse_index_out_of_range_and_unequal_arrays(tmp_path):
    path = _write(tmp_path, [_record(0), _record(1, sp={"indices0": [0, 12], "values": [1.0, 2.0]})])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"record 1: field 'sp'.*12.*\[0, 10\)"):
        _read_all(path, {"sp": SparseFeature(tf.float32, (10,))})
    path = _write(tmp_path, [_record(0, sp={"indices0": [0, 1], "values": [1.0]})], name="u.avro")
    with pytest.raises(tf.errors.InvalidArgumentError, match="'sp'.*1 values but 2 entries"):
        _read_all(path, {"sp": SparseFeature(tf.float32, (10,))})


# --- corrupt files ---------------------------------------------------------------------------

def test_truncated_file_every_length(tmp_path):
    path = _write(tmp_path, [_record(k) for k in range(20)], "deflate", 150)
    data = open(path, "rb").read()
    features = {"id": DenseFeature(tf.int32), "vec": VarlenFeature(tf.float32)}
    boundaries = {offset for offset, _ in _blocks(path)}  # a cut there leaves a valid file
    for length in range(0, len(data), max(1, len(data) // 60)):
        if length in boundaries:
            continue
        cut = str(tmp_path / "cut.avro")
        open(cut, "wb").write(data[:length])
        with pytest.raises(tf.errors.DataLossError) as error:
            _read_all(cut, features)
        assert cut in str(error.value)
        assert "byte offset" in str(error.value) or "not an Avro" in str(error.value)


def test_bad_sync_marker(tmp_path):
    path = _write(tmp_path, [_record(k) for k in range(20)], sync_interval=150)
    blocks = _blocks(path)
    data = bytearray(open(path, "rb").read())
    data[blocks[2][0] - 3] ^= 0xFF  # inside the sync marker that ends block 1
    open(path, "wb").write(bytes(data))
    with pytest.raises(tf.errors.DataLossError,
                       match=f"block at byte offset {blocks[1][0]}: sync marker mismatch"):
        _read_all(path, {"id": DenseFeature(tf.int32)}, batch_size=100)


def test_corrupt_deflate_block(tmp_path):
    path = _write(tmp_path, [_record(k) for k in range(20)], "deflate")
    offset, _ = _blocks(path)[0]
    data = bytearray(open(path, "rb").read())
    data[offset + 3] ^= 0x55  # first byte of the deflate stream (block type bits)
    data[offset + 4] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(tf.errors.DataLossError, match=f"byte offset {offset}"):
        _read_all(path, {"id": DenseFeature(tf.int32)})


def test_snappy_crc_mismatch(tmp_path):
    path = _write(tmp_path, [_record(k) for k in range(20)], "snappy")
    blocks = _blocks(path)
    data = bytearray(open(path, "rb").read())
    crc_end = len(data) - 16  # the last block's CRC32 ends right before the final sync marker
    data[crc_end - 1] ^= 0x01
    open(path, "wb").write(bytes(data))
    with pytest.raises(tf.errors.DataLossError, match=f"{blocks[-1][0]}.*CRC32 mismatch"):
        _read_all(path, {"id": DenseFeature(tf.int32)})


@pytest.mark.parametrize("codec", ["bzip2", "xz"])
def test_unsupported_codec(tmp_path, codec):
    path = _write(tmp_path, [_record(1)], codec)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"unsupported Avro codec '{codec}'"):
        _read_all(path, {"id": DenseFeature(tf.int32)})


def test_not_an_avro_file_and_missing_file(tmp_path):
    for content in (b"", b"Obj", b"PK\x03\x04 zip file, not avro", b"Obj\x01" + b"\xff" * 10):
        path = str(tmp_path / "bad.avro")
        open(path, "wb").write(content)
        with pytest.raises(tf.errors.DataLossError, match=re.escape(path)):
            _read_all(path, {"id": DenseFeature(tf.int32)})
    with pytest.raises(tf.errors.NotFoundError, match="no_such.avro"):
        _read_all(str(tmp_path / "no_such.avro"), {"id": DenseFeature(tf.int32)})


def test_iteration_continues_after_a_bad_block(tmp_path):
    """A bad block is reported once; ignore_errors() then yields every other record."""
    records = [_record(k) for k in range(12)]
    records[5]["big"] = -2**40
    path = _write(tmp_path, records, sync_interval=60)
    blocks = list(_cumulative(_blocks(path)))
    bad_block = next(i for i, (_, total) in enumerate(blocks) if total > 5)
    start = blocks[bad_block - 1][1] if bad_block else 0
    dataset = AvroTensorDataset([path], {"id": DenseFeature(tf.int32), "big": DenseFeature(tf.int32)},
                                1, num_parallel_calls=2).ignore_errors()
    ids = [int(b["id"][0]) for b in dataset]
    assert ids == [k for k in range(12) if not start <= k < blocks[bad_block][1]]


def test_zero_size_items_cannot_claim_unbounded_counts(tmp_path):
    """fixed(0) items take no bytes, so their count is not bounded by the block size."""
    schema = {"type": "record", "name": "Z", "fields": [
        {"name": "empties", "type": {"type": "array", "items": {"type": "fixed", "name": "F0",
                                                                 "size": 0}}}]}
    features = {"empties": VarlenFeature(tf.string)}
    fine = str(tmp_path / "fine.avro")
    open(fine, "wb").write(ocf_with_blocks(schema, "null", [(1, zigzag(3) + zigzag(0))]))
    assert _read_all(fine, features)[0]["empties"].to_list() == [[b"", b"", b""]]
    huge = str(tmp_path / "huge.avro")
    open(huge, "wb").write(ocf_with_blocks(schema, "null", [(1, zigzag(2**40) + zigzag(0))]))
    with pytest.raises(tf.errors.DataLossError, match="'empties'.*implausible item count"):
        _read_all(huge, features)



def test_corrupt_skipped_fields_are_named(tmp_path):
    """Adjacent skipped fields decode as one merged step; its error names the range."""
    schema = {"type": "record", "name": "K", "fields": [
        {"name": "a", "type": "string"}, {"name": "b", "type": "bytes"},
        {"name": "c", "type": "int"}]}
    record = zigzag(2) + b"ok" + zigzag(1000) + b"xy" + zigzag(7)  # b claims 1000 bytes
    path = str(tmp_path / "k.avro")
    open(path, "wb").write(ocf_with_blocks(schema, "null", [(1, record)]))
    with pytest.raises(tf.errors.DataLossError,
                       match=r"record 0 of 1: field 'a' \.\. 'b' \(skipped\): string/bytes length"):
        _read_all(path, {"c": DenseFeature(tf.int32)})
