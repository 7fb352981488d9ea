"""Model-parallel tables on Horovod workers (horovodrun --gloo, CPU): equality with the plain
single-process model, and re-sharding of checkpoints 2 -> 3 -> 1 workers (and export).

Tolerance of weight equality: rtol 1e-5, atol 1e-6; predictions: rtol 1e-5, atol 1e-6.
"""

import json

import numpy as np
import pytest

from hvd_harness import (assert_same_weights, check_ok, plain_reference, read_checkpoint,
                         run_workers)

SAVE_AFTER = "1,4,8"
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return plain_reference(tmp_path_factory.getbasetemp() / "plain_reference", SAVE_AFTER)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    out = tmp_path_factory.mktemp("model_parallel_2")
    check_ok(run_workers("hvd_train_worker.py", ["--mode", "mp", "--out", str(out), "--save-after",
                                                 SAVE_AFTER, "--check-outputs"], processes=2))
    return out


def held_tables(checkpoint) -> list:
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    held = []
    for name in manifest["table_files"]:
        with np.load(checkpoint / name) as data:
            held.append(sorted((p["key"], p["row_start"], p["row_end"])
                               for p in json.loads(str(data["index"]))))
    return held


def test_sharded_and_plain_models_give_equal_outputs(two_workers):
    for rank in range(2):
        result = json.loads((two_workers / f"outputs-rank{rank}.json").read_text())
        assert result == {"max_abs_difference": pytest.approx(0.0, abs=1e-6), "world_size": 2}


def test_two_workers_match_the_plain_model_after_one_and_more_steps(two_workers, reference):
    held = held_tables(two_workers / "checkpoints" / "step-00000008")
    assert held[0] and held[1] and not set(held[0]) & set(held[1])  # tables really split
    for step in (1, 4, 8):
        expected = dict(np.load(reference / f"plain-step{step}.npz"))
        actual = read_checkpoint(two_workers / "checkpoints" / f"step-{step:08d}")
        assert_same_weights(expected, actual, f"model-parallel, step {step}")
    np.testing.assert_allclose(np.load(two_workers / "predictions-mp-N2.npy"),
                               np.load(reference / "predictions-plain-N1.npy"), **TOLERANCE)


def test_resharding_two_to_three_to_one_worker_keeps_predictions(two_workers, tmp_path):
    three = tmp_path / "three"
    check_ok(run_workers("hvd_train_worker.py",
                         ["--mode", "mp", "--out", str(three), "--restore",
                          str(two_workers / "checkpoints"),
                          "--row-wise", "user_embedding/embeddings"], processes=3))
    held = held_tables(three / "checkpoints" / "step-00000008")
    user_blocks = [[b for b in rank if b[0] == "user_embedding/embeddings"] for rank in held]
    assert user_blocks == [[("user_embedding/embeddings", 0, 13)],
                           [("user_embedding/embeddings", 13, 25)],
                           [("user_embedding/embeddings", 25, 37)]]
    expected = np.load(two_workers / "predictions-mp-N2.npy")
    np.testing.assert_allclose(np.load(three / "predictions-mp-N3.npy"), expected, **TOLERANCE)
    one = tmp_path / "one"
    check_ok(run_workers("hvd_train_worker.py", ["--mode", "export", "--out", str(one),
                                                 "--restore", str(three / "checkpoints")],
                         processes=None))
    assert json.loads((one / "export.json").read_text()) == {"restored_step": 8}
    np.testing.assert_allclose(np.load(one / "predictions-export-N1.npy"), expected, **TOLERANCE)
    np.testing.assert_allclose(np.load(one / "predictions-served-N1.npy"), expected, **TOLERANCE)
