"""AvroTensorDataset as a pipeline: shuffling, determinism, iterator checkpoints, agreement
with tensorflow-io's ATDS reader, and the snappy decompressor on every element type."""

from __future__ import annotations

import io
import zlib

import cramjam
import fastavro
import numpy as np
import pytest
import tensorflow as tf

from avro_reference import actual_feature, ocf_with_blocks, read_fastavro, varint, write_fastavro
from lirank_tf.data import AvroTensorDataset, DenseFeature, SparseFeature, VarlenFeature

SCHEMA = {"type": "record", "name": "P", "fields": [
    {"name": "id", "type": "long"},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "score", "type": "float"},
]}
FEATURES = {"id": DenseFeature(tf.int64), "tags": VarlenFeature(tf.string),
            "score": DenseFeature(tf.float32)}


def _record(k: int) -> dict:
    return {"id": k, "tags": [f"t{k}:{j}" for j in range(k % 4)], "score": k / 2}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[str]:
    """4 files of 150 records (small blocks), 600 records in all, ids 0..599 in file order."""
    folder = tmp_path_factory.mktemp("pipeline")
    return [write_fastavro(str(folder / f"part{p}.avro"), SCHEMA,
                           [_record(p * 150 + k) for k in range(150)],
                           ["null", "deflate", "snappy", "deflate"][p], 400) for p in range(4)]


def _ids(dataset) -> list[int]:
    return [int(i) for batch in dataset for i in batch["id"].numpy()]


def _batches(iterator, count=None) -> list[list]:
    out = []
    for batch in iterator:
        out.append({name: actual_feature(value, None) for name, value in batch.items()})
        if count is not None and len(out) == count:
            break
    return out


# --- shuffling ------------------------------------------------------------------------------

