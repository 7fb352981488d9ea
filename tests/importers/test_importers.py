"""CSV / TSV, libFM / libFFM and Parquet files -> Avro: schema, values (read back with
fastavro and with our Avro op), init-config mapping, and errors naming file, line and value."""

import csv

import fastavro
import numpy as np
import pytest

from avro_reference import read_fastavro
from lirank_tf.init_config import propose_config
from lirank_tf.data import AvroTensorDataset
from lirank_tf.data.avro_schema import features_from_schema
from lirank_tf.importers import import_table
from lirank_tf.importers.writer import write_parts


def _read(files):
    return [row for path in files for row in read_fastavro(str(path))]


def _schema_of(path):
    with open(path, "rb") as handle:
        return {f["name"]: f["type"] for f in fastavro.reader(handle).writer_schema["fields"]}


def _write_csv(path, header, rows, delimiter=","):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


HEADER = ["user id", "item", "price", "zip", "tags", "clicked"]
ROWS = [["u1", "17", "3.5", "01234", "a|b", "1"],
        ["u2", "18", "", "99999", "", "0"],
        ["u1", "-4", "2", "01234", "c", "0"],
        ["u3", "17", "1e3", "10001", "a|c|d", "1"]]


def test_csv_types_values_and_init_config(tmp_path):
    source = _write_csv(tmp_path / "rows.csv", HEADER, ROWS)
    result = import_table(source, tmp_path / "avro", string_columns=["zip"], list_columns=["tags"],
                          rows_per_file=3)
    assert [p.name for p in result.files] == ["part-00000.avro", "part-00001.avro"]
    assert result.rows == 4
    assert _schema_of(result.files[0]) == {
        "user_id": "string", "item": "long", "price": ["null", "double"], "zip": "string",
        "tags": {"type": "array", "items": "string"}, "clicked": "long"}
    expected = [{"user_id": r[0], "item": int(r[1]), "price": float(r[2]) if r[2] else None,
                 "zip": r[3], "tags": r[4].split("|") if r[4] else [], "clicked": int(r[5])}
                for r in ROWS]
    assert _read(result.files) == expected
    config, _ = propose_config([str(tmp_path / "avro/*.avro")], ["clicked"], model="dcnv2")
    kinds = {f["name"]: f["kind"] for f in config["features"]["ids"]}
    assert kinds == {"user_id": "id", "item": "id", "zip": "id", "tags": "id_list"}
    assert [f["name"] for f in config["features"]["dense"]] == ["price"]


def test_our_avro_op_reads_the_imported_files(tmp_path):
    source = _write_csv(tmp_path / "rows.tsv", HEADER, ROWS, delimiter="\t")
    files = [str(p) for p in import_table(source, tmp_path / "avro", dense_columns=["item"],
                                          list_columns=["tags"]).files]
    features = features_from_schema(files[0])
    batch = next(iter(AvroTensorDataset(files, features, batch_size=4)))
    np.testing.assert_array_equal(batch["item"].numpy(), [17.0, 18.0, -4.0, 17.0])
    assert [t.decode() for t in batch["user_id"].numpy()] == ["u1", "u2", "u1", "u3"]


