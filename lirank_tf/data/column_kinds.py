"""Which feature kind ``lirank-tf init-config`` proposes for an integer column, and the table
of every column's kind it prints.

An ``int`` / ``long`` column is a number or a code. It is proposed as a **dense** feature when
all of these hold on the sampled values, else as a hashed **id**:

1. its name does not read as an identifier: no word of the name (split at ``_``, ``-``, digits
   and camelCase humps) is in `IDENTIFIER_WORDS` (``id``, ``key``, ``code``, ``zip``, ``user``,
   ``item``, ...), so ``user_id``, ``itemId``, ``zip_code`` stay ids;
2. it has at least `MIN_DENSE_DISTINCT` distinct values: fewer is a small code set (a 3-valued
   ``rating_bucket``);
3. the values look like measurements: they fill at least `MIN_RANGE_FILL` of their range
   (distinct / (max - min + 1): ages, counts, hours) or at least `MIN_UNIQUE_SHARE` of the
   sampled values are distinct (epoch timestamps, amounts);
4. every value is exact as a float (|v| <= 2^53): 64-bit hashes are ids.

``init-config --dense-columns / --id-columns`` override the rule for named columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

IDENTIFIER_WORDS = frozenset({
    "id", "ids", "uid", "uuid", "guid", "key", "keys", "code", "codes", "hash", "idx", "index",
    "zip", "zipcode", "postcode", "postal", "sku", "isbn", "phone",
    "user", "item", "member", "movie", "product", "ad", "campaign", "advertiser", "creative",
    "account", "company", "job", "post", "doc", "document", "query", "session", "category",
    "country", "city", "region", "device"})
MIN_DENSE_DISTINCT = 20
MIN_RANGE_FILL = 0.5
MIN_UNIQUE_SHARE = 0.5
MAX_EXACT_INTEGER = 2 ** 53

# the kinds shown in the table
ID, DENSE, ID_LIST, DENSE_VECTOR, LABEL, LEFT_OUT = (
    "id", "dense", "id list", "dense vector", "label", "left out")


def name_words(name: str) -> list[str]:
    """The lower-case words of a column name: ``userId`` -> [user, id], ``zip_code2`` ->
    [zip, code]."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [word.lower() for word in re.split(r"[^A-Za-z]+", spaced) if word]


def integer_kind(name: str, values: Sequence[int]) -> tuple[str, str]:
    """(`DENSE` or `ID`, the reason) for an int / long column named ``name`` with the sampled
    non-null ``values`` (the rule of the module docstring)."""
    words = [w for w in name_words(name) if w in IDENTIFIER_WORDS]
    if words:
        return ID, f"name word '{words[0]}': an identifier"
    distinct = set(values)
    if len(distinct) < MIN_DENSE_DISTINCT:
        return ID, f"only {len(distinct)} distinct (< {MIN_DENSE_DISTINCT}): codes"
    low, high = min(distinct), max(distinct)
    if max(abs(low), abs(high)) > MAX_EXACT_INTEGER:
        return ID, "values beyond 2^53: hashes"
    fill = len(distinct) / (high - low + 1)
    unique = len(distinct) / len(values)
    if fill >= MIN_RANGE_FILL:
        return DENSE, f"fills {fill:.0%} of {low}..{high}"
    if unique >= MIN_UNIQUE_SHARE:
        return DENSE, f"{unique:.0%} of values distinct"
    return ID, f"fills {fill:.1%} of range, {unique:.0%} distinct: codes"


@dataclass(frozen=True)
class ColumnChoice:
    """One row of the init-config table: what became of an Avro column, and why.

    ``distinct``: distinct values in the sample (ids of a list counted one by one; None where
    not counted); ``estimated``: the distinct ids estimated in the training data, for id
    kinds."""

    column: str
    avro_type: str
    kind: str
    reason: str
    distinct: int | None = None
    estimated: int | None = None


def format_table(choices: Sequence[ColumnChoice]) -> str:
    """The choices as plain aligned text, one line per column under a header line."""
    header = ("column", "Avro type", "distinct/est.", "kind", "reason")
    rows = [header]
    for choice in choices:
        counted = "-" if choice.distinct is None else str(choice.distinct)
        if choice.estimated is not None:
            counted += f" / ~{choice.estimated}"
        rows.append((choice.column, choice.avro_type, counted, choice.kind, choice.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  "
                     + row[-1] for row in rows)
