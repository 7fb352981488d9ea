"""`lirank-tf train` under `horovodrun -np 2 --gloo` (issue 6's training command): the run
directory is that of a single-process run, so `evaluate_run` reads it unchanged."""

import json
import subprocess

import pytest
from hvd_harness import REPO_ROOT, VENV_BIN, worker_env

from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.distributed.sharded_checkpoint import latest_checkpoint
from lirank_tf.workflow import evaluate_run

TIMEOUT_SECONDS = 420  # two workers on a shared 2-core machine; a hang fails the test


@pytest.fixture(scope="module")
def feed_data(tmp_path_factory):
    return simulate_feed(tmp_path_factory.mktemp("feed"), FeedSimulatorConfig(
        num_days=4, impressions_per_day=1000, num_members=300, posts_per_day=150))


def horovod_train(config_path, output_dir):
    command = [str(VENV_BIN / "horovodrun"), "-np", "2", "-H", "localhost:2", "--gloo",
               str(VENV_BIN / "python"), "-m", "lirank_tf", "train", "--config",
               str(config_path), "--output-dir", str(output_dir)]
    env = worker_env()
    env["PYTHONPATH"] = str(REPO_ROOT)
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_SECONDS, cwd=str(REPO_ROOT))
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(f"horovodrun did not finish within {TIMEOUT_SECONDS} s (hung?)\n"
                             f"{expired.output}{expired.stderr}") from expired
    assert done.returncode == 0, f"exit {done.returncode}:\n{(done.stdout + done.stderr)[-6000:]}"
    return done.stdout


@pytest.mark.parametrize("shard_embeddings", [False, True], ids=["replicated", "sharded"])
def test_horovod_train_writes_a_run_that_evaluates(feed_data, tmp_path, shard_embeddings):
    # sharded: one training file for two workers, so the input is sharded by batch
    train_files = feed_data["train"][:1] if shard_embeddings else feed_data["train"]
    config = get_experiment("feed", {
        "data": {"train": train_files, "valid": feed_data["valid"], "test": feed_data["test"]},
        "model": {"hidden_units": [32]},
        "training": {"epochs": 2, "batch_size": 64, "verbose": 0, "learning_rate": 1e-2,
                     "warmup_fraction": 0.0, "decay": "constant",
                     "clipnorm": 0.0 if shard_embeddings else 1.0,
                     "shard_embeddings": shard_embeddings}})
    config_path = tmp_path / "run.yaml"
    config.save(config_path)
    run_dir = tmp_path / "run"

    output = horovod_train(config_path, run_dir)

    assert output.count("trained model:") == 2  # both workers finished
    for name in ("config.yaml", "transform_statistics.json", "history.json", "model.keras"):
        assert (run_dir / name).is_file(), name
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 2 and "val_loss" in history
    checkpoint = latest_checkpoint(run_dir / "sharded_checkpoints")
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    assert manifest["world_size"] == 2
    assert (run_dir / "checkpoints" / "epoch_002.weights.h5").is_file() != shard_embeddings
    metrics = evaluate_run(run_dir, verbose=False)
    assert metrics["click"]["auc"] > 0.5, metrics["click"]
