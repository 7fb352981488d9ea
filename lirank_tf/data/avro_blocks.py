"""The two parts of reading an Avro block that need no file: decompressing its data within a
bound, and the fewest bytes a record of a schema can take (to reject impossible record counts
before decoding). Used by `lirank_tf.data.avro_file`; both raise ``ValueError`` with the
problem, which the reader turns into an `AvroFileError` naming the file and the block."""

from __future__ import annotations

import bz2
import lzma
import zlib
from typing import Any

# Deflate cannot expand more than 1032:1 (zlib's technical details); the C++ op uses the same
# bound (custom_ops/avro/codec.cc).
DEFLATE_MAX_RATIO = 1032
# A snappy copy element of 3 bytes yields at most 64: no stream expands more than ~22:1.
SNAPPY_MAX_RATIO = 32
CODECS = ("null", "deflate", "snappy", "bzip2", "xz")
_PRIMITIVE_MIN_SIZE = {"null": 0, "boolean": 1, "int": 1, "long": 1, "float": 4, "double": 8,
                       "bytes": 1, "string": 1}


def max_decompressed_size(codec: str, stored_size: int) -> int | None:
    """An upper bound on the data a block of ``stored_size`` bytes holds (None: no bound)."""
    if codec == "null":
        return stored_size
    if codec == "deflate":
        return DEFLATE_MAX_RATIO * stored_size + 1024
    return None


def decompress(codec: str, stored: bytes) -> bytes:
    """The data of a block stored with ``codec``.

    Args:
        codec: str, one of ``CODECS``.
        stored: bytes, the block's data as stored in the file.

    Returns:
        The uncompressed data.

    Raises:
        ValueError: the data is not a complete stream of ``codec`` (or its CRC32 differs).

    Example:
        >>> compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        >>> decompress("deflate", compressor.compress(b"abc" * 4) + compressor.flush())
        b'abcabcabcabc'
    """
    if codec == "null":
        return stored
    if codec == "deflate":
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(stored, max_decompressed_size(codec, len(stored)))
        except zlib.error as error:
            raise ValueError(f"corrupt deflate data ({error})") from None
        if inflater.unconsumed_tail:
            raise ValueError("corrupt deflate data: output exceeds the maximal expansion")
        if not inflater.eof:
            raise ValueError("corrupt deflate data: the stream is truncated")
        return data
    if codec == "snappy":
        return _unsnappy(stored)
    module = bz2 if codec == "bzip2" else lzma
    try:
        return module.decompress(stored)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as error:
        raise ValueError(f"corrupt {codec} data ({error})") from None


def _unsnappy(stored: bytes) -> bytes:
    """Snappy data followed by the big-endian CRC32 of the uncompressed data (Avro spec)."""
    if len(stored) < 4:
        raise ValueError("corrupt snappy block: shorter than its CRC32")
    try:
        from cramjam import snappy  # fastavro's own snappy dependency
    except ImportError:
        raise ValueError("the snappy codec needs the cramjam package") from None
    try:
        declared = snappy.decompress_raw_len(stored[:-4])
        if declared > SNAPPY_MAX_RATIO * len(stored) + 1024:  # checked before it is allocated
            raise ValueError(f"declares {declared} bytes, beyond the maximal expansion")
        data = bytes(snappy.decompress_raw(stored[:-4]))
    except Exception as error:  # noqa: BLE001  cramjam raises its own DecompressionError
        raise ValueError(f"corrupt snappy data ({error})") from None
    stored_crc = int.from_bytes(stored[-4:], "big")
    if zlib.crc32(data) != stored_crc:
        raise ValueError(f"snappy block CRC32 mismatch (stored {stored_crc}, computed "
                         f"{zlib.crc32(data)})")
    return data


def min_record_size(schema: Any, named: dict[str, Any]) -> int:
    """The fewest bytes a value of ``schema`` (parsed by fastavro, named types in ``named``)
    takes: 0 for null, 1 for a varint, union index, enum, array or map, 4 and 8 for float and
    double, the size of a fixed, the sum over a record's fields.

    Example:
        >>> min_record_size({"type": "record", "name": "r", "fields": [
        ...     {"name": "a", "type": "double"}, {"name": "b", "type": ["null", "string"]}]}, {})
        9
    """
    return _min_size(schema, named, frozenset())


def _min_size(schema: Any, named: dict[str, Any], seen: frozenset) -> int:
    if isinstance(schema, str):
        if schema in _PRIMITIVE_MIN_SIZE:
            return _PRIMITIVE_MIN_SIZE[schema]
        if schema in seen or schema not in named:  # recursion: 0 keeps it a lower bound
            return 0
        return _min_size(named[schema], named, seen | {schema})
    if isinstance(schema, list):
        return 1 + min((_min_size(branch, named, seen) for branch in schema), default=0)
    if not isinstance(schema, dict):
        return 0
    kind = schema.get("type")
    if kind in ("record", "error"):
        inner = seen | {schema.get("name")}
        return sum(_min_size(f.get("type"), named, inner) for f in schema.get("fields", []))
    if kind == "fixed":
        return int(schema.get("size", 0))
    if kind in ("enum", "array", "map"):
        return 1
    return _min_size(kind, named, seen)
