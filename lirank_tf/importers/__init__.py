"""Importers: CSV / TSV, Parquet and libFM / libFFM files -> Avro files that ``lirank-tf
init-config`` maps on its own (``lirank-tf import``). MovieLens: `lirank_tf.sim`."""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path
from typing import Sequence

from lirank_tf.importers.csv_table import CsvTable
from lirank_tf.importers.libfm_table import LibfmTable
from lirank_tf.importers.parquet_table import ParquetTable
from lirank_tf.importers.writer import write_parts

FORMATS = ("csv", "tsv", "parquet", "libfm", "libffm")
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
             ".libfm": "libfm", ".libsvm": "libfm", ".svm": "libfm", ".ffm": "libffm"}


@dataclasses.dataclass(frozen=True)
class ImportResult:
    files: list[Path]
    rows: int
    schema: dict


def _expand(inputs: Sequence[str]) -> list[str]:
    files = []
    for pattern in inputs:
        matched = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        matched = [m for m in matched if Path(m).is_file()]
        if not matched:
            raise FileNotFoundError(f"no file matches {pattern!r}")
        files.extend(matched)
    return files


def _format_of(files: Sequence[str], fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        return fmt
    found = {_SUFFIXES.get(Path(f).suffix.lower()) for f in files}
    if len(found) != 1 or None in found:
        raise ValueError(f"cannot tell the format from the file names {list(files)[:3]}: "
                         f"pass format= (--format) one of {', '.join(FORMATS)}")
    return found.pop()


def import_table(inputs: Sequence[str] | str, output_dir: str | Path, *, fmt: str | None = None,
                 rows_per_file: int = 100_000, codec: str = "deflate", prefix: str = "part",
                 overwrite: bool = False, dense_columns: Sequence[str] = (),
                 string_columns: Sequence[str] = (), list_columns: Sequence[str] = (),
                 list_separator: str = "|", label: str = "label") -> ImportResult:
    """Converts ``inputs`` (paths or globs) into Avro files ``output_dir/prefix-NNNNN.avro``.

    Args:
        inputs: str or list of str. Files or glob patterns, all of one format and layout.
        output_dir: the folder of the Avro parts (created; existing parts are kept unless
            ``overwrite``).
        fmt: one of ``FORMATS`` or None (default: from the file suffix).
        rows_per_file: int, default 100000. Rows per Avro part (one part per training shard).
        codec: ``deflate`` (default), ``snappy`` or ``null``.
        prefix: str, default ``part``. File name prefix (e.g. ``train``, ``valid``).
        overwrite: bool, default False. Replace parts of an earlier import.
        dense_columns, string_columns, list_columns, list_separator: CSV / TSV only; see
            `CsvTable`.
        label: str, default ``label``. Name of the label field of libFM / libFFM files.

    Returns: the written files, the row count and the Avro schema.
    """
    files = _expand([inputs] if isinstance(inputs, str) else list(inputs))
    fmt = _format_of(files, fmt)
    if fmt not in ("csv", "tsv") and (dense_columns or string_columns or list_columns):
        raise ValueError("dense_columns / string_columns / list_columns apply to CSV and TSV "
                         f"files only, not {fmt}")
    if fmt in ("csv", "tsv"):
        table = CsvTable(files, delimiter="," if fmt == "csv" else "\t",
                         dense_columns=dense_columns, string_columns=string_columns,
                         list_columns=list_columns, list_separator=list_separator)
    elif fmt == "parquet":
        table = ParquetTable(files)
    else:
        table = LibfmTable(files, ffm=fmt == "libffm", label=label)
    written, rows = write_parts(table.records(), table.schema, output_dir, prefix=prefix,
                                rows_per_file=rows_per_file, codec=codec, overwrite=overwrite)
    return ImportResult(files=written, rows=rows, schema=table.schema)


__all__ = ["FORMATS", "ImportResult", "import_table", "CsvTable", "LibfmTable", "ParquetTable"]
