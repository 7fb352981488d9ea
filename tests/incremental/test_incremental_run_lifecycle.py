"""An incremental run has the run-directory lifecycle of any run (issue 18, findings 4, 5, 8):
resumed with its whole history, never retrained when finished, gone again after a failed start."""

import json

import pytest

from lirank_tf.incremental import train_incremental
from lirank_tf.training.trainer import train

from tiny_run import InterruptAfterFirstEpoch, tiny_config



@pytest.fixture()
def previous(tmp_path):
    config = tiny_config(tmp_path)
    train(config, tmp_path / "previous")
    return tmp_path, config.replace(training=config.training.replace(epochs=2))


def _day(config, root, target, **kwargs):
    return train_incremental(config, root / target, root / "previous", cold_weight=0.0,
                             forgetting_factor=0.0, save_fisher=False, **kwargs)


def test_an_interrupted_incremental_run_resumes_and_then_refuses_a_retrain(previous):
    root, config = previous
    with pytest.raises(KeyboardInterrupt):
        _day(config, root, "day1", extra_callbacks=[InterruptAfterFirstEpoch()])
    assert json.loads((root / "day1" / "run.json").read_text())["state"] == "failed"
    result = _day(config, root, "day1")
    assert len(result.history["loss"]) == 2
    assert json.loads((root / "day1" / "history.json").read_text()) == result.history
    before = (root / "day1" / "model.keras").read_bytes()
    with pytest.raises(FileExistsError, match="finished run.*--overwrite"):
        _day(config, root, "day1")
    assert (root / "day1" / "model.keras").read_bytes() == before


def test_a_failed_incremental_start_leaves_no_directory(previous):
    root, config = previous
    other = config.replace(model=config.model.replace(hidden_units=[4]))
    with pytest.raises(ValueError, match="config.model differs"):
        _day(other, root, "day1")
    missing = config.replace(data=config.data.replace(train=[str(root / "nowhere/*.avro")]))
    with pytest.raises(FileNotFoundError, match="matches no file"):
        _day(missing, root, "day1")
    assert not (root / "day1").exists()
    assert len(_day(config, root, "day1").history["loss"]) == 2       # no --overwrite needed
