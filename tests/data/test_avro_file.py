"""The bounded Avro file reader: the records fastavro reads from valid files, and for every kind
of corruption an `AvroFileError` naming the file, the byte offset, the record and the field."""

from __future__ import annotations

import io
import json

import fastavro
import pytest
import tensorflow as tf

from avro_corruption import (ROWS_SCHEMA, block_payload, block_spans, encode_long, rows,
                             valid_file, with_block_data, with_block_header)
from layer_checks import assert_doctests_pass
from lirank_tf.data import avro_blocks, avro_file, bounded_input
from lirank_tf.data.avro_file import open_avro, read_records, record_count
from lirank_tf.errors import AvroFileError


def _write(tmp_path, data: bytes, name: str = "day1.avro") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _error(path: str) -> AvroFileError:
    with pytest.raises(AvroFileError) as caught:
        with open_avro(path) as avro:
            avro.record_count()
            list(avro)
    assert str(caught.value).startswith(f"{path}: "), caught.value
    return caught.value


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy", "bzip2", "xz"])
def test_records_and_block_counts_equal_fastavros(tmp_path, codec):
    data = valid_file(ROWS_SCHEMA, rows(250), codec, sync_interval=700)
    path = _write(tmp_path, data)
    with open_avro(path) as avro:
        assert avro.codec == codec
        assert avro.writer_schema == json.loads(avro.metadata["avro.schema"])
        assert [f["name"] for f in avro.fields] == [f["name"] for f in ROWS_SCHEMA["fields"]]
        counts = [block.count for block in avro.blocks()]
        assert counts == [b.num_records for b in fastavro.block_reader(io.BytesIO(data))]
        assert len(counts) > 3
        assert list(avro) == list(fastavro.reader(io.BytesIO(data))) == rows(250)
    assert record_count(path) == 250
    assert read_records(path, limit=7) == rows(7)


def test_a_file_without_records(tmp_path):
    path = _write(tmp_path, valid_file(ROWS_SCHEMA, []))
    assert read_records(path) == [] and record_count(path) == 0


def test_huge_negative_and_overlong_block_header_varints(tmp_path):
    data = valid_file(ROWS_SCHEMA, rows(100), "deflate")
    block = block_spans(data)[1]
    error = _error(_write(tmp_path, with_block_header(data, block, size=encode_long(2**62))))
    assert error.offset == block.start and "runs past the end of the file" in error.problem
    error = _error(_write(tmp_path, with_block_header(data, block, count=encode_long(-1))))
    assert error.offset == block.start and "record count -1" in error.problem
    error = _error(_write(tmp_path, with_block_header(data, block, size=b"\x80" * 11 + b"\x01")))
    assert error.offset == block.start + 1 and "varint longer than 10 bytes" in error.problem
    error = _error(_write(tmp_path, with_block_header(data, block, count=encode_long(2**62))))
    assert error.offset == block.start and "cannot fit" in error.problem  # before decoding


def test_every_truncation_is_an_error_or_a_shorter_valid_file(tmp_path):
    data = valid_file(ROWS_SCHEMA, rows(30), "null", sync_interval=200)
    ends = {block.end: sum(b.count for b in block_spans(data) if b.end <= block.end)
            for block in block_spans(data)}
    header_end = block_spans(data)[0].start
    ends[header_end] = 0
    for cut in range(len(data)):
        path = _write(tmp_path, data[:cut])
        if cut in ends:   # at a block boundary the prefix is a valid file
            assert read_records(path) == rows(ends[cut])
            continue
        error = _error(path)
        assert error.offset is not None and error.offset <= cut, (cut, error)


def test_a_sync_marker_mismatch_names_the_marker_offset(tmp_path):
    data = bytearray(valid_file(ROWS_SCHEMA, rows(100)))
    block = block_spans(bytes(data))[0]
    data[block.end - 1] ^= 0xFF
    error = _error(_write(tmp_path, bytes(data)))
    assert error.offset == block.end - 16 and "sync marker mismatch" in error.problem


