"""Fuzzing harness of every path that reads Avro: the bounded reader's record iteration and
counting, the preflight check, init-config, the schema reader, and the C++ op.

Valid files (null and deflate codecs, written by fastavro) are mutated by truncations at random
offsets, byte flips, oversized varints in block headers and in record fields (string lengths,
array and map counts, union and enum indexes, longs), and random byte edits. Batches of mutants
are read in subprocesses (``python python_readers_fuzzing.py DIRECTORY FIRST LAST``), each
path in turn, a progress line before each read; the parent fails on a signal (segfault,
abort), a hang (timeout), an error that does not name the file or is not a user error, or
records that differ from what fastavro decodes from the same bytes in memory.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import fastavro
import numpy as np

from avro_corruption import (ROWS_SCHEMA, BlockSpan, block_spans, encode_long, rows, valid_file,
                             with_block_data, with_block_header)

CODECS = ("null", "deflate")
RECORDS = 40
LABELS = ["clicked"]
HUGE_VARINTS = (encode_long(2**62), encode_long(2**31 + 7), encode_long(-(2**40)),
                encode_long(-1), b"\xff" * 11 + b"\x01")
PATHS = ("records", "count", "preflight", "init_config", "schema", "avro_op")


def base_files() -> dict[str, bytes]:
    return {codec: valid_file(ROWS_SCHEMA, rows(RECORDS), codec, sync_interval=300)
            for codec in CODECS}


def _field_bytes(record: dict) -> list[bytes]:
    """The encoding of each field of ``record`` (named types are defined in their field)."""
    encoded = []
    for spec in ROWS_SCHEMA["fields"]:
        buffer = io.BytesIO()
        schema = fastavro.parse_schema(spec["type"])
        fastavro.schemaless_writer(buffer, schema, record[spec["name"]])
        encoded.append(buffer.getvalue())
    return encoded


def _oversized_field(data: bytes, codec: str, rng: np.random.Generator) -> bytes:
    """A block whose data has one field's leading varint (a length, count, index or long)
    replaced by an oversized one; the block's sizes are re-encoded, so only the field is bad."""
    spans = block_spans(data)
    index = int(rng.integers(len(spans)))
    first = sum(span.count for span in spans[:index])
    records = [_field_bytes(r) for r in rows(spans[index].count, first)]
    record, column = int(rng.integers(len(records))), int(rng.integers(len(ROWS_SCHEMA["fields"])))
    value = records[record][column]
    end = next(k for k, byte in enumerate(value) if not byte & 0x80) + 1  # its first varint
    records[record][column] = HUGE_VARINTS[int(rng.integers(len(HUGE_VARINTS)))] + value[end:]
    return with_block_data(data, spans[index], b"".join(b"".join(r) for r in records), codec)


def _oversized_header(data: bytes, rng: np.random.Generator) -> bytes:
    span: BlockSpan = block_spans(data)[int(rng.integers(len(block_spans(data))))]
    varint = HUGE_VARINTS[int(rng.integers(len(HUGE_VARINTS)))]
    if rng.random() < 0.5:
        return with_block_header(data, span, count=varint)
    return with_block_header(data, span, size=varint)


def mutate(data: bytes, codec: str, rng: np.random.Generator) -> bytes:
    """One mutant of the valid file ``data``."""
    kind = int(rng.integers(6))
    if kind == 0:
        return data[:int(rng.integers(len(data)))]
    if kind == 1:
        return _oversized_header(data, rng)
    if kind == 2:
        return _oversized_field(data, codec, rng)
    mutant = bytearray(data)
    if kind == 3:  # flip bits of 1-3 bytes
        for _ in range(int(rng.integers(1, 4))):
            mutant[int(rng.integers(len(mutant)))] ^= 1 << int(rng.integers(8))
    elif kind == 4:  # random bytes
        for _ in range(int(rng.integers(1, 4))):
            mutant[int(rng.integers(len(mutant)))] = int(rng.integers(256))
    else:  # insert or delete a few bytes
        at = int(rng.integers(len(mutant)))
        if rng.random() < 0.5:
            mutant[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 6)), np.uint8))
        else:
            del mutant[at:at + int(rng.integers(1, 6))]
    return bytes(mutant)


