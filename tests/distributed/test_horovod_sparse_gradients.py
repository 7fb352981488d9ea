"""Sparse (row) gradients with int32 and int64 row ids are averaged by one grouped Horovod
call without densifying them, in any order among dense ones; the result equals the NumPy average of the dense gradients."""

import numpy as np

from hvd_harness import check_ok, run_workers


def _dense(rank: int) -> list[np.ndarray]:
    first = np.zeros((4, 2))
    first[rank] += [1.0 + rank, 2.0]
    first[3] += [0.5, -rank]
    second = np.zeros((3, 1))
    second[2] = 3.0 * (rank + 1)
    return [np.array([float(rank), 1.0]), first, np.array([[2.0 * rank]]), second]


def test_mixed_row_id_dtypes_are_allgathered_and_averaged(tmp_path):
    check_ok(run_workers("hvd_sparse_rows_worker.py", ["--out", str(tmp_path)], processes=2))
    expected = [(a + b) / 2 for a, b in zip(_dense(0), _dense(1))]
    for rank in (0, 1):
        saved = np.load(tmp_path / f"rank{rank}.npz")
        actual = [saved[f"arr_{i}"] for i in range(4)]
        for want, got in zip(expected, actual):
            np.testing.assert_allclose(got, want, rtol=1e-6)
