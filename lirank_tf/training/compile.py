"""One recipe to compile a ranking model and to list its ``model.fit`` callbacks, for the
trainer and for incremental training alike (LiRank §6.2 optimizers; run-directory callbacks)."""

from __future__ import annotations

from typing import Sequence

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.tasks import MultiTask
from lirank_tf.training.optimizers import (DenseSparseOptimizer, make_sparse_optimizer,
                                           make_training_optimizer)
from lirank_tf.training.progress import CompactProgress
from lirank_tf.training.run import Run


def make_optimizer(config: ExperimentConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """LiRank §6.2: Adam (warm-up schedule) for dense and ``training.sparse_optimizer``
    (AdaGrad by default) for embedding variables in one step, with global gradient clipping.
    With ``reduce_lr_patience`` the dense rate is a plain variable instead (no warm-up),
    scaled down on validation plateaus."""
    training = config.training
    if training.reduce_lr_patience:
        return DenseSparseOptimizer(keras.optimizers.Adam(training.learning_rate),
                                    make_sparse_optimizer(training.sparse_optimizer,
                                                          training.sparse_learning_rate),
                                    global_clipnorm=training.clipnorm or None)
    return make_training_optimizer(
        training.learning_rate, max(1, steps_per_epoch * training.epochs),
        sparse_learning_rate=training.sparse_learning_rate,
        sparse_optimizer=training.sparse_optimizer,
        warmup_fraction=training.warmup_fraction, batch_size=training.batch_size,
        base_batch_size=training.base_batch_size, max_warmup_fraction=training.max_warmup_fraction,
        decay=training.decay, global_clipnorm=training.clipnorm or None)


def compile_model(model: keras.Model, config: ExperimentConfig, steps_per_epoch: int) -> None:
    """Compiles ``model`` with `make_optimizer` and the tasks' losses and metrics."""
    model.compile(optimizer=make_optimizer(config, steps_per_epoch),
                  **MultiTask.from_config(config.tasks).compile_kwargs())


def fit_callbacks(run: Run, *, validation: Sequence[keras.callbacks.Callback] = (),
                  extra: Sequence[keras.callbacks.Callback] | None = None
                  ) -> list[keras.callbacks.Callback]:
    """The callbacks of a single-process ``model.fit`` into a started `Run`, in order:
    per-epoch weight checkpoints, TensorBoard logs, ``validation`` (early stopping, learning-rate
    reduction: they add to the epoch logs), the run's history, the backup an interrupted run
    resumes from (kept until `Run.finish`; saved after the history, so a kill between the two
    leaves a history the resume trims, never a gap), then ``extra``."""
    run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    return [
        keras.callbacks.ModelCheckpoint(str(run.checkpoint_dir / "epoch_{epoch:03d}.weights.h5"),
                                        save_weights_only=True),
        keras.callbacks.TensorBoard(str(run.log_dir), write_graph=False, profile_batch=0),
        *validation,
        run.history_callback(),
        keras.callbacks.BackupAndRestore(str(run.backup_dir), delete_checkpoint=False),
        *(extra or []),
    ]


def fit_display(config: ExperimentConfig, steps_per_epoch: int | None, *, chief: bool = True
                ) -> tuple[int, list[keras.callbacks.Callback]]:
    """(``verbose`` for ``model.fit``, display callbacks) for ``training.verbose``: 1 (default)
    the compact multi-task display (`CompactProgress`: loss, mean and worst task AUC, steps/s,
    ETA; full metrics stay in the history and TensorBoard), 2 Keras' own line per epoch with
    every metric, 0 nothing. Not ``chief`` (a Horovod worker of rank > 0): nothing."""
    verbose = config.training.verbose if chief else 0
    if verbose == 1:
        return 0, [CompactProgress([t.name for t in config.tasks], config.training.epochs,
                                   config.training.steps_per_epoch or steps_per_epoch)]
    return verbose, []
