"""Data-parallel training on 2 Horovod workers (horovodrun --gloo, CPU) against one process.

Workers start from different weights (seed + rank): equality also checks the broadcast of
rank 0's initial state. Tolerance: rtol 1e-5, atol 1e-6 (float32 sums in another order).
"""

import numpy as np
import pytest

from hvd_harness import (assert_same_weights, check_ok, plain_reference, read_checkpoint,
                         run_workers)

SAVE_AFTER = "1,4,8"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return plain_reference(tmp_path_factory.getbasetemp() / "plain_reference", SAVE_AFTER)


def test_two_workers_reach_the_weights_of_one_process_with_the_global_batch(tmp_path, reference):
    check_ok(run_workers("hvd_train_worker.py", ["--mode", "dp", "--out", str(tmp_path),
                                                 "--save-after", SAVE_AFTER], processes=2))
    for step in (1, 4, 8):
        expected = dict(np.load(reference / f"plain-step{step}.npz"))
        actual = read_checkpoint(tmp_path / "checkpoints" / f"step-{step:08d}")
        assert_same_weights(expected, actual, f"data-parallel, step {step}")
    first, last = np.load(reference / "plain-step1.npz"), np.load(reference / "plain-step8.npz")
    assert all(np.abs(first[k] - last[k]).max() > 1e-3 for k in first.files)  # all trained
    np.testing.assert_allclose(np.load(tmp_path / "predictions-dp-N2.npy"),
                               np.load(reference / "predictions-plain-N1.npy"),
                               rtol=1e-5, atol=1e-6)


def test_fp16_compression_with_densified_embedding_gradients(tmp_path, reference):
    check_ok(run_workers("hvd_train_worker.py",
                         ["--mode", "dp", "--out", str(tmp_path), "--save-after", "4",
                          "--sparse-as-dense", "--compression", "fp16"], processes=2))
    expected = dict(np.load(reference / "plain-step4.npz"))
    actual = read_checkpoint(tmp_path / "checkpoints" / "step-00000004")
    for key in expected:  # gradients rounded to float16: about 1e-3 relative
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-2, atol=2e-3, err_msg=key)
