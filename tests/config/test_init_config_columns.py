"""``lirank-tf init-config`` prints each column's kind with the reason, and
``--dense-columns`` / ``--id-columns`` override it (bad names: exit 2, one line naming them)."""

import re
from collections import Counter

import fastavro
import numpy as np
import pytest
import yaml

from lirank_tf.cli import main

SCHEMA = {"type": "record", "name": "Row", "fields": [
    {"name": "user_id", "type": "long"},
    {"name": "age", "type": "int"},
    {"name": "rating_bucket", "type": "int"},
    {"name": "zip_code", "type": "int"},
    {"name": "ts", "type": "long"},
    {"name": "title", "type": ["null", "string"]},
    {"name": "price", "type": "double"},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "embedding", "type": {"type": "array", "items": "float"}},
    {"name": "meta", "type": {"type": "map", "values": "string"}},
    {"name": "clicked", "type": "int"},
]}
ROWS = 1500


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("columns")
    rng = np.random.default_rng(3)
    rows = [{"user_id": int(rng.integers(1, 944)), "age": int(rng.integers(18, 71)),
             "rating_bucket": int(rng.integers(0, 3)), "zip_code": int(rng.integers(501, 99_951)),
             "ts": int(1_600_000_000 + rng.integers(0, 31_536_000)),
             "title": None if rng.random() < 0.1 else f"t{rng.integers(200)}",
             "price": float(rng.lognormal()),
             "tags": [f"g{g}" for g in rng.integers(0, 30, rng.integers(0, 4))],
             "embedding": [float(x) for x in rng.normal(size=4)], "meta": {"k": "v"},
             "clicked": int(rng.random() < 0.4)} for _ in range(ROWS)]
    with open(root / "train.avro", "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(SCHEMA), rows)
    return root


def _distinct_with_fastavro(path) -> dict:
    """Distinct non-null values per column, ids of a list (and floats of a vector) one by one."""
    with open(path, "rb") as handle:
        records = list(fastavro.reader(handle))
    counts = {}
    for field in SCHEMA["fields"]:
        values = [r[field["name"]] for r in records if r[field["name"]] is not None]
        if values and isinstance(values[0], list):
            values = [x for v in values for x in v]
        if values and not isinstance(values[0], dict):
            counts[field["name"]] = len(Counter(values))
    return counts


def _init(data, capsys, *flags, name="run.yaml"):
    try:
        code = main(["init-config", "--train", str(data / "train.avro"), "--labels", "clicked",
                     "-o", str(data / name), "--overwrite", *flags])
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _table(out: str) -> dict:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("column "))
    rows = {}
    for line in lines[start + 1:start + 1 + len(SCHEMA["fields"])]:
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells[1:]
    return rows


def test_the_table_names_each_columns_kind_and_its_distinct_values(data, capsys):
    code, out, _ = _init(data, capsys)
    assert code == 0
    rows = _table(out)
    kinds = {name: row[2] for name, row in rows.items()}
    assert kinds == {"user_id": "id", "age": "dense", "rating_bucket": "id", "zip_code": "id",
                     "ts": "dense", "title": "id", "price": "dense", "tags": "id list",
                     "embedding": "dense vector", "meta": "left out", "clicked": "label"}
    expected = _distinct_with_fastavro(data / "train.avro")
    for name, count in expected.items():
        assert rows[name][1].split(" / ")[0] == str(count), (name, rows[name])
    assert rows["meta"][1] == "-"
    # every file record is in the sample: the estimate of an id column is its exact count
    assert rows["user_id"][1] == f"{expected['user_id']} / ~{expected['user_id']}"
    assert rows["user_id"][3] == "name word 'user': an identifier"
    assert rows["rating_bucket"][3] == "only 3 distinct (< 20): codes"
    assert rows["age"][3] == "fills 100% of 18..70"
    assert rows["ts"][3] == "100% of values distinct"
    assert all(len(line) <= 100 for line in out.splitlines()[:len(rows) + 1])
    written = (data / "run.yaml").read_text()
    assert "#   age: int, 53 distinct in 1500 sampled records (fills 100% of 18..70) -> " \
        "dense feature" in written
    config = yaml.safe_load(written)
    assert [f["name"] for f in config["features"]["dense"]] == ["age", "ts", "price", "embedding"]
    assert [f["name"] for f in config["features"]["ids"]] == [
        "user_id", "rating_bucket", "zip_code", "title", "tags"]


def test_overrides_decide_the_kind(data, capsys):
    code, out, _ = _init(data, capsys, "--dense-columns", "zip_code,user_id", "--id-columns",
                         "age", "--id-columns", "ts", name="forced.yaml")
    assert code == 0
    kinds = {name: (row[2], row[3]) for name, row in _table(out).items()}
    assert kinds["zip_code"] == ("dense", "--dense-columns")
    assert kinds["user_id"] == ("dense", "--dense-columns")
    assert kinds["age"] == ("id", "--id-columns")
    assert kinds["ts"] == ("id", "--id-columns")
    config = yaml.safe_load((data / "forced.yaml").read_text())
    assert [f["name"] for f in config["features"]["dense"]] == [
        "user_id", "zip_code", "price", "embedding"]
    ids = {f["name"]: f for f in config["features"]["ids"]}
    assert sorted(ids) == ["age", "rating_bucket", "tags", "title", "ts"]
    assert ids["age"]["dtype"] == "int64"


@pytest.mark.parametrize("flags, expected", [
    (["--dense-columns", "height"], "--dense-columns: "),
    (["--id-columns", "clicked"], "--id-columns: column 'clicked' is a label"),
    (["--dense-columns", "age", "--id-columns", "age"], "column 'age' is in both"),
    (["--dense-columns", "title"], "--dense-columns: column 'title' is string"),
    (["--id-columns", "price"], "--id-columns: column 'price' is double"),
    (["--dense-columns", "tags"], "--dense-columns: column 'tags' is array<string>"),
])
def test_bad_overrides_are_one_line_errors(data, capsys, flags, expected):
    code, _, err = _init(data, capsys, *flags, name="bad.yaml")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("lirank-tf init-config: error: ")
    assert expected in lines[0]
    if flags[1] == "height":
        assert "no column 'height'" in lines[0]
    assert not (data / "bad.yaml").exists()
