"""init-config on bad Avro files and bad labels: one error naming the file (byte offset, record,
value), never a crash or a raw decoder exception (issue 18, findings 1 to 3)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import fastavro
import pytest

from avro_corruption import (ROWS_SCHEMA, block_payload, block_spans, encode_long, rows,
                             valid_file, with_block_data, with_block_header)
from lirank_tf.init_config import init_config, propose_config
from lirank_tf.errors import AvroFileError, UserError

REPOSITORY = Path(__file__).resolve().parents[2]


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "lirank_tf", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_a_huge_block_size_after_the_sampled_records_is_an_error_not_a_segfault(tmp_path):
    # more records than init-config samples (5000), so the corrupt last block lies after them
    data = valid_file(ROWS_SCHEMA, rows(6000), "deflate", sync_interval=16_000)
    last = block_spans(data)[-1]
    path = _write(tmp_path / "day1.avro", with_block_header(data, last, size=encode_long(2**62)))
    result = _cli("init-config", "--train", path, "--labels", "clicked", "-o", "run.yaml",
                  cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert f"{path}: byte {last.start}:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run.yaml").exists()


def _corrupt_files(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """{case: (path, pattern the message must match)}."""
    null = valid_file(ROWS_SCHEMA, rows(200), "null")
    deflate = valid_file(ROWS_SCHEMA, rows(200), "deflate")
    first_null, first_deflate = block_spans(null)[0], block_spans(deflate)[0]
    cases = {}
    cases["truncated"] = (_write(tmp_path / "truncated.avro", null[:first_null.end + 50]),
                          r"byte \d+: .*(truncated|past the end)")
    # the first record's user string length 6 (0x0c) flipped to -7 (0x0d)
    flipped = bytearray(null)
    assert flipped[first_null.data_start] == 0x0C
    flipped[first_null.data_start] ^= 0x01
    cases["flipped null"] = (_write(tmp_path / "flipped_null.avro", bytes(flipped)),
                             r"byte \d+: record 0: field 'user': ")
    # a byte of the first deflate block's compressed data
    flipped = bytearray(deflate)
    flipped[first_deflate.data_start + 3] ^= 0xFF
    cases["flipped deflate"] = (_write(tmp_path / "flipped_deflate.avro", bytes(flipped)),
                                rf"byte {first_deflate.start}: ")
    flipped = bytearray(null)
    flipped[first_null.end - 5] ^= 0x10   # the sync marker after the first block
    cases["sync marker"] = (_write(tmp_path / "sync.avro", bytes(flipped)),
                            rf"byte {first_null.end - 16}: .*sync marker")
    cases["huge varint"] = (_write(tmp_path / "varint.avro", with_block_header(
        null, first_null, count=b"\xff" * 12 + b"\x01")), rf"byte {first_null.start}: .*varint")
    payload = block_payload(deflate, first_deflate, "deflate")
    huge_length = encode_long(2**62) + payload[1:]  # the first user string claims 2**62 bytes
    cases["huge string length"] = (_write(tmp_path / "length.avro", with_block_data(
        deflate, first_deflate, huge_length, "deflate")), r"record 0: field 'user': ")
    cases["not avro"] = (_write(tmp_path / "notes.avro", b"user,item\nu1,3\n" * 20),
                         r"not an Avro object container file")
    cases["header only"] = (_write(tmp_path / "header.avro", null[:30]), r"byte \d+: ")
    directory = tmp_path / "folder.avro"
    directory.mkdir()
    # tests run as root, so a chmod 000 file stays readable; a directory cannot be opened as a
    # file by anyone, the same OSError path as a permission error
    cases["unreadable"] = (str(directory), r"cannot (open|read)")
    return cases


@pytest.mark.parametrize("case", ["truncated", "flipped null", "flipped deflate", "sync marker",
                                  "huge varint", "huge string length", "not avro",
                                  "header only", "unreadable"])
def test_a_bad_training_file_is_an_avro_file_error_naming_it(tmp_path, case):
    path, pattern = _corrupt_files(tmp_path)[case]
    with pytest.raises(AvroFileError) as caught:
        propose_config([path], ["clicked"])
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(pattern, message), message


def test_a_bad_validation_file_is_named_too(tmp_path):
    good = _write(tmp_path / "train.avro", valid_file(ROWS_SCHEMA, rows(50)))
    bad = _write(tmp_path / "valid.avro", valid_file(ROWS_SCHEMA, rows(50))[:40])
    with pytest.raises(AvroFileError, match=re.escape(bad)):
        propose_config([good], ["clicked"], valid=[bad])


LABEL_SCHEMA = {"type": "record", "name": "Row", "fields": [
    {"name": "user", "type": "string"}, {"name": "clicked", "type": ["null", "double"]}]}


@pytest.mark.parametrize("bad, shown", [(2.0, "2.0"), (math.nan, "nan"), (None, "None"),
                                        (-0.5, "-0.5")])
def test_labels_outside_zero_one_or_missing_name_file_record_and_value(tmp_path, bad, shown):
    records = [{"user": f"u{k}", "clicked": float(k % 2)} for k in range(20)]
    records[13]["clicked"] = bad
    path = _write(tmp_path / "labels.avro", valid_file(LABEL_SCHEMA, records))
    with pytest.raises(UserError, match=rf"{re.escape(path)}: record 13: label 'clicked' = "
                                        rf"{shown} is not in \[0, 1\]"):
        init_config([path], ["clicked"], tmp_path / "run.yaml")
    assert not (tmp_path / "run.yaml").exists()


def test_training_files_without_records_are_an_error_naming_them(tmp_path):
    empty = [_write(tmp_path / f"day{k}.avro", valid_file(ROWS_SCHEMA, [])) for k in range(2)]
    with pytest.raises(UserError, match=r"no records") as caught:
        propose_config([str(tmp_path / "*.avro")], ["clicked"])
    assert all(path in str(caught.value) for path in empty), caught.value


def test_empty_files_among_others_are_fine_and_the_sample_finds_the_records(tmp_path):
    _write(tmp_path / "day0.avro", valid_file(ROWS_SCHEMA, []))
    _write(tmp_path / "day1.avro", valid_file(ROWS_SCHEMA, rows(30)))
    config, notes = propose_config([str(tmp_path / "*.avro")], ["clicked"])
    assert any(note.startswith("user: string, 30 distinct in 30 sampled") for note in notes), notes
    assert [t["label"] for t in config["tasks"]] == ["clicked"]


def test_valid_deflate_and_snappy_files_still_give_a_config(tmp_path):
    for codec in ("deflate", "snappy"):
        path = _write(tmp_path / f"{codec}.avro", valid_file(ROWS_SCHEMA, rows(300), codec, 500))
        config, _ = propose_config([path], ["clicked"])
        assert {f["name"] for f in config["features"]["ids"]} == {"user", "item", "tags", "color"}
        assert fastavro.is_avro(path)