def test_shuffle_is_a_permutation_and_mixes_across_blocks_and_files(files):
    dataset = AvroTensorDataset(files, FEATURES, 64, shuffle_buffer_size=300, seed=7)
    ids = _ids(dataset)
    assert sorted(ids) == list(range(600))
    assert ids != list(range(600))
    first_batch = ids[:64]
    # the pool holds >= 364 records when the first batch is drawn: 3 files' worth of ids
    assert len({i // 150 for i in first_batch}) >= 2
    assert max(first_batch) >= 200


def test_shuffle_is_reproducible_with_a_seed_and_differs_per_epoch(files):
    make = lambda seed: AvroTensorDataset(files, FEATURES, 50, shuffle_buffer_size=200, seed=seed)
    dataset = make(3)
    epoch1, epoch2 = _ids(dataset), _ids(dataset)
    assert epoch1 != epoch2 and sorted(epoch1) == sorted(epoch2)
    again = make(3)
    assert _ids(again) == epoch1 and _ids(again) == epoch2
    assert _ids(make(4)) != epoch1


def test_shuffle_order_does_not_depend_on_threads(files):
    orders = [_ids(AvroTensorDataset(files, FEATURES, 32, shuffle_buffer_size=100, seed=11,
                                     num_parallel_calls=threads)) for threads in (1, 2, 4)]
    assert orders[0] == orders[1] == orders[2]


def test_unseeded_iterators_draw_fresh_orders(files):
    dataset = AvroTensorDataset(files, FEATURES, 600, shuffle_buffer_size=600)
    assert _ids(dataset) != _ids(dataset)


def test_each_record_can_land_anywhere_with_a_full_buffer(files):
    """With the buffer covering the data, the batch holding record 0 varies over seeds."""
    positions = set()
    for seed in range(1, 25):
        ids = _ids(AvroTensorDataset(files[:1], FEATURES, 15, shuffle_buffer_size=150, seed=seed))
        positions.add(ids.index(0) // 15)
    assert len(positions) >= 5


# --- iterator checkpoints ------------------------------------------------------------------

@pytest.mark.parametrize("shuffle, threads, batch, seed", [
    (0, 1, 37, None), (0, 2, 64, None), (120, 2, 29, 5), (250, tf.data.AUTOTUNE, 50, None),
    (1000, 1, 7, None)])
@pytest.mark.parametrize("stop_after", [1, 4, 9])
def test_checkpoint_restores_the_exact_remaining_batches(tmp_path, files, shuffle, threads,
                                                          batch, seed, stop_after):
    dataset = AvroTensorDataset(files, FEATURES, batch, shuffle_buffer_size=shuffle,
                                num_parallel_calls=threads, seed=seed)
    iterator = iter(dataset)
    _batches(iterator, stop_after)
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    path = checkpoint.write(str(tmp_path / "ckpt"))
    remaining = _batches(iterator)
    assert remaining, "the checkpoint should be mid-epoch"
    # restore into a fresh iterator of the same dataset
    fresh = iter(dataset)
    tf.train.Checkpoint(iterator=fresh).read(path).assert_consumed()
    assert _batches(fresh) == remaining
    # and into the original iterator after it ran to the end
    checkpoint.read(path)
    assert _batches(iterator) == remaining


def test_checkpoint_after_the_last_batch(tmp_path, files):
    dataset = AvroTensorDataset(files[:1], FEATURES, 100)
    iterator = iter(dataset)
    assert len(_batches(iterator)) == 2
    path = tf.train.Checkpoint(iterator=iterator).write(str(tmp_path / "end"))
    fresh = iter(dataset)
    tf.train.Checkpoint(iterator=fresh).read(path)
    assert _batches(fresh) == []


# --- agreement with tensorflow-io's ATDS ----------------------------------------------------

ATDS_SCHEMA = {"type": "record", "name": "A", "fields": [
    {"name": "i", "type": "int"}, {"name": "l", "type": "long"}, {"name": "f", "type": "float"},
    {"name": "d", "type": "double"}, {"name": "b", "type": "boolean"},
    {"name": "s", "type": "string"},
    {"name": "vec", "type": {"type": "array", "items": "float"}},
    {"name": "ids", "type": {"type": "array", "items": "long"}},
    {"name": "words", "type": {"type": "array", "items": "string"}},
    {"name": "grid", "type": {"type": "array", "items": {"type": "array", "items": "int"}}},
    {"name": "sp", "type": {"type": "record", "name": "LongSparse", "fields": [
        {"name": "indices0", "type": {"type": "array", "items": "long"}},
        {"name": "values", "type": {"type": "array", "items": "long"}}]}},
]}


def _atds_record(k: int) -> dict:
    return {"i": k - 40, "l": k * 10**10, "f": k / 3, "d": -k / 7, "b": k % 2 == 0,
            "s": f"ü{k}", "vec": [k, k + 0.5, -k], "ids": list(range(k % 5)),
            "words": [f"w{j}" for j in range(k % 3)],
            "grid": [[j + m for m in range((k + j) % 3)] for j in range(k % 4)],
            "sp": {"indices0": sorted({(k * j) % 20 for j in range(k % 4)}),
                   "values": [k * 100 + j for j in range(len({(k * j) % 20 for j in range(k % 4)}))]}}


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy"])
def test_matches_tensorflow_io_atds(tmp_path, codec):
    from tensorflow_io.python.experimental.atds import dataset as atds_dataset
    from tensorflow_io.python.experimental.atds import features as atds_features
    path = write_fastavro(str(tmp_path / "atds.avro"), ATDS_SCHEMA,
                          [_atds_record(k) for k in range(90)], codec, 300)
    ours = {"i": DenseFeature(tf.int32), "l": DenseFeature(tf.int64), "f": DenseFeature(tf.float32),
            "d": DenseFeature(tf.float64), "b": DenseFeature(tf.bool), "s": DenseFeature(tf.string),
            "vec": DenseFeature(tf.float32, (3,)),
            "ids": VarlenFeature(tf.int64, output="sparse"),
            "words": VarlenFeature(tf.string, output="sparse"),
            "grid": VarlenFeature(tf.int32, (-1, -1), output="sparse"),
            "sp": SparseFeature(tf.int64, (20,))}
    theirs = {}
    for name, spec in ours.items():
        if isinstance(spec, DenseFeature):
            theirs[name] = atds_features.DenseFeature(list(spec.shape), spec.dtype)
        elif isinstance(spec, SparseFeature):
            theirs[name] = atds_features.SparseFeature(list(spec.shape), spec.dtype)
        else:
            theirs[name] = atds_features.VarlenFeature(list(spec.shape), spec.dtype)
    reference = atds_dataset.ATDSDataset([path], batch_size=16, features=theirs)
    compared = 0
    for mine, atds in zip(AvroTensorDataset([path], ours, 16), reference):
        for name in ours:
            if isinstance(atds[name], tf.SparseTensor):
                assert tf.sparse.to_dense(mine[name]).numpy().tolist() == \
                    tf.sparse.to_dense(atds[name]).numpy().tolist(), name
                assert mine[name].values.numpy().tolist() == atds[name].values.numpy().tolist()
            else:
                assert mine[name].numpy().tolist() == atds[name].numpy().tolist(), name
        compared += 1
    assert compared == 6


# --- snappy: every element type of the format -----------------------------------------------

def _snappy_literal(chunk: bytes) -> bytes:
    n = len(chunk) - 1
    if n < 60:
        return bytes([n << 2]) + chunk
    size = (n.bit_length() + 7) // 8
    return bytes([(59 + size) << 2]) + n.to_bytes(size, "little") + chunk


def _snappy_copy(offset: int, length: int, kind: int) -> bytes:
    if kind == 1:
        return bytes([((offset >> 8) << 5) | ((length - 4) << 2) | 1, offset & 0xFF])
    if kind == 2:
        return bytes([((length - 1) << 2) | 2]) + offset.to_bytes(2, "little")
    assert kind == 4
    return bytes([((length - 1) << 2) | 3]) + offset.to_bytes(4, "little")


def _snappy_compress_all_elements(data: bytes) -> tuple[bytes, set[str]]:
    """A valid (not size-optimal) snappy stream using literals of every length form and
    copies with 1-, 2- and 4-byte offsets, including overlapping (run-length) copies.
    Returns the stream and the element kinds it used."""
    out, used = bytearray(varint(len(data))), set()
    position = 0
    for size, kind in ((70_000, "literal, 3-byte length"), (200, "literal, 1-byte length"),
                       (3000, "literal, 2-byte length"), (10, "literal, inline length")):
        out += _snappy_literal(data[position:position + size])
        position += size
        used.add(kind)
    last_seen: dict[bytes, int] = {}
    for start in range(position - 3):
        last_seen[data[start:start + 4]] = start
    literal_start, turn = position, 0
    while position + 4 <= len(data):
        candidate = last_seen.get(data[position:position + 4])
        last_seen[data[position:position + 4]] = position
        if candidate is None:
            position += 1
            continue
        offset, length = position - candidate, 4
        while position + length < len(data) and length < 64 and \
                data[position + length] == data[position + length - offset]:
            length += 1
        kind = (1, 2, 4)[turn % 3]
        if kind == 1 and (offset >= 2048 or length > 11):
            kind = 2
        if kind == 2 and offset >= 65536:
            kind = 4
        if literal_start < position:
            out += _snappy_literal(data[literal_start:position])
        out += _snappy_copy(offset, length, kind)
        used.add(f"copy{kind}")
        if offset < length:
            used.add("overlapping copy")
        position += length
        literal_start = position
        turn += 1
    if literal_start < len(data):
        out += _snappy_literal(data[literal_start:])
    return bytes(out), used


def test_snappy_decompressor_handles_every_element_type(tmp_path):
    rng = np.random.default_rng(0)
    records = [{"id": k, "tags": ["abc" * (k % 30), "zz" * 40] + [f"tag{k % 7}"] * 3,
                "score": float(k)} for k in range(300)]
    records.append({"id": 301, "tags": [bytes(rng.integers(0, 256, 70_000, np.uint8)).hex()],
                    "score": 1.0})  # > 65536-byte literal: 3-byte literal length
    records.append({"id": 302, "tags": ["q" * 500], "score": 2.0})  # run: overlapping copies
    buffer = io.BytesIO()
    for record in records:
        fastavro.schemaless_writer(buffer, fastavro.parse_schema(SCHEMA), record)
    raw = buffer.getvalue()
    compressed, used = _snappy_compress_all_elements(raw)
    assert cramjam.snappy.decompress_raw(compressed).read() == raw  # independent decoder agrees
    assert used == {"literal, 3-byte length", "literal, 2-byte length", "literal, 1-byte length",
                    "literal, inline length", "copy1", "copy2", "copy4", "overlapping copy"}
    payload = compressed + zlib.crc32(raw).to_bytes(4, "big")
    path = str(tmp_path / "crafted.avro")
    open(path, "wb").write(ocf_with_blocks(SCHEMA, "snappy", [(len(records), payload)]))
    assert read_fastavro(path) == records
    got = [b for b in AvroTensorDataset([path], FEATURES, 1000)][0]
    assert got["id"].numpy().tolist() == [r["id"] for r in records]
    assert got["tags"].to_list() == [[t.encode() for t in r["tags"]] for r in records]
    # a copy reaching before the start of the output is a clean error
    bad = varint(10) + _snappy_copy(5, 10, 2)
    path = str(tmp_path / "bad.avro")
    open(path, "wb").write(ocf_with_blocks(SCHEMA, "snappy", [(1, bad + b"\0\0\0\0")]))
    with pytest.raises(tf.errors.DataLossError, match="corrupt snappy data: copy offset"):
        list(AvroTensorDataset([path], FEATURES, 10))
