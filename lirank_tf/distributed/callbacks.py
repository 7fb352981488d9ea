"""Keras callbacks of distributed training: initial broadcast, metric averaging, sharded
checkpoints and a step watchdog that turns a hung job into a failed one."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import keras

from lirank_tf.distributed.context import DistributedContext, current_context
from lirank_tf.distributed.sharded_checkpoint import save_checkpoint
from lirank_tf.distributed.variables import replicated_optimizer_variables, replicated_weights


class BroadcastInitialState(keras.callbacks.Callback):
    """Before the first training step, every worker takes rank 0's replicated weights and
    optimizer state (the optimizer is built first: its variables exist only after build).

    Runs at the first ``on_train_batch_begin``, i.e. after every ``on_train_begin`` (so
    after a restore by any callback) and before any gradient is applied. Table shards are
    not broadcast: each worker holds different rows.
    """

    def __init__(self, context: DistributedContext | None = None, root_rank: int = 0) -> None:
        super().__init__()
        self.context = context if context is not None else current_context()
        self.root_rank = root_rank
        self.done = False

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if self.done:
            return
        model = self.model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        state = replicated_weights(model) + replicated_optimizer_variables(model)
        # Horovod: broadcast initial variables and optimizer state from rank 0.
        self.context.broadcast_variables(state, self.root_rank)
        self.done = True


class MetricAverage(keras.callbacks.Callback):
    """At the end of each epoch, replaces every logged metric by its average over workers
    (exact for means over equal local batch counts, e.g. loss; an approximation for AUC).

    Put it before callbacks that read the logs (checkpoint on ``val_loss``, TensorBoard);
    Keras adds its History and progress bar after user callbacks."""

    def __init__(self, context: DistributedContext | None = None) -> None:
        super().__init__()
        self.context = context if context is not None else current_context()

    def on_epoch_end(self, epoch, logs=None) -> None:
        if logs:
            scalars = {k: v for k, v in logs.items() if isinstance(v, (int, float))
                       or getattr(v, "shape", None) == ()}
            # Horovod: average metrics over workers.
            logs.update(self.context.average_values(scalars))


class ShardedCheckpoint(keras.callbacks.Callback):
    """Saves a ``sharded_checkpoint`` every ``every_n_steps`` optimizer steps, or at the end
    of every epoch when ``every_n_steps`` is None. Every worker saves its table rows; rank 0
    alone saves the replicated state and marks the checkpoint complete.

    Args:
        directory: str or Path, root of the ``step-NNNNNNNN`` checkpoint directories.
        every_n_steps: positive int or None (default).
        keep: positive int or None, checkpoints kept (default 2; None keeps all).
        context: ``DistributedContext`` or None (default): ``current_context()``.
    """

    def __init__(self, directory: str | Path, every_n_steps: int | None = None,
                 keep: int | None = 2, context: DistributedContext | None = None) -> None:
        super().__init__()
        for name, value in (("every_n_steps", every_n_steps), ("keep", keep)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        self.directory = Path(directory)
        self.every_n_steps, self.keep = every_n_steps, keep
        self.context = context if context is not None else current_context()
        self.last_saved: Path | None = None

    def _save(self) -> None:
        self.last_saved = save_checkpoint(self.model, self.directory, context=self.context,
                                          keep=self.keep)

    def on_train_batch_end(self, batch, logs=None) -> None:
        if self.every_n_steps and int(self.model.optimizer.iterations.numpy()) \
                % self.every_n_steps == 0:
            self._save()

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self.every_n_steps is None:
            self._save()


class StepWatchdog(keras.callbacks.Callback):
    """Ends this worker with a clear message (exit status ``exit_code``) when a training
    step takes longer than ``timeout_seconds``; horovodrun then stops the whole job.

    A worker waiting forever in a collective for a peer that hangs (rather than dies)
    would otherwise block the job; a dead peer is detected by Horovod itself.

    Args:
        timeout_seconds: positive float, the limit of one step after the first.
        first_step_timeout_seconds: positive float or None (default: 10 x timeout), the
            limit of the first step, which includes tracing the training function.
        exit_code: int, default 75.
    """

    def __init__(self, timeout_seconds: float, first_step_timeout_seconds: float | None = None,
                 exit_code: int = 75, context: DistributedContext | None = None) -> None:
        super().__init__()
        for name, value in (("timeout_seconds", timeout_seconds),
                            ("first_step_timeout_seconds", first_step_timeout_seconds)):
            if value is not None and (isinstance(value, bool) or
                                      not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        self.timeout_seconds = float(timeout_seconds)
        self.first_step_timeout_seconds = float(first_step_timeout_seconds or 10 * timeout_seconds)
        self.exit_code = exit_code
        self.context = context if context is not None else current_context()
        self._deadline: float | None = None
        self._steps_done = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on_train_begin(self, logs=None) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="lirank-step-watchdog",
                                        daemon=True)
        self._thread.start()

    def on_train_batch_begin(self, batch, logs=None) -> None:
        limit = self.timeout_seconds if self._steps_done else self.first_step_timeout_seconds
        self._deadline = time.monotonic() + limit

    def on_train_batch_end(self, batch, logs=None) -> None:
        self._deadline = None
        self._steps_done += 1

    def on_train_end(self, logs=None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            deadline = self._deadline
            if deadline is not None and time.monotonic() > deadline:
                print(f"lirank_tf.distributed: rank {self.context.rank}: training step "
                      f"{self._steps_done + 1} did not finish within its time limit; a worker "
                      "of the job is hung or dead. Stopping this worker so that the launcher "
                      "stops the job; relaunch it to resume from the last checkpoint.",
                      file=sys.stderr, flush=True)
                os._exit(self.exit_code)
