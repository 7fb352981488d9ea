"""`BoundedInput`: a file read only in lengths checked against the bytes it has left, the base
of the bounded Avro reader (`lirank_tf.data.avro_file`). Lengths read from a corrupt file never
reach ``tf.io.gfile.GFile.read`` (which segfaults on ``2**62``) or ``open().read``
(``MemoryError``)."""

from __future__ import annotations

import os

from lirank_tf.errors import AvroFileError

_MAX_VARINT_BYTES = 10  # a 64-bit zig-zag varint
_SHORT = 16             # reads up to this many bytes are fixed-size parts (varint byte, sync)


class BoundedInput:
    """A file read only in lengths checked against the bytes it has left (a varint, a header
    entry, a block): a length stated by a corrupt file is an `AvroFileError` at its offset,
    never a read (nor an allocation) of that many bytes.

    Args:
        path: str, a local path (read with ``open``) or one with a scheme (``gs://``, ``ram://``,
            read with ``tf.io.gfile``).

    Raises:
        AvroFileError: the file cannot be opened (missing, a directory, no permission).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "part.avro")
        >>> _ = open(path, "wb").write(b"\\x04abc")
        >>> source = BoundedInput(path)
        >>> source.read(source.read_long("length"), "value")
        b'ab'
        >>> source.read(2**62, "value")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lirank_tf.errors.AvroFileError: ...part.avro: byte 3: value of 4611686018427387904 bytes runs past the end of the file (1 bytes left)
    """

    def __init__(self, path: str) -> None:
        self.path, self.position = path, 0
        try:
            if "://" in path:
                import tensorflow as tf
                self.size = int(tf.io.gfile.stat(path).length)
                self._handle = tf.io.gfile.GFile(path, "rb")
            else:
                self._handle = open(path, "rb")  # noqa: SIM115  closed by close()
                self.size = os.fstat(self._handle.fileno()).st_size
        except Exception as error:  # noqa: BLE001  OSError, or tf.errors.OpError for a scheme
            raise AvroFileError(path, f"cannot open the file ({error_reason(error)})") from None

    def fail(self, problem: str, offset: int | None = None) -> AvroFileError:
        """An `AvroFileError` of this file at ``offset`` (default: the current position)."""
        return AvroFileError(self.path, problem, offset=self.position if offset is None else offset)

    def read(self, count: int, what: str) -> bytes:
        """The next ``count`` bytes, ``what`` naming them in an error."""
        if count < 0:
            raise self.fail(f"corrupt {what}: negative length {count}")
        if count > self.size - self.position:
            if count <= _SHORT:  # a varint byte, the magic, a sync marker
                raise self.fail(f"truncated file: it ends inside the {what}")
            raise self.fail(f"{what} of {count} bytes runs past the end of the file "
                            f"({self.size - self.position} bytes left)")
        try:
            data = self._handle.read(count)
        except Exception as error:  # noqa: BLE001  OSError, or tf.errors.OpError
            raise self.fail(f"cannot read the file ({error_reason(error)})") from None
        if len(data) != count:
            raise self.fail(f"the file changed while read: {len(data)} of {count} bytes")
        self.position += count
        return data

    def read_long(self, what: str) -> int:
        """The next zig-zag varint (at most 10 bytes: a 64-bit long)."""
        start, zigzag = self.position, 0
        for shift in range(0, 7 * _MAX_VARINT_BYTES, 7):
            byte = self.read(1, what)[0]
            zigzag |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return (zigzag >> 1) ^ -(zigzag & 1)
        raise self.fail(f"corrupt {what}: varint longer than {_MAX_VARINT_BYTES} bytes", start)

    def seek(self, position: int) -> None:
        self._handle.seek(position)
        self.position = position

    def close(self) -> None:
        self._handle.close()


def error_reason(error: BaseException) -> str:
    """The one-line reason of ``error``: an OSError's strerror, else its message."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(getattr(error, "message", error)).split()) or type(error).__name__
