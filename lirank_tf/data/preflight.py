"""Checks of the input files before training: schemas agree, configured fields exist, and labels
lie in [0, 1]. Errors name the file (and record) at fault, before any model is built."""

from __future__ import annotations

from itertools import islice
from typing import Sequence

import fastavro
import tensorflow as tf

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.raw_features import label_fields, raw_fields


def _reader(path: str, handle):
    try:
        return fastavro.reader(handle)
    except Exception as error:  # fastavro raises several types for a non-Avro file
        raise ValueError(f"{path}: not a readable Avro object container file ({error})") from error


def check_files(config: ExperimentConfig, files: Sequence[str], label_records: int = 10_000) -> None:
    """Raises ValueError naming the file (and record) when the files cannot feed ``config``.

    * every file has the first file's writer schema (else both files are named);
    * every configured feature and label field exists in the schema (the field and file named);
    * the first ``label_records`` records of each file have labels in [0, 1] (file and record
      index named); the C++ reader checks every batch again while training.
    """
    wanted = [f.name for f in raw_fields(config)] + sorted(set(label_fields(config).values()))
    first_path, first_fields = None, None
    for path in files:
        with tf.io.gfile.GFile(path, "rb") as handle:
            reader = _reader(path, handle)
            fields = reader.writer_schema["fields"]
            if first_fields is None:
                first_path, first_fields = path, fields
                names = {f["name"] for f in fields}
                missing = [name for name in wanted if name not in names]
                if missing:
                    raise ValueError(f"{path}: the file's schema has no field(s) {missing} named "
                                     f"in the config; fields: {sorted(names)}")
            elif fields != first_fields:
                raise ValueError(f"files have different schemas: {first_path} and {path}")
            labels = sorted(set(label_fields(config).values()))
            records = islice(reader, label_records)
            index = 0
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    break
                except Exception:  # noqa: BLE001  a corrupt block: the C++ reader reports it
                    break          # with the file and byte offset when training reaches it
                for name in labels:
                    value = record[name]
                    if value is None or not 0 <= float(value) <= 1:
                        raise ValueError(f"{path}: record {index}: label {name!r} = {value!r} is "
                                         "not in [0, 1]")
                index += 1