def test_corrupt_codec_data_names_the_block(tmp_path):
    data = bytearray(valid_file(ROWS_SCHEMA, rows(100), "deflate"))
    block = block_spans(bytes(data))[2]
    data[block.data_start + 2] ^= 0xFF
    error = _error(_write(tmp_path, bytes(data)))
    assert error.offset == block.start and "deflate" in error.problem
    data = bytearray(valid_file(ROWS_SCHEMA, rows(100), "snappy"))
    block = block_spans(bytes(data))[1]
    data[block.data_start + block.size - 1] ^= 0x01   # the block's CRC32
    error = _error(_write(tmp_path, bytes(data)))
    assert error.offset == block.start and "CRC32 mismatch" in error.problem


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_a_corrupt_record_names_its_index_and_field(tmp_path, codec):
    data = valid_file(ROWS_SCHEMA, rows(100), codec)
    blocks = block_spans(data)
    block = blocks[1]
    payload = block_payload(data, block, codec)
    # the second record of the block: its user string "u000NN" (length 6) claims 2**62 bytes
    second = payload.index(b"\x0cu", 1)
    corrupt = payload[:second] + encode_long(2**62) + payload[second + 1:]
    error = _error(_write(tmp_path, with_block_data(data, block, corrupt, codec)))
    assert error.record == blocks[0].count + 1 and error.field == "user"
    if codec == "null":
        assert error.offset == block.data_start + second
    else:
        assert error.offset == block.start and f"(byte {second} of the deflate" in error.problem


def test_a_block_declaring_too_few_records_leaves_bytes_behind(tmp_path):
    data = valid_file(ROWS_SCHEMA, rows(100), "null")
    block = block_spans(data)[0]
    error = _error(_write(tmp_path, with_block_header(data, block,
                                                      count=encode_long(block.count - 1))))
    assert "after the block's last record" in error.problem


def test_bad_headers_and_unreadable_paths(tmp_path):
    valid = valid_file(ROWS_SCHEMA, rows(5))
    assert "not an Avro object container file" in _error(_write(tmp_path, b"a,b\n1,2\n")).problem
    assert "not an Avro object container file" in _error(_write(tmp_path, b"")).problem
    assert "unsupported Avro codec 'lzzz'" in _error(_write(
        tmp_path, valid.replace(b"\x08null", b"\x08lzzz", 1))).problem
    assert "writer schema is invalid" in _error(_write(
        tmp_path, valid.replace(b'"record"', b'"rekord"', 1))).problem
    with open_avro(_write(tmp_path, valid_file({"type": "array", "items": "int"}, [[1]]))) as avro:
        with pytest.raises(AvroFileError, match="the writer schema is not a record"):
            avro.fields
    (tmp_path / "folder.avro").mkdir()
    for path in (tmp_path / "folder.avro", tmp_path / "missing.avro"):
        with pytest.raises(AvroFileError, match=rf"^{path}: cannot open the file \("):
            open_avro(path)


def test_paths_with_a_scheme_are_read_by_tf_io_gfile_within_the_file(tmp_path):
    data = valid_file(ROWS_SCHEMA, rows(60), "deflate")
    block = block_spans(data)[0]
    path = "ram://avro_file_test/huge.avro"
    with tf.io.gfile.GFile(path, "wb") as handle:   # GFile.read(2**62) would segfault
        handle.write(with_block_header(data, block, size=encode_long(2**62)))
    with pytest.raises(AvroFileError, match=rf"^{path}: byte {block.start}: "):
        record_count(path)
    path = "ram://avro_file_test/valid.avro"
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(data)
    assert read_records(path) == rows(60)


def test_min_record_size_and_doctests():
    named: dict = {}
    parsed = fastavro.parse_schema(ROWS_SCHEMA, named_schemas=named)
    # user 1, item 1, price union 1, tags 1, vec 1, color 1, attrs 1, clicked 1
    assert avro_blocks.min_record_size(parsed, named) == 8
    linked = {"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "double"}, {"name": "next", "type": ["null", "Node"]}]}
    named = {}
    parsed = fastavro.parse_schema(linked, named_schemas=named)
    assert avro_blocks.min_record_size(parsed, named) == 9
    assert_doctests_pass(avro_file)
    assert_doctests_pass(avro_blocks)
    assert_doctests_pass(bounded_input)


def test_the_field_named_is_the_first_that_does_not_decode(tmp_path):
    data = valid_file(ROWS_SCHEMA, rows(3), "null")
    block = block_spans(data)[0]
    before_color = {**ROWS_SCHEMA, "fields": ROWS_SCHEMA["fields"][:5]}
    prefix = io.BytesIO()
    fastavro.schemaless_writer(prefix, fastavro.parse_schema(before_color), rows(1)[0])
    at = block.data_start + len(prefix.getvalue())
    assert data[at] == 0   # color "R": enum index 0
    corrupt = data[:at] + encode_long(50) + data[at + 1:]   # index 50 of 3 symbols
    error = _error(_write(tmp_path, corrupt))
    assert (error.offset, error.record, error.field) == (at, 0, "color"), error
