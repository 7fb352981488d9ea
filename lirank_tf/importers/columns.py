"""Column names and typed values of the text importers (CSV, libFM): Avro names, type
inference over every cell of a column, and conversion."""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def avro_names(header: Sequence[str], source: str) -> list[str]:
    """Valid Avro field names for ``header``: other characters become ``_``, a leading digit
    gets a ``_`` prefix. Two columns that end with the same name are an error."""
    names = []
    for column in header:
        name = re.sub(r"[^A-Za-z0-9_]", "_", column.strip()) or "_"
        if not _AVRO_NAME.match(name):
            name = f"_{name}"
        names.append(name)
    seen: dict[str, str] = {}
    for column, name in zip(header, names):
        if name in seen:
            raise ValueError(f"{source}: columns {seen[name]!r} and {column!r} both become the "
                             f"Avro field name {name!r}; rename one of them")
        seen[name] = column
    return names


def _is_long(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_double(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclasses.dataclass
class ColumnType:
    """What the cells of one column seen so far allow: ``long`` while every non-empty cell is
    an integer, ``double`` while every one is a number, else ``string``; nullable once a cell
    is empty. A column without any non-empty cell is a nullable string."""

    can_long: bool = True
    can_double: bool = True
    has_value: bool = False
    has_empty: bool = False
    first_text: str | None = None       # the first non-numeric value, and where it was
    first_text_at: str = ""

    def observe(self, text: str, where: str = "") -> None:
        if text == "":
            self.has_empty = True
            return
        self.has_value = True
        if self.can_long and not _is_long(text):
            self.can_long = False
        if self.can_double and not self.can_long and not _is_double(text):
            self.can_double = False
            self.first_text, self.first_text_at = text, where

    @property
    def base(self) -> str:
        if not self.has_value:
            return "string"
        return "long" if self.can_long else "double" if self.can_double else "string"

    @property
    def nullable(self) -> bool:
        return self.has_empty or not self.has_value


def convert(text: str, avro_type: str):
    """``text`` as ``avro_type`` (``long``, ``double`` or ``string``); ``None`` when empty."""
    if text == "":
        return None
    if avro_type == "long":
        return int(text)
    if avro_type == "double":
        return float(text)
    return text
