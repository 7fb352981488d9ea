"""Parquet files -> Avro records, with the Arrow schema mapped field by field (needs pyarrow).

int8..int64 / uint8..uint32 -> ``long`` (``int`` for int8..int32), float16/32 -> ``float``,
float64 -> ``double``, bool -> ``boolean``, string / large_string -> ``string``, lists of these
-> ``array``; a nullable Arrow field -> ``["null", T]`` (Arrow marks fields nullable by default,
so the union is used only when the files hold a null). Other types (structs, maps, dates,
decimals, uint64) are an error naming the column and its type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from lirank_tf.importers.columns import avro_names


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("importing Parquet needs pyarrow: pip install -c constraints.txt "
                          "pyarrow (or pip install 'lirank-tf[parquet]')") from None
    return pyarrow


def _avro_type(arrow_type, column: str, source: Path):
    pa = _pyarrow()
    types = pa.types
    if types.is_int8(arrow_type) or types.is_int16(arrow_type) or types.is_int32(arrow_type) \
            or types.is_uint8(arrow_type) or types.is_uint16(arrow_type):
        return "int"
    if types.is_int64(arrow_type) or types.is_uint32(arrow_type):
        return "long"
    if types.is_float16(arrow_type) or types.is_float32(arrow_type):
        return "float"
    if types.is_float64(arrow_type):
        return "double"
    if types.is_boolean(arrow_type):
        return "boolean"
    if types.is_string(arrow_type) or types.is_large_string(arrow_type):
        return "string"
    if types.is_list(arrow_type) or types.is_large_list(arrow_type):
        items = _avro_type(arrow_type.value_type, column, source)
        if isinstance(items, dict):
            raise ValueError(f"{source}: column {column!r} is a list of lists ({arrow_type}); "
                             "only flat lists can be imported")
        return {"type": "array", "items": items}
    raise ValueError(f"{source}: column {column!r} has the Arrow type {arrow_type}, which has "
                     "no Avro mapping here (supported: integers up to uint32, floats, bool, "
                     "strings and flat lists of these)")


class ParquetTable:
    """The Parquet files ``paths`` (one schema) as Avro records."""

    def __init__(self, paths: Sequence[str | Path], *, record_name: str = "Row",
                 batch_rows: int = 65_536) -> None:
        if not paths:
            raise ValueError("no Parquet files to import")
        pa = _pyarrow()
        self.paths, self.batch_rows = [Path(p) for p in paths], batch_rows
        self.arrow_schema = pa.parquet.read_schema(self.paths[0])
        for path in self.paths[1:]:
            other = pa.parquet.read_schema(path)
            if not other.remove_metadata().equals(self.arrow_schema.remove_metadata()):
                raise ValueError(f"{path}: schema differs from the schema of {self.paths[0]}:\n"
                                 f"{other}\nvs\n{self.arrow_schema}")
        columns = list(self.arrow_schema.names)
        self.names = avro_names(columns, str(self.paths[0]))
        nulls = {c: 0 for c in columns}
        for path in self.paths:
            metadata = pa.parquet.ParquetFile(path).metadata
            for group in range(metadata.num_row_groups):
                row_group = metadata.row_group(group)
                for index in range(row_group.num_columns):
                    chunk = row_group.column(index)
                    top = chunk.path_in_schema.split(".")[0]
                    statistics = chunk.statistics
                    unknown = statistics is None or not statistics.has_null_count
                    nulls[top] += 1 if unknown else statistics.null_count
        fields = []
        for column, name in zip(columns, self.names):
            base = _avro_type(self.arrow_schema.field(column).type, column, self.paths[0])
            if isinstance(base, dict):           # a null list is written as an empty one
                fields.append({"name": name, "type": base, "default": []})
            elif nulls[column]:
                fields.append({"name": name, "type": ["null", base], "default": None})
            else:
                fields.append({"name": name, "type": base})
        self.columns = columns
        self.schema = {"type": "record", "name": record_name, "fields": fields}

    def records(self) -> Iterator[dict]:
        pa = _pyarrow()
        lists = {f["name"] for f in self.schema["fields"] if isinstance(f["type"], dict)}
        for path in self.paths:
            for batch in pa.parquet.ParquetFile(path).iter_batches(batch_size=self.batch_rows):
                for row in batch.to_pylist():
                    record = {name: (row[column] or []) if name in lists else row[column]
                              for column, name in zip(self.columns, self.names)}
                    for name in lists:
                        if None in record[name]:
                            raise ValueError(f"{path}: column {name!r} has a list with a null "
                                             f"item ({record[name]}); lists of ids must not "
                                             "hold nulls")
                    yield record
