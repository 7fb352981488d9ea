"""`train_distributed`'s run directory has the lifecycle of any run (issue 18, findings 4, 5):
rank 0 owns it; an interrupted run resumes from its sharded checkpoint with every epoch's
history; a finished one is not trained again. One process (a job of one) keeps it fast; the
Horovod job itself is `test_cli_train_horovod`."""

import json

import pytest

from lirank_tf.distributed import SingleProcessContext
from lirank_tf.training.trainer import train_distributed

from tiny_run import InterruptAfterFirstEpoch, tiny_config



def test_an_interrupted_distributed_run_resumes_with_its_whole_history(tmp_path):
    config = tiny_config(tmp_path)
    config = config.replace(training=config.training.replace(epochs=2))
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_distributed(config, run, SingleProcessContext(), extra_callbacks=[InterruptAfterFirstEpoch()])
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 1
    result = train_distributed(config, run, SingleProcessContext())
    assert len(result.history["loss"]) == 2
    assert json.loads((run / "history.json").read_text()) == result.history
    assert json.loads((run / "run.json").read_text())["state"] == "finished"
    with pytest.raises(FileExistsError, match="finished run"):
        train_distributed(config, run, SingleProcessContext())
