"""Fuzzing every path that reads Avro (the bounded Python reader under preflight, counting,
init-config and the schema reader, and the C++ op) in subprocesses: no signal, no hang, every
error a user error naming the file (issue 18). About 30 s; the harness is
python_readers_fuzzing.py, a longer run ``python benchmarks/fuzz_avro.py --python-cases N``."""

from __future__ import annotations

from python_readers_fuzzing import PATHS, run


def test_mutants_never_crash_or_hang_any_reader_and_errors_name_the_file(tmp_path):
    report = run(tmp_path, cases=600, seed=20261206, workers=3, timeout=150)
    crashes_first = sorted(report.failures, key=lambda f: "while reading" not in f["failure"])
    assert not report.failures, "\n".join(str(f) for f in crashes_first[:10])
    assert report.cases == 600
    assert set(report.outcomes) == set(PATHS), report.outcomes
    for path, counts in report.outcomes.items():
        assert sum(counts.values()) == 600, (path, counts)
        # both outcomes must occur, or the harness exercises nothing
        assert counts.get("ok", 0) > 10 and sum(counts.values()) - counts["ok"] > 50, (path, counts)
    assert report.outcomes["records"]["AvroFileError"] > 300, report.outcomes
