"""The integer-column rule of ``init-config`` (dense quantity or hashed id) and its table."""

import numpy as np
import pytest

from lirank_tf.data.column_kinds import (DENSE, ID, ColumnChoice, format_table, integer_kind,
                                         name_words)

RNG = np.random.default_rng(7)


def _ints(values) -> list[int]:
    return [int(v) for v in values]


@pytest.mark.parametrize("name, values, kind, reason_part", [
    # ages 18..70: 53 values filling their whole range -> a quantity
    ("age", _ints(RNG.integers(18, 71, 3000)), DENSE, "fills 100% of 18..70"),
    # the same numbers under an identifier name stay ids
    ("user_id", _ints(RNG.integers(1, 944, 3000)), ID, "name word 'user': an identifier"),
    ("movieId", _ints(RNG.integers(1, 944, 3000)), ID, "name word 'movie': an identifier"),
    ("visit_id", _ints(RNG.integers(1, 944, 3000)), ID, "name word 'id': an identifier"),
    ("item", _ints(RNG.integers(0, 60, 3000)), ID, "'item'"),
    # 3 values: a code set, whatever its name
    ("rating_bucket", _ints(RNG.integers(0, 3, 3000)), ID, "only 3 distinct (< 20)"),
    # epoch seconds over a year: sparse in their range but almost all distinct
    ("timestamp", _ints(1_600_000_000 + RNG.integers(0, 31_536_000, 3000)), DENSE,
     "100% of values distinct"),
    # US zip codes as ints: the name says code
    ("zip_code", _ints(RNG.integers(501, 99_951, 3000)), ID, "'zip'"),
    # 64-bit hashes: not exact as floats
    ("signature", _ints(RNG.integers(2**60, 2**62, 3000, dtype=np.int64)), ID,
     "beyond 2^53: hashes"),
    # 50 codes spread over a wide range, each repeated: codes, not a quantity
    ("status", _ints(RNG.choice(np.arange(50) * 10_000, 3000)), ID,
     "fills 0.0% of range, 2% distinct: codes"),
])
def test_integer_columns(name, values, kind, reason_part):
    got, reason = integer_kind(name, values)
    assert got == kind, reason
    assert reason_part in reason


def test_the_rule_thresholds_are_inclusive_at_20_values_and_half_the_range():
    assert integer_kind("score", list(range(19)) * 5)[0] == ID
    assert integer_kind("score", list(range(20)) * 5)[0] == DENSE
    sparse = [2 * v for v in range(20)]     # 20 values over 0..38: 20/39 fill, all distinct
    assert integer_kind("score", sparse * 3)[0] == DENSE   # fill 0.51
    wider = [3 * v for v in range(20)]      # 20/58 fill, 20 of 60 sampled distinct
    assert integer_kind("score", wider * 3)[0] == ID


def test_name_words():
    assert name_words("userId") == ["user", "id"]
    assert name_words("zip_code2") == ["zip", "code"]
    assert name_words("HTTPStatus") == ["http", "status"]
    assert name_words("age") == ["age"]
    assert integer_kind("identity_score", list(range(100)))[0] == DENSE  # 'identity' != 'id'


def test_format_table_aligns_the_columns():
    table = format_table([ColumnChoice("user_id", "long", ID, "name", 943, 950),
                          ColumnChoice("age", "int", DENSE, "quantity", 53),
                          ColumnChoice("meta", "map", "left out", "unsupported type")])
    lines = table.splitlines()
    assert lines[0].split() == ["column", "Avro", "type", "distinct/est.", "kind", "reason"]
    assert lines[1].split("  ")[0] == "user_id"
    assert "943 / ~950" in lines[1] and lines[2].split()[2] == "53" and lines[3].split()[2] == "-"
    start = lines[0].index("kind")   # the kind column starts at the same offset on every line
    assert [line[start:].split("  ")[0] for line in lines[1:]] == [ID, DENSE, "left out"]
