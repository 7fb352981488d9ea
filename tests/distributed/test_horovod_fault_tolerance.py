"""Failures in a Horovod job (horovodrun --gloo, CPU): a dead worker fails the job fast with
a clear message and training resumes from the last checkpoint; a hung worker is stopped by
the step watchdog instead of blocking the job. Every launch has a timeout."""

import numpy as np
import pytest

from hvd_harness import (assert_same_weights, check_ok, plain_reference, read_checkpoint,
                         run_workers)

SAVE_AFTER = "1,4,8"
FAIL_FAST_SECONDS = 90  # whole job, including start-up of TensorFlow on both workers


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return plain_reference(tmp_path_factory.getbasetemp() / "plain_reference", SAVE_AFTER)


def test_dead_worker_fails_the_job_fast_and_training_resumes(tmp_path, reference):
    common = ["--mode", "mp", "--out", str(tmp_path), "--save-after", "8",
              "--checkpoint-every", "2"]
    failed = run_workers("hvd_train_worker.py", common + ["--fault", "die", "--fault-step", "5"],
                         processes=2, timeout=FAIL_FAST_SECONDS)
    assert failed.returncode != 0
    assert "fault injection: rank 1 dies at step 5" in failed.output
    assert "Process name: 1" in failed.output and "Exit code: 17" in failed.output
    complete = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")
                      if (p / "manifest.json").exists())
    assert complete == ["step-00000002", "step-00000004"]
    check_ok(run_workers("hvd_train_worker.py",
                         common + ["--restore", str(tmp_path / "checkpoints")], processes=2))
    expected = dict(np.load(reference / "plain-step8.npz"))
    actual = read_checkpoint(tmp_path / "checkpoints" / "step-00000008")
    assert_same_weights(expected, actual, "resumed from step 4")


def test_hung_worker_is_stopped_by_the_step_watchdog(tmp_path):
    failed = run_workers("hvd_train_worker.py",
                         ["--mode", "mp", "--out", str(tmp_path), "--save-after", "8",
                          "--fault", "hang", "--fault-step", "3", "--watchdog", "3"],
                         processes=2, timeout=FAIL_FAST_SECONDS)
    assert failed.returncode != 0
    assert "fault injection: rank 1 hangs at step 3" in failed.output
    assert "training step 4 did not finish within its time limit" in failed.output
    assert "Exit code: 75" in failed.output
