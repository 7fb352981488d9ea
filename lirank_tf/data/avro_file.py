"""``open_avro``: the one bounded reader of Avro object container files for lirank-tf's Python
code (preflight checks, record counts, init-config's sample, evaluation, the fastavro pipeline).

Every length the file states (metadata entries, block record counts and sizes) is checked
against the bytes the file has left before anything is read or allocated, every block must end
with the header's sync marker, and every failure -- truncation, an overlong varint, corrupt
codec data, a record that does not decode -- raises `lirank_tf.errors.AvroFileError` naming the
file, the byte offset and, inside a block, the record index (in the file) and the field.
fastavro decodes the records, but only from bytes already in memory: no length read from the
file ever reaches ``tf.io.gfile.GFile.read`` (which segfaults on ``2**62``) or ``open().read``
(``MemoryError``). Paths with a scheme (``gs://``, ``hdfs://``) are read with ``tf.io.gfile``.

Example:
    >>> import os, tempfile, fastavro
    >>> path = os.path.join(tempfile.mkdtemp(), "day1.avro")
    >>> schema = {"type": "record", "name": "Row", "fields": [{"name": "click", "type": "int"}]}
    >>> with open(path, "wb") as handle:
    ...     fastavro.writer(handle, schema, [{"click": 1}, {"click": 0}])
    >>> with open_avro(path) as avro:
    ...     [avro.codec, [f["name"] for f in avro.fields], avro.record_count(), list(avro)]
    ['null', ['click'], 2, [{'click': 1}, {'click': 0}]]
    >>> _ = open(path, "r+b").truncate(60)
    >>> read_records(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lirank_tf.errors.AvroFileError: .../day1.avro: byte 35: header's value of ... bytes runs past the end of the file (25 bytes left)
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from itertools import islice
from typing import Any, Iterator

import fastavro

from lirank_tf.data.avro_blocks import (CODECS, decompress, max_decompressed_size,
                                        min_record_size)
from lirank_tf.data.bounded_input import BoundedInput, error_reason
from lirank_tf.errors import AvroFileError

MAGIC = b"Obj\x01"
SYNC_SIZE = 16


@dataclass(frozen=True)
class BlockHeader:
    """A data block: ``offset`` of its header in the file, its record ``count``, and the file
    offset and stored size of its data (followed by the 16-byte sync marker)."""
    offset: int
    count: int
    data_offset: int
    size: int


class AvroFile:
    """An open Avro container file: the header read and checked, blocks read on demand.

    Attributes:
        path: str, the file.
        metadata: dict[str, bytes], the header's metadata (``avro.schema``, ``avro.codec`` ...).
        codec: str, one of ``null``, ``deflate``, ``snappy``, ``bzip2``, ``xz``.
        writer_schema: the writer schema as written (JSON), e.g. ``{"type": "record", ...}``.

    Raises:
        AvroFileError: the file cannot be opened or its header is not a valid Avro header.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._input = BoundedInput(self.path)
        try:
            self._read_header()
        except BaseException:
            self.close()
            raise

    def _read_header(self) -> None:
        source = self._input
        if source.size < len(MAGIC) or source.read(len(MAGIC), "header") != MAGIC:
            raise AvroFileError(self.path, "not an Avro object container file (it does not "
                                "start with b'Obj\\x01')", offset=0)
        self.metadata: dict[str, bytes] = {}
        while count := source.read_long("header's metadata count"):
            if count < 0:
                count = -count
                source.read_long("header's metadata size")
            if 2 * count > source.size - source.position:
                raise source.fail(f"corrupt header: {count} metadata entries cannot fit")
            for _ in range(count):
                key_at = source.position
                key = source.read(source.read_long("header's key length"), "header's key")
                value = source.read(source.read_long("header's value length"), "header's value")
                try:
                    self.metadata[key.decode("utf-8")] = value
                except UnicodeDecodeError:
                    raise source.fail("corrupt header: a metadata key is not UTF-8",
                                      key_at) from None
        self.sync = source.read(SYNC_SIZE, "header's sync marker")
        self.header_size = source.position
        self.codec = self.metadata.get("avro.codec", b"null").decode("utf-8", "replace") or "null"
        if self.codec not in CODECS:
            raise AvroFileError(self.path, f"unsupported Avro codec {self.codec!r} (supported: "
                                f"{', '.join(CODECS)})", offset=0)
        try:
            self.writer_schema: Any = json.loads(self.metadata["avro.schema"].decode("utf-8"))
            self._named: dict[str, Any] = {}
            self._parsed = fastavro.parse_schema(self.writer_schema, named_schemas=self._named)
        except Exception as error:  # noqa: BLE001  KeyError, UnicodeError, JSON or schema errors
            problem = ("the header has no avro.schema" if isinstance(error, KeyError) else
                       f"the header's writer schema is invalid ({type(error).__name__}: "
                       f"{error_reason(error)})")
            raise AvroFileError(self.path, problem, offset=0) from None
        self._min_size = min_record_size(self._parsed, self._named)

    @property
    def fields(self) -> list[dict]:
        """The writer schema's fields; an `AvroFileError` if it is not a record schema."""
        schema = self.writer_schema
        if not isinstance(schema, dict) or schema.get("type") not in ("record", "error"):
            raise AvroFileError(self.path, "the writer schema is not a record: "
                                f"{json.dumps(schema)[:200]}")
        return schema.get("fields", [])

    def blocks(self) -> Iterator[BlockHeader]:
        """The block headers, each checked (sizes, record count, sync marker), data skipped."""
        for header in self._block_headers():
            self._input.seek(header.data_offset + header.size)
            self._check_sync()
            yield header

    def record_count(self) -> int:
        """Records in the file, from the block headers (no decoding)."""
        return sum(block.count for block in self.blocks())

    def __iter__(self) -> Iterator[dict]:
        """Every record, decoded by fastavro from the checked, decompressed block data."""
        first = 0
        for header in self._block_headers():
            stored = self._input.read(header.size, "block data")
            self._check_sync()
            try:
                data = decompress(self.codec, stored)
            except ValueError as error:
                raise AvroFileError(self.path, str(error), offset=header.offset) from None
            self._check_count(header, len(data))
            yield from self._decode(header, data, first)
            first += header.count

    def _block_headers(self) -> Iterator[BlockHeader]:
        source = self._input
        source.seek(self.header_size)
        while source.position < source.size:
            start = source.position
            count = source.read_long("block's record count")
            size = source.read_long("block's size")
            if count < 0 or size < 0:
                raise source.fail(f"corrupt block header: record count {count}, size {size}",
                                  start)
            if size + SYNC_SIZE > source.size - source.position:
                raise source.fail(f"block of {size} bytes (and its sync marker) runs past the end"
                                  f" of the file ({source.size - source.position} bytes left)",
                                  start)
            header = BlockHeader(start, count, source.position, size)
            bound = max_decompressed_size(self.codec, size)
            if bound is not None:
                self._check_count(header, bound)
            yield header

    def _check_sync(self) -> None:
        at = self._input.position
        if self._input.read(SYNC_SIZE, "sync marker") != self.sync:
            raise AvroFileError(self.path, "sync marker mismatch: the block before it is corrupt "
                                "(its size or data)", offset=at)

    def _check_count(self, header: BlockHeader, data_size: int) -> None:
        if header.count * self._min_size > data_size:
            raise AvroFileError(self.path, f"corrupt block header: {header.count} records cannot"
                                f" fit in {data_size} bytes of data", offset=header.offset)

    def _decode(self, header: BlockHeader, data: bytes, first: int) -> Iterator[dict]:
        buffer = io.BytesIO(data)
        for index in range(header.count):
            start = buffer.tell()
            try:
                record = fastavro.schemaless_reader(buffer, self._parsed)
            except Exception as error:  # noqa: BLE001  fastavro raises many types on corrupt data
                raise self._record_error(header, data, start, first + index, error) from None
            yield record
        if buffer.tell() != len(data):
            raise self._error_in_block(header, buffer.tell(), f"{len(data) - buffer.tell()} bytes"
                                       f" after the block's last record ({header.count} records)")

    def _record_error(self, header: BlockHeader, data: bytes, start: int, record: int,
                      error: Exception) -> AvroFileError:
        field, at = self._failing_field(data, start)
        reason = re.sub(r" from <[^>]*>", "", error_reason(error))  # not "<_io.BytesIO at 0x...>"
        problem = (f"truncated or corrupt record: it runs past the end of its block ({reason})"
                   if isinstance(error, EOFError) else
                   f"corrupt record ({type(error).__name__}: {reason})")
        return self._error_in_block(header, at, problem, record, field)

    def _error_in_block(self, header: BlockHeader, at: int, problem: str,
                        record: int | None = None, field: str | None = None) -> AvroFileError:
        if self.codec == "null":
            return AvroFileError(self.path, problem, offset=header.data_offset + at,
                                 record=record, field=field)
        return AvroFileError(self.path, f"{problem} (byte {at} of the {self.codec} block's data)",
                             offset=header.offset, record=record, field=field)

    def _failing_field(self, data: bytes, start: int) -> tuple[str | None, int]:
        """(the first field that does not decode, where it starts) of the record at ``start``:
        the record is decoded again with the schema cut after each field in turn."""
        try:
            fields = self.fields
        except AvroFileError:
            return None, start
        at = start
        for end, field in enumerate(fields, 1):
            buffer = io.BytesIO(data)
            buffer.seek(start)
            try:
                fastavro.schemaless_reader(buffer, {**self.writer_schema, "fields": fields[:end]})
            except Exception:  # noqa: BLE001
                return field.get("name"), at
            at = buffer.tell()
        return None, start

    def close(self) -> None:
        self._input.close()

    def __enter__(self) -> AvroFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_avro(path: str | os.PathLike) -> AvroFile:
    """Opens the Avro file at ``path`` (use it in a ``with`` block); see `AvroFile`."""
    return AvroFile(path)


def read_records(path: str | os.PathLike, limit: int | None = None) -> list[dict]:
    """The first ``limit`` (default: all) records of the Avro file at ``path``."""
    with open_avro(path) as avro:
        return list(islice(avro, limit))


def record_count(path: str | os.PathLike) -> int:
    """Records in the Avro file at ``path``, from its block headers (no decoding)."""
    with open_avro(path) as avro:
        return avro.record_count()
