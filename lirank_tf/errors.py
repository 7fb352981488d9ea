"""The errors lirank-tf raises for what a user gave it (files, configs, requests, flags).

A `UserError` is the user's to fix: its message alone says what is wrong and where (file, byte
offset, record, field, dotted config key, value). The command line prints it as one line and
exits with status 2, without a traceback (``--debug`` or ``LIRANK_DEBUG=1`` shows one).
Anything else that escapes is a bug of ours and keeps its traceback.

    >>> str(AvroFileError("day1.avro", "truncated block", offset=4096, record=17))
    'day1.avro: byte 4096: record 17: truncated block'
"""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in what the user gave; the message names what and where."""


class AvroFileError(UserError):
    """An Avro file that cannot be read: names the file and, where known, the byte offset, the
    record index (0-based, in the file) and the field.

    Args:
        path: the file.
        problem: what is wrong, e.g. ``"sync marker mismatch"``.
        offset: byte offset in the file where the problem was found (None: unknown).
        record: index of the record being decoded (None: not inside a record).
        field: the field being decoded (None: unknown).
    """

    def __init__(self, path: str, problem: str, *, offset: int | None = None,
                 record: int | None = None, field: str | None = None) -> None:
        self.path, self.problem = str(path), problem
        self.offset, self.record, self.field = offset, record, field
        where = [self.path]
        if offset is not None:
            where.append(f"byte {offset}")
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(": ".join([*where, problem]))

    def __reduce__(self):  # picklable across processes (importers, Horovod workers)
        return (_rebuild_avro_file_error,
                (self.path, self.problem, self.offset, self.record, self.field))


def _rebuild_avro_file_error(path, problem, offset, record, field) -> AvroFileError:
    return AvroFileError(path, problem, offset=offset, record=record, field=field)
