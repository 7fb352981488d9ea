"""The run directory's lifecycle (issue 18, findings 4, 5, 8): a finished run is never retrained
without --overwrite, a killed run resumes with its whole history, a failed start leaves the
directory as it was, and one process at a time owns a run directory."""

import json
import signal
import subprocess
import sys
import textwrap

import keras
import pytest

from lirank_tf.cli import main
from lirank_tf.config import ExperimentConfig
from lirank_tf.errors import UserError
from lirank_tf.training import trainer
from lirank_tf.training.trainer import train

from tiny_run import InterruptAfterFirstEpoch, tiny_config


@pytest.fixture()
def tiny(tmp_path):
    return tmp_path, tiny_config(tmp_path)


def _snapshot(directory):
    """{relative path: (bytes, mtime_ns)} of every file under ``directory``."""
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _cli_train(config_path, run_dir, *flags):
    return main(["train", "--config", str(config_path), "--output-dir", str(run_dir), *flags])


def test_a_finished_run_refuses_a_new_train_and_is_left_untouched(tiny, capsys):
    root, config = tiny
    assert _cli_train(root / "run.yaml", root / "run") == 0
    before = _snapshot(root / "run")
    assert "model.keras" in before and "history.json" in before
    capsys.readouterr()

    assert _cli_train(root / "run.yaml", root / "run") == 2      # the very same command again
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "finished" in err and "--overwrite" in err and "--incremental-from" in err, err
    assert _snapshot(root / "run") == before

    assert _cli_train(root / "run.yaml", root / "run", "--overwrite") == 0
    assert _snapshot(root / "run")["model.keras"] != before["model.keras"]


KILLED_TRAINING = textwrap.dedent("""
    import os, signal, sys
    import keras
    from lirank_tf.config import ExperimentConfig
    from lirank_tf.training.trainer import train

    class KillInEpoch2(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    train(ExperimentConfig.load(sys.argv[1]), sys.argv[2], extra_callbacks=[KillInEpoch2()])
""")


def test_a_run_killed_mid_epoch_resumes_with_the_history_of_every_epoch(tiny, capsys):
    root, config = tiny
    config.replace(training=config.training.replace(epochs=3)).save(root / "three.yaml")
    run = root / "run"
    killed = subprocess.run([sys.executable, "-c", KILLED_TRAINING, str(root / "three.yaml"),
                             str(run)], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    saved = json.loads((run / "history.json").read_text())    # written at each epoch's end
    assert len(saved["loss"]) == 1 and not (run / "model.keras").exists()

    assert _cli_train(root / "three.yaml", run) == 0
    err = capsys.readouterr().err
    assert "taking over" in err and "no longer" in err, err       # the killed process's lock
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 3 and len(history["val_loss"]) == 3, history
    assert history["loss"][0] == saved["loss"][0]
    assert json.loads((run / "run.json").read_text())["state"] == "finished"



def test_an_interrupted_run_resumes_appending_to_its_history(tiny):
    root, config = tiny
    config = config.replace(training=config.training.replace(epochs=2))
    with pytest.raises(KeyboardInterrupt):
        train(config, root / "run", extra_callbacks=[InterruptAfterFirstEpoch()])
    result = train(config, root / "run")
    assert len(result.history["loss"]) == 2
    assert json.loads((root / "run" / "history.json").read_text()) == result.history


def test_a_start_failing_its_checks_leaves_no_directory_and_the_retry_needs_no_flag(tiny):
    root, config = tiny
    bad = config.replace(features=config.features.replace(
        dense=[*config.features.dense, config.features.dense[0].replace(name="discount")]))
    with pytest.raises(ValueError, match="discount"):
        train(bad, root / "run")
    assert not (root / "run").exists()
    (root / "empty").mkdir()
    with pytest.raises(ValueError, match="discount"):
        train(bad, root / "empty")
    assert list((root / "empty").iterdir()) == []
    train(config, root / "run")                          # the fixed config, no --overwrite
    assert (root / "run" / "model.keras").is_file()


def test_a_model_failing_to_build_leaves_the_directory_as_it_was(tiny, monkeypatch):
    root, config = tiny

    def broken(_config):
        raise ValueError("model.cross_rank does not fit")

    with monkeypatch.context() as patch:
        patch.setattr(trainer, "build_model", broken)
        with pytest.raises(ValueError, match="cross_rank"):
            train(config, root / "run")
    assert not (root / "run").exists()
    other = config.replace(training=config.training.replace(seed=5))
    train(other, root / "run")
    assert ExperimentConfig.load(root / "run" / "config.yaml") == other


def test_a_start_failing_with_overwrite_keeps_the_finished_run(tiny, monkeypatch):
    root, config = tiny
    train(config, root / "run")
    before = _snapshot(root / "run")
    bad = config.replace(data=config.data.replace(train=[str(root / "nowhere/*.avro")]))
    with pytest.raises(FileNotFoundError, match="matches no file"):
        train(bad, root / "run", overwrite=True)
    assert _snapshot(root / "run") == before


LOCK_HOLDER = textwrap.dedent("""
    import sys, time
    from lirank_tf.training.lock import DirectoryLock
    lock = DirectoryLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    time.sleep(120)
""")


def test_a_run_directory_in_use_by_another_process_is_refused(tiny):
    root, config = tiny
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(root / "run")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=rf"in use by process {holder.pid}"):
            train(config, root / "run")
    finally:
        holder.kill()
        holder.wait()
    assert not (root / "run" / "model.keras").exists()
    train(config, root / "run")                          # the holder died: its lock is stale
    assert (root / "run" / "model.keras").is_file()


def test_load_run_alone_reads_a_finished_run_in_a_new_process(tiny):
    """`load_run` registers everything ``model.keras`` holds (the layers, models and the
    optimizer) itself: a process importing only it reads the run (it failed on the optimizer
    class when nothing had imported `lirank_tf.training.optimizers`)."""
    root, config = tiny
    result = train(config, root / "run")
    expected = sum(float(abs(w).sum()) for w in result.model.get_weights())
    script = textwrap.dedent("""
        import sys
        from lirank_tf.training.run import load_run
        config, transform, model = load_run(sys.argv[1])
        print(repr(sum(float(abs(w).sum()) for w in model.get_weights())))
        """)
    done = subprocess.run([sys.executable, "-c", script, str(root / "run")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) == pytest.approx(expected, rel=1e-12)
