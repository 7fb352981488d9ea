"""Checks of the input files before training: schemas agree, configured fields exist, and labels
lie in [0, 1]. Errors name the file (and record) at fault, before any model is built."""

from __future__ import annotations

from itertools import islice
from typing import Sequence

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.avro_file import open_avro
from lirank_tf.data.raw_features import label_fields, raw_fields
from lirank_tf.errors import UserError


def check_files(config: ExperimentConfig, files: Sequence[str], label_records: int = 10_000) -> None:
    """Raises a `UserError` naming the file (and record) when the files cannot feed ``config``.

    * every file is a readable Avro file (else an `AvroFileError` names it and the byte offset;
      the header, and the blocks of the records read below, are checked);
    * every file has the first file's writer schema (else both files are named);
    * every configured feature and label field exists in the schema (the field and file named);
    * the first ``label_records`` records of each file have labels in [0, 1] (file and record
      index named); the C++ reader checks every batch again while training.
    """
    wanted = [f.name for f in raw_fields(config)] + sorted(set(label_fields(config).values()))
    labels = sorted(set(label_fields(config).values()))
    first_path, first_fields = None, None
    for path in files:
        with open_avro(path) as avro:
            fields = avro.fields
            if first_fields is None:
                first_path, first_fields = path, fields
                names = {f["name"] for f in fields}
                missing = [name for name in wanted if name not in names]
                if missing:
                    raise UserError(f"{path}: the file's schema has no field(s) {missing} named "
                                    f"in the config; fields: {sorted(names)}")
            elif fields != first_fields:
                raise UserError(f"files have different schemas: {first_path} and {path}")
            for index, record in enumerate(islice(avro, label_records)):
                for name in labels:
                    check_label(path, index, name, record[name])


def check_label(path: str, index: int, name: str, value: object) -> None:
    """A `UserError` naming file, record and value unless the label ``value`` is a number in
    [0, 1] (booleans count; null and NaN do not)."""
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise UserError(f"{path}: record {index}: label {name!r} = {value!r} is not in [0, 1]")