def write_mutants(directory: Path, cases: int, seed: int) -> list[str]:
    """Writes ``base-<codec>.avro`` and ``mutant-<k>.avro`` files; returns the mutant names."""
    rng = np.random.default_rng(seed)
    bases = base_files()
    for codec, data in bases.items():
        (directory / f"base-{codec}.avro").write_bytes(data)
    names = []
    for case in range(cases):
        codec = CODECS[case % len(CODECS)]
        names.append(f"mutant-{case:05d}.avro")
        (directory / names[-1]).write_bytes(mutate(bases[codec], codec, rng))
    return names


@dataclass
class FuzzReport:
    cases: int = 0
    outcomes: dict = field(default_factory=dict)   # {path: {"ok"|error type: count}}
    failures: list = field(default_factory=list)


def run(directory: Path, cases: int, seed: int, workers: int, timeout: float) -> FuzzReport:
    """Writes ``cases`` mutants and reads them in ``workers`` subprocesses (run one after the
    other, each given ``timeout`` seconds)."""
    names = write_mutants(directory, cases, seed)
    report = FuzzReport(cases=len(names))
    bounds = np.linspace(0, len(names), workers + 1).astype(int)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONFAULTHANDLER": "1"}
    for first, last in zip(bounds[:-1], bounds[1:]):
        command = [sys.executable, __file__, str(directory), str(first), str(last)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                    env=environment)
            stdout, code = result.stdout, result.returncode
        except subprocess.TimeoutExpired as expired:
            stdout, code = (expired.stdout or b"").decode(), None
        started = None
        for line in stdout.splitlines():
            entry = json.loads(line)
            if "start" in entry:
                started = entry
                continue
            counts = report.outcomes.setdefault(entry["path"], {})
            counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
            if entry.get("failure"):
                report.failures.append(entry)
        if code != 0:
            what = "hang (timeout)" if code is None else f"exit status {code}"
            stderr = result.stderr if code is not None else ""
            fatal = stderr.find("Fatal Python error")   # faulthandler's stack of the crash
            tail = stderr[fatal:fatal + 1500] if fatal >= 0 else stderr[-1500:]
            report.failures.append({"failure": f"{what} while reading {started}", "stderr": tail})
    return report


def _check(path: str, read, name: str) -> dict:
    """Reads ``path`` with ``read``; the outcome and, if unacceptable, why."""
    import tensorflow as tf

    from lirank_tf.errors import UserError
    outcome = {"path": name, "file": os.path.basename(path), "outcome": "ok"}
    try:
        result = read(path)
    except (UserError, tf.errors.InvalidArgumentError, tf.errors.DataLossError) as error:
        outcome["outcome"] = type(error).__name__
        if path not in str(error):
            outcome["failure"] = f"error without the file's name: {error}"
        if name == "avro_op" and isinstance(error, UserError):
            outcome["failure"] = f"the C++ op raised a Python error: {error}"
        return outcome
    except Exception as error:  # noqa: BLE001  anything else is a bug to report
        outcome["outcome"] = type(error).__name__
        outcome["failure"] = f"not a user error: {type(error).__name__}: {error}"
        return outcome
    if name == "records":
        try:
            expected = list(fastavro.reader(io.BytesIO(Path(path).read_bytes())))
        except Exception as error:  # noqa: BLE001
            expected = f"fastavro rejects the bytes: {type(error).__name__}: {error}"
        if result != expected:
            outcome["failure"] = f"records differ from fastavro's: {str(expected)[:300]}"
    return outcome


def _worker(directory: Path, first: int, last: int) -> None:
    """Reads mutants ``first`` to ``last - 1`` of ``directory`` with every path."""
    from lirank_tf.config import ExperimentConfig
    from lirank_tf.init_config import propose_config
    from lirank_tf.data import features_from_schema, read_avro_file
    from lirank_tf.data.avro_file import read_records
    from lirank_tf.data.preflight import check_files
    from lirank_tf.data.files import count_records

    base = str(directory / "base-null.avro")
    config = ExperimentConfig.from_dict(propose_config([base], LABELS)[0])
    features = features_from_schema(base)
    readers = {"records": read_records, "count": lambda p: count_records([p]),
               "preflight": lambda p: check_files(config, [p]),
               "init_config": lambda p: propose_config([p], LABELS),
               "schema": features_from_schema,
               "avro_op": lambda p: read_avro_file(p, features)}
    assert tuple(readers) == PATHS
    for case in range(first, last):
        path = str(directory / f"mutant-{case:05d}.avro")
        for name, read in readers.items():
            print(json.dumps({"start": os.path.basename(path), "path": name}), flush=True)
            print(json.dumps(_check(path, read, name)), flush=True)


if __name__ == "__main__":
    _worker(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