def test_csv_errors_name_file_line_and_value(tmp_path):
    ragged = _write_csv(tmp_path / "ragged.csv", HEADER, ROWS[:2] + [["u9", "1"]])
    with pytest.raises(ValueError, match=r"ragged\.csv, line 4: 2 cells, the header has 6"):
        import_table(ragged, tmp_path / "out")
    other = _write_csv(tmp_path / "other.csv", ["a", "b"], [["1", "2"]])
    good = _write_csv(tmp_path / "good.csv", HEADER, ROWS)
    with pytest.raises(ValueError, match=r"other\.csv: header \['a', 'b'\] differs"):
        import_table([good, other], tmp_path / "out")
    with pytest.raises(ValueError, match=r"'user id' has the non-numeric value 'u1' \(.*good\.csv, line 2\)"):
        import_table(good, tmp_path / "out", dense_columns=["user id"])
    with pytest.raises(ValueError, match=r"no column named \['nope'\]"):
        import_table(good, tmp_path / "out", list_columns=["nope"])
    clash = _write_csv(tmp_path / "clash.csv", ["a b", "a-b"], [["1", "2"]])
    with pytest.raises(ValueError, match="'a b' and 'a-b' both become the Avro field name 'a_b'"):
        import_table(clash, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        import_table(str(tmp_path / "nothing-here*.csv"), tmp_path / "out")
    with pytest.raises(ValueError, match="cannot tell the format"):
        import_table(_write_csv(tmp_path / "rows.txt", HEADER, ROWS), tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_an_earlier_import_is_kept_unless_overwrite(tmp_path):
    good = _write_csv(tmp_path / "good.csv", HEADER, ROWS)
    first = import_table(good, tmp_path / "avro", list_columns=["tags"], rows_per_file=2)
    before = [p.read_bytes() for p in first.files]
    with pytest.raises(FileExistsError, match="already holds 2 file"):
        import_table(good, tmp_path / "avro")
    def failing():                   # a source that breaks after two parts are written
        yield from ({"user_id": f"u{i}"} for i in range(2))
        raise OSError("disk gone")
    with pytest.raises(OSError, match="disk gone"):
        write_parts(failing(), {"type": "record", "name": "R", "fields": [
            {"name": "user_id", "type": "string"}]}, tmp_path / "avro", rows_per_file=1,
            overwrite=True)
    assert [p.read_bytes() for p in first.files] == before   # the failed import changed nothing
    assert sorted(p.name for p in (tmp_path / "avro").iterdir()) == ["part-00000.avro", "part-00001.avro"]
    again = import_table(good, tmp_path / "avro", overwrite=True)
    assert [p.name for p in again.files] == ["part-00000.avro"]
    assert sorted(p.name for p in (tmp_path / "avro").iterdir()) == ["part-00000.avro"]


def test_libfm_and_libffm(tmp_path):
    libfm = tmp_path / "data.libsvm"
    libfm.write_text("1 3:1 10:1\n-1 4:1\n\n1 3:1 7:1 9:1\n")
    result = import_table(str(libfm), tmp_path / "fm")
    assert _schema_of(result.files[0]) == {"label": "long",
                                            "features": {"type": "array", "items": "long"}}
    assert _read(result.files) == [{"label": 1, "features": [3, 10]}, {"label": 0, "features": [4]},
                                   {"label": 1, "features": [3, 7, 9]}]
    weighted = tmp_path / "weighted.libfm"
    weighted.write_text("0.5 1:0.25 2:1\n2 2:3\n")
    rows = _read(import_table(str(weighted), tmp_path / "w").files)
    assert rows == [{"label": 0.5, "features": [1, 2], "values": [0.25, 1.0]},
                    {"label": 2.0, "features": [2], "values": [3.0]}]
    ffm = tmp_path / "data.ffm"
    ffm.write_text("1 0:5:1 1:9:1\n0 0:6:1 2:4:1\n")
    rows = _read(import_table(str(ffm), tmp_path / "ffm", label="click").files)
    assert rows == [{"click": 1, "field_0": [5], "field_1": [9], "field_2": []},
                    {"click": 0, "field_0": [6], "field_1": [], "field_2": [4]}]
    config, _ = propose_config([str(tmp_path / "ffm/*.avro")], ["click"], model="dcnv2")
    assert {f["name"] for f in config["features"]["ids"]} == {"field_0", "field_1", "field_2"}
    broken = tmp_path / "broken.libfm"
    broken.write_text("1 3:1\n0 3:x\n")
    with pytest.raises(ValueError, match=r"broken\.libfm, line 2: entry '3:x'"):
        import_table(str(broken), tmp_path / "b")
    with pytest.raises(ValueError, match=r"line 1: entry '3:1' is not field:index:value"):
        import_table(str(broken), tmp_path / "b", fmt="libffm")


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.table({"user": ["a", "b", None], "item": pa.array([1, 2, 3], pa.int64()),
                      "score": pa.array([0.5, 1.5, 2.5], pa.float32()),
                      "tags": [["x", "y"], [], None], "clicked": pa.array([1, 0, 1], pa.int8())})
    pq.write_table(table, tmp_path / "t.parquet")
    result = import_table(str(tmp_path / "t.parquet"), tmp_path / "avro")
    assert _schema_of(result.files[0]) == {
        "user": ["null", "string"], "item": "long", "score": "float",
        "tags": {"type": "array", "items": "string"}, "clicked": "int"}
    assert _read(result.files) == [
        {"user": "a", "item": 1, "score": 0.5, "tags": ["x", "y"], "clicked": 1},
        {"user": "b", "item": 2, "score": 1.5, "tags": [], "clicked": 0},
        {"user": None, "item": 3, "score": 2.5, "tags": [], "clicked": 1}]
    pq.write_table(pa.table({"when": pa.array([1, 2], pa.date32())}), tmp_path / "d.parquet")
    with pytest.raises(ValueError, match=r"column 'when' has the Arrow type date32"):
        import_table(str(tmp_path / "d.parquet"), tmp_path / "d")


def test_the_import_command(tmp_path, capsys):
    from lirank_tf.cli import main
    source = _write_csv(tmp_path / "rows.csv", HEADER, ROWS)
    assert main(["import", source, "--output-dir", str(tmp_path / "avro"),
                 "--list-columns", "tags", "--string-columns", "zip", "--prefix", "train"]) == 0
    assert "wrote 4 rows to 1 Avro file(s)" in capsys.readouterr().out
    assert _read([tmp_path / "avro" / "train-00000.avro"])[0]["zip"] == "01234"
    assert main(["import", source, "--output-dir", str(tmp_path / "avro"),
                 "--prefix", "train"]) == 2
    assert "already holds 1 file(s) train-*.avro" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["import", source, "--output-dir", str(tmp_path / "x"), "--rows-per-file", "0"])
