"""The files of a data set: globs expanded, samples spread over them, records counted.

    >>> spread_files([f"day_{i}.avro" for i in range(10)], 3)
    ['day_0.avro', 'day_4.avro', 'day_9.avro']
"""

from __future__ import annotations

import glob as globlib
from typing import Sequence

import tensorflow as tf

from lirank_tf.data.avro_file import record_count


def expand_globs(patterns: Sequence[str], what: str = "files") -> list[str]:
    """Sorted files matching any of ``patterns``; an error names a pattern matching nothing."""
    files: list[str] = []
    for pattern in patterns:
        matches = sorted(globlib.glob(pattern)) if any(c in pattern for c in "*?[") else (
            [pattern] if tf.io.gfile.exists(pattern) else [])
        if not matches:
            raise FileNotFoundError(f"{what}: {pattern!r} matches no file")
        files.extend(matches)
    return files


def spread_files(files: Sequence[str], count: int) -> list[str]:
    """``count`` of ``files`` (all when fewer) spread evenly over the list, first and last
    included: samples of a sorted, usually chronological, list see every part of it."""
    count = min(count, len(files))
    return [files[round(i * (len(files) - 1) / max(1, count - 1))] for i in range(count)]


def count_records(files: Sequence[str]) -> int:
    """Records in the Avro ``files``, from their block headers (no decoding); an
    `AvroFileError` names a file whose headers or sync markers are corrupt, and the offset."""
    return sum(record_count(path) for path in files)
