"""Long fuzzing run of the Avro decoder (custom_ops/avro/) through its Python API.

Mutates valid Avro files (null, deflate and snappy codecs; byte flips, random bytes,
truncations, insertions, deletions) and reads each mutant. Acceptable outcomes only: a clean
``InvalidArgumentError`` / ``DataLossError`` naming the file, or exactly the data fastavro
decodes from the same bytes. A crash, hang or wrong tensor fails the run. The harness is
shared with the quick test (tests/data/avro_fuzzing.py).

    python benchmarks/fuzz_avro.py --cases 100000            # synchronous read_avro_file op
    python benchmarks/fuzz_avro.py --dataset-cases 2000      # also through AvroTensorDataset
    python benchmarks/fuzz_avro.py --cases 0 --dataset-cases 0 --python-cases 5000
        # every Python reading path and the C++ op, in subprocesses (python_readers_fuzzing.py)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # every mutant logs an op error otherwise
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))

import avro_fuzzing  # noqa: E402
import python_readers_fuzzing  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--dataset-cases", type=int, default=1_000,
                        help="mutants read through AvroTensorDataset (slower per file)")
    parser.add_argument("--python-cases", type=int, default=0,
                        help="mutants read by every Python reading path and the C++ op, in "
                             "subprocesses of --python-batch mutants")
    parser.add_argument("--python-batch", type=int, default=250)
    parser.add_argument("--seconds", type=float, default=None, help="stop each phase after this")
    parser.add_argument("--records", type=int, default=60, help="records per base file")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for label, cases, through_dataset in (("read_avro_file", args.cases, False),
                                              ("AvroTensorDataset", args.dataset_cases, True)):
            if cases <= 0:
                continue
            start = time.perf_counter()
            stats = avro_fuzzing.run(cases, args.seed, directory, args.records, args.seconds,
                                     through_dataset)
            elapsed = time.perf_counter() - start
            print(f"{label}: {stats.cases} mutants in {elapsed:.0f} s "
                  f"({stats.cases / elapsed:.0f}/s): {stats.clean_errors} clean errors "
                  f"{stats.error_types}, {stats.decoded} decoded, "
                  f"{stats.compared_with_fastavro} equal to fastavro's reading", flush=True)
        if args.python_cases > 0:
            start = time.perf_counter()
            report = python_readers_fuzzing.run(
                Path(directory), args.python_cases, args.seed,
                workers=max(1, -(-args.python_cases // args.python_batch)), timeout=600)
            print(f"Python readers: {report.cases} mutants in {time.perf_counter() - start:.0f} s:"
                  f" {report.outcomes}", flush=True)
            for failure in report.failures[:20]:
                print("FAILURE", failure)
            if report.failures:
                raise SystemExit(f"{len(report.failures)} failures")
    print("no crash, hang or wrong tensor")


if __name__ == "__main__":
    main()
