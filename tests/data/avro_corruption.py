"""Corrupt Avro files made on purpose, for the tests of every Python path that reads Avro.

Independent of the reader under test: files are written by fastavro, and blocks are walked
with a varint decoder of this module (each block ends with the header's 16-byte sync marker).

    >>> data = valid_file(ROWS_SCHEMA, rows(5), "null", sync_interval=40)
    >>> blocks = block_spans(data)
    >>> data[blocks[0].end - 16:blocks[0].end] == data[blocks[0].start - 16:blocks[0].start]
    True
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import fastavro

ROWS_SCHEMA = {"type": "record", "name": "Row", "fields": [
    {"name": "user", "type": "string"},
    {"name": "item", "type": "long"},
    {"name": "price", "type": ["null", "double"], "default": None},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "vec", "type": {"type": "array", "items": "float"}},
    {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["R", "G", "B"]}},
    {"name": "attrs", "type": {"type": "map", "values": "long"}},
    {"name": "clicked", "type": "int"},
]}


def rows(count: int, start: int = 0) -> list[dict]:
    """Deterministic records of ``ROWS_SCHEMA``; ``user`` is ``u%05d`` (a findable string)."""
    return [{"user": f"u{k:05d}", "item": k * 7919 % 1000, "price": None if k % 5 == 0 else k / 4,
             "tags": [f"t{k % 7}"] * (k % 3), "vec": [k / 2, -k], "color": "RGB"[k % 3],
             "attrs": {f"a{k % 4}": k} if k % 2 else {}, "clicked": k % 2}
            for k in range(start, start + count)]


def valid_file(schema: dict, records: list[dict], codec: str = "null",
               sync_interval: int = 400) -> bytes:
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(schema), records, codec=codec,
                    sync_interval=sync_interval)
    return buffer.getvalue()


def encode_long(value: int) -> bytes:
    """Avro's zig-zag varint of ``value`` (any Python int, so oversized values too)."""
    zigzag = (value << 1) if value >= 0 else ((-value) << 1) - 1
    out = bytearray()
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def decode_long(data: bytes, position: int) -> tuple[int, int]:
    """(value, position after it) of the varint at ``position``."""
    shift = zigzag = 0
    while True:
        byte = data[position]
        position += 1
        zigzag |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (zigzag >> 1) ^ -(zigzag & 1), position


@dataclass(frozen=True)
class BlockSpan:
    """A data block: file offsets of its header (``start``), data and end (after its sync)."""
    start: int
    count: int
    data_start: int
    size: int
    end: int


def block_spans(data: bytes) -> list[BlockSpan]:
    """The blocks of a valid file, walked from the end of its header."""
    spans = []
    position = _header_end(data)
    while position < len(data):
        count, after_count = decode_long(data, position)
        size, data_start = decode_long(data, after_count)
        end = data_start + size + 16
        spans.append(BlockSpan(position, count, data_start, size, end))
        position = end
    return spans


def _header_end(data: bytes) -> int:
    """Offset of the first block: after magic, metadata map and sync marker."""
    position = 4
    while True:
        count, position = decode_long(data, position)
        if count == 0:
            return position + 16
        if count < 0:
            _, position = decode_long(data, position)
            count = -count
        for _ in range(2 * count):  # key, value
            length, position = decode_long(data, position)
            position += length


def with_block_header(data: bytes, block: BlockSpan, *, count: bytes | None = None,
                      size: bytes | None = None) -> bytes:
    """``data`` with the count and/or size varint of ``block`` replaced by raw bytes."""
    old_count_end = decode_long(data, block.start)[1]
    new_count = data[block.start:old_count_end] if count is None else count
    new_size = data[old_count_end:block.data_start] if size is None else size
    return data[:block.start] + new_count + new_size + data[block.data_start:]


def with_block_data(data: bytes, block: BlockSpan, payload: bytes, codec: str) -> bytes:
    """``data`` with ``block`` holding the (uncompressed) ``payload``, sizes re-encoded."""
    if codec == "deflate":
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        stored = compressor.compress(payload) + compressor.flush()
    elif codec == "null":
        stored = payload
    else:
        raise ValueError(f"codec {codec!r}: only null and deflate blocks can be rewritten")
    sync = data[block.end - 16:block.end]
    return (data[:block.start] + encode_long(block.count) + encode_long(len(stored)) + stored
            + sync + data[block.end:])


def block_payload(data: bytes, block: BlockSpan, codec: str) -> bytes:
    """The uncompressed data of ``block``."""
    stored = data[block.data_start:block.data_start + block.size]
    return zlib.decompress(stored, -15) if codec == "deflate" else stored
