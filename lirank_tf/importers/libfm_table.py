"""libFM / libSVM (``label index:value ...``) and libFFM (``label field:index:value ...``)
text files -> Avro records.

libFM / libSVM: ``label`` (``double``; ``long`` when every label is an integer), ``features``
(``array<long>``: the indices of the non-zero entries, a pooled id list for ``init-config``) and,
unless every value is 1 (binary data, the usual case of CTR data sets in this format),
``values`` (``array<double>``, aligned with ``features``).
libFFM: one column per field, ``field_<k>`` (``array<long>`` of that field's indices; CTR data
in this format has one index per field, so each is the field's categorical id), plus
``field_<k>_values`` likewise when any value is not 1.
Labels: -1 / +1 classification labels (libSVM's convention) are written as 0 / 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence


def _parse(path: Path, line_number: int, line: str, ffm: bool):
    parts = line.split()
    where = f"{path}, line {line_number}"
    try:
        label = float(parts[0])
    except ValueError:
        raise ValueError(f"{where}: label {parts[0]!r} is not a number") from None
    entries = []
    for token in parts[1:]:
        pieces = token.split(":")
        if len(pieces) != (3 if ffm else 2):
            form = "field:index:value" if ffm else "index:value"
            raise ValueError(f"{where}: entry {token!r} is not {form}")
        try:
            numbers = [int(p) for p in pieces[:-1]] + [float(pieces[-1])]
        except ValueError:
            raise ValueError(f"{where}: entry {token!r} has a non-integer index or field "
                             "or a non-numeric value") from None
        if any(n < 0 for n in numbers[:-1]):
            raise ValueError(f"{where}: entry {token!r} has a negative index or field")
        entries.append(numbers)
    return label, entries


class LibfmTable:
    """The libFM (``ffm=False``) or libFFM (``ffm=True``) files ``paths`` as Avro records."""

    def __init__(self, paths: Sequence[str | Path], *, ffm: bool = False,
                 label: str = "label", record_name: str = "Row") -> None:
        if not paths:
            raise ValueError("no libFM files to import")
        self.paths, self.ffm, self.label = [Path(p) for p in paths], ffm, label
        integer_labels, binary, fields, signs = True, True, set(), set()
        for label_value, entries in self._lines():
            integer_labels &= label_value.is_integer()
            if len(signs) < 3:
                signs.add(label_value)
            binary &= all(e[-1] == 1.0 for e in entries)
            if ffm:
                fields.update(e[0] for e in entries)
        self.integer_labels, self.binary, self.fields = integer_labels, binary, sorted(fields)
        self.plus_minus = signs == {-1.0, 1.0}         # -1 -> 0
        names = [f"field_{f}" for f in self.fields] if ffm else ["features"]
        columns = []
        for name in names:
            columns.append({"name": name, "type": {"type": "array", "items": "long"},
                            "default": []})
            if not binary:
                columns.append({"name": "values" if name == "features" else f"{name}_values",
                                "type": {"type": "array", "items": "double"}, "default": []})
        self.schema = {"type": "record", "name": record_name, "fields": [
            {"name": label, "type": "long" if integer_labels else "double"}, *columns]}

    def _lines(self) -> Iterator[tuple[float, list]]:
        for path in self.paths:
            with open(path, encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield _parse(path, number, line, self.ffm)

    def records(self) -> Iterator[dict]:
        for label_value, entries in self._lines():
            if self.plus_minus:
                label_value = max(label_value, 0.0)
            record = {self.label: int(label_value) if self.integer_labels else label_value}
            if self.ffm:
                for field in self.fields:
                    mine = [e for e in entries if e[0] == field]
                    record[f"field_{field}"] = [e[1] for e in mine]
                    if not self.binary:
                        record[f"field_{field}_values"] = [e[2] for e in mine]
            else:
                record["features"] = [e[0] for e in entries]
                if not self.binary:
                    record["values"] = [e[1] for e in entries]
            yield record
