"""Fuzzing AvroTensorDataset: thousands of corrupted files, each a clean error or correct data.

The longer run is ``python benchmarks/fuzz_avro.py`` (same harness, more cases).
"""

from __future__ import annotations

from avro_fuzzing import run


def test_thousands_of_mutants_give_clean_errors_or_correct_data(tmp_path):
    stats = run(cases=2400, seed=20240601, directory=str(tmp_path))
    assert stats.cases == 2400
    # both outcomes must actually occur, or the harness is not exercising anything
    assert stats.clean_errors > 500, stats
    assert stats.compared_with_fastavro > 50, stats
    assert set(stats.error_types) == {"InvalidArgumentError", "DataLossError"}, stats
