"""Tests of lirank_tf.distributed.callbacks in one process (with a recording context)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dist_fake_contexts import RecordingContext
from hvd_harness import worker_env
from hvd_toy_model import batches, build_plain_model, make_examples, make_optimizer
from lirank_tf import distributed
from lirank_tf.distributed.callbacks import (BroadcastInitialState, MetricAverage,
                                             ShardedCheckpoint, StepWatchdog)
from lirank_tf.distributed.context import SingleProcessContext
from lirank_tf.distributed.data_parallel import DistributedModel
from lirank_tf.distributed.model_parallel import shard_model
from lirank_tf.distributed.sharded_checkpoint import completed_checkpoints


def test_broadcast_builds_the_optimizer_and_sends_replicated_state_only_once():
    context = RecordingContext(rank=1, size=2)
    model = DistributedModel(shard_model(build_plain_model(1), context, broadcast_tables=False),
                             context=context)
    model.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    callback = BroadcastInitialState(context)
    callback.set_model(model)
    assert not model.optimizer.built
    callback.on_train_batch_begin(0)
    callback.on_train_batch_begin(1)
    ((name, (variables, root)),) = context.calls
    assert name == "broadcast_variables" and root == 0 and model.optimizer.built
    weights = {id(w) for w in model.weights}
    names = sorted(v.path if id(v) in weights else f"optimizer:{v.name}" for v in variables)
    assert names == sorted(["hidden/kernel", "hidden/bias", "click/kernel", "click/bias",
                            "optimizer:iteration", "optimizer:learning_rate",
                            "optimizer:hidden_kernel_momentum", "optimizer:hidden_bias_momentum",
                            "optimizer:click_kernel_momentum", "optimizer:click_bias_momentum"])


def test_metric_average_replaces_logs_with_the_averages():
    class Doubling(RecordingContext):
        def average_values(self, values):
            super().average_values(values)
            return {k: 2 * v for k, v in values.items()}

    context = Doubling()
    logs = {"loss": 0.5, "auc": np.float32(0.25), "name": "not a number"}
    MetricAverage(context).on_epoch_end(0, logs)
    assert logs == {"loss": 1.0, "auc": 0.5, "name": "not a number"}
    assert context.calls == [("average_values", {"loss": 0.5, "auc": np.float32(0.25)})]


def test_sharded_checkpoint_every_n_steps_keeps_the_newest(tmp_path):
    features, labels = make_examples(60, seed=1)
    model = DistributedModel(build_plain_model(1), context=SingleProcessContext())
    model.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    callback = ShardedCheckpoint(tmp_path, every_n_steps=2, keep=2, context=SingleProcessContext())
    model.fit(batches(features, labels, 6), verbose=0, shuffle=False, callbacks=[callback])
    assert [p.name for p in completed_checkpoints(tmp_path)] == ["step-00000008", "step-00000010"]
    assert callback.last_saved == tmp_path / "step-00000010"
    per_epoch = ShardedCheckpoint(tmp_path / "epochs", context=SingleProcessContext())
    model.fit(batches(features, labels, 30), epochs=2, verbose=0, shuffle=False,
              callbacks=[per_epoch])
    assert [p.name for p in completed_checkpoints(tmp_path / "epochs")] == \
        ["step-00000012", "step-00000014"]


def test_step_watchdog_ends_a_stuck_process_with_a_clear_message(tmp_path):
    script = tmp_path / "stuck.py"
    script.write_text(textwrap.dedent("""
        import time
        import keras, numpy as np
        from lirank_tf.distributed.callbacks import StepWatchdog

        class Stuck(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if batch == 2:
                    time.sleep(60)

        inputs = keras.Input((2,))
        model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, verbose=0,
                  callbacks=[StepWatchdog(1.0), Stuck()])
    """))
    done = subprocess.run([sys.executable, str(script)], env=worker_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 75, done.stderr[-2000:]
    assert "rank 0: training step 3 did not finish within its time limit" in done.stderr


def test_callbacks_factory_and_chief_only():
    context = RecordingContext(rank=1, size=2)
    made = distributed.callbacks(context, checkpoint_dir="ckpt", checkpoint_every_steps=5,
                                 step_timeout_seconds=30)
    assert [type(c) for c in made] == [BroadcastInitialState, MetricAverage, ShardedCheckpoint,
                                       StepWatchdog]
    assert distributed.chief_only(["tensorboard"], context) == []
    assert distributed.chief_only(["tensorboard"], RecordingContext(0, 2)) == ["tensorboard"]


@pytest.mark.parametrize("make, message", [
    (lambda: ShardedCheckpoint("d", every_n_steps=0),
     "every_n_steps must be a positive int or None, got 0"),
    (lambda: ShardedCheckpoint("d", keep=-1), "keep must be a positive int or None, got -1"),
    (lambda: StepWatchdog(0), "timeout_seconds must be a positive number, got 0"),
    (lambda: StepWatchdog(1, first_step_timeout_seconds=-2), "first_step_timeout_seconds"),
])
def test_invalid_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()
