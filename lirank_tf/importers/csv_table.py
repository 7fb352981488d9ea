"""CSV / TSV files -> Avro records: the columns' types are inferred over every row (a first
pass), so the second pass that writes cannot meet a cell of another type.

Per column: integers -> ``long`` (``init-config`` makes it an id or,
when it reads as a quantity, dense), numbers -> ``double``
(dense), anything else -> ``string``; a column with empty cells -> ``["null", T]``. Overrides:
``dense_columns`` (written as ``double``), ``string_columns`` (``string``, e.g. zip codes with
leading zeros), ``list_columns`` (cells split on ``list_separator`` into an id list;
``array<long>`` when every item is an integer, else ``array<string>``; an empty cell is an
empty list).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator, Sequence

from lirank_tf.importers.columns import ColumnType, avro_names, convert


def _rows(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for row in reader:
            yield reader.line_num, row


def _header(paths: Sequence[Path], delimiter: str) -> list[str]:
    header = None
    for path in paths:
        first = next(_rows(path, delimiter), None)
        if first is None:
            raise ValueError(f"{path}: empty file (a CSV file needs a header line)")
        if header is None:
            header = first[1]
        elif first[1] != header:
            raise ValueError(f"{path}: header {first[1]} differs from the header of "
                             f"{paths[0]} ({header}); files imported together need one header")
    return header


def _check_names(what: str, given: Sequence[str], header: Sequence[str]) -> set[str]:
    unknown = sorted(set(given) - set(header))
    if unknown:
        raise ValueError(f"{what}: no column named {unknown} (columns: {list(header)})")
    return set(given)


class CsvTable:
    """The CSV files ``paths`` (one header line each, the same header) as Avro records."""

    def __init__(self, paths: Sequence[str | Path], *, delimiter: str = ",",
                 dense_columns: Sequence[str] = (), string_columns: Sequence[str] = (),
                 list_columns: Sequence[str] = (), list_separator: str = "|",
                 record_name: str = "Row") -> None:
        if not paths:
            raise ValueError("no CSV files to import")
        if len(delimiter) != 1:
            raise ValueError(f"delimiter must be one character, got {delimiter!r}")
        if not list_separator or list_separator == delimiter:
            raise ValueError(f"list_separator must be a non-empty string other than the "
                             f"delimiter, got {list_separator!r}")
        self.paths = [Path(p) for p in paths]
        self.delimiter, self.list_separator = delimiter, list_separator
        self.header = _header(self.paths, delimiter)
        self.names = avro_names(self.header, str(self.paths[0]))
        self.dense = _check_names("dense_columns", dense_columns, self.header)
        self.strings = _check_names("string_columns", string_columns, self.header)
        self.lists = _check_names("list_columns", list_columns, self.header)
        both = (self.dense & self.strings) | (self.lists & (self.dense | self.strings))
        if both:
            raise ValueError(f"columns {sorted(both)} are given more than one type")
        self.types = self._infer()
        self.schema = {"type": "record", "name": record_name, "fields": [
            self._field(column, name) for column, name in zip(self.header, self.names)]}

    def _cells(self) -> Iterator[tuple[Path, int, list[str]]]:
        for path in self.paths:
            rows = _rows(path, self.delimiter)
            next(rows)                                     # the header
            for line, row in rows:
                if not row:
                    continue                               # blank line
                if len(row) != len(self.header):
                    raise ValueError(f"{path}, line {line}: {len(row)} cells, the header has "
                                     f"{len(self.header)} ({self.delimiter!r}-separated)")
                yield path, line, row

    def _infer(self) -> list[ColumnType]:
        types = [ColumnType() for _ in self.header]
        for path, line, row in self._cells():
            for column, kind, cell in zip(self.header, types, row):
                where = f"{path}, line {line}"
                if column in self.lists:
                    for item in cell.split(self.list_separator) if cell else ():
                        kind.observe(item, where)
                else:
                    kind.observe(cell, where)
        return types

    def _base(self, column: str, kind: ColumnType) -> str:
        if column in self.dense:
            return "double"
        if column in self.strings:
            return "string"
        return kind.base

    def _field(self, column: str, name: str) -> dict:
        kind = self.types[self.header.index(column)]
        base = self._base(column, kind)
        if column in self.lists:
            return {"name": name, "type": {"type": "array", "items": base}, "default": []}
        if column in self.dense and kind.has_value and not kind.can_double:
            raise ValueError(f"dense_columns: column {column!r} has the non-numeric value "
                             f"{kind.first_text!r} ({kind.first_text_at})")
        if kind.nullable:
            return {"name": name, "type": ["null", base], "default": None}
        return {"name": name, "type": base}

    def records(self) -> Iterator[dict]:
        """The rows as Avro records (the second pass over the files)."""
        bases = [self._base(c, k) for c, k in zip(self.header, self.types)]
        for _, _, row in self._cells():
            record = {}
            for column, name, base, cell in zip(self.header, self.names, bases, row):
                if column in self.lists:
                    record[name] = [convert(x, base) for x in cell.split(self.list_separator)
                                    ] if cell else []
                else:
                    record[name] = convert(cell, base)
            yield record
