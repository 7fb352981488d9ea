"""Single-process (and, through ``lirank_tf.distributed``, Horovod) training with ``model.fit``."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from lirank_tf import distributed
from lirank_tf.config import ExperimentConfig
from lirank_tf.data.files import count_records, expand_globs, spread_files
from lirank_tf.data.preflight import check_files
from lirank_tf.errors import UserError
from lirank_tf.models import build_model
from lirank_tf.training.callbacks import (ReduceLearningRateOnPlateau, ValidationEarlyStopping,
                                          ValidationScore, stopping_record)
# make_optimizer moved to training.compile; imported here for the callers of trainer.make_optimizer
from lirank_tf.training.hooks import TrainingHook, check_all, finish_all
from lirank_tf.training.compile import (compile_model, fit_callbacks, fit_display,  # noqa: F401
                                       make_optimizer)
from lirank_tf.training.report import start_banner
from lirank_tf.training.pipeline import raw_dataset, training_dataset
from lirank_tf.training.run import Run
from lirank_tf.training.run_directory import RunDirectory
from lirank_tf.training.platt import calibrate_model
from lirank_tf.training.vocabulary import count_training_vocabulary
from lirank_tf.transform import TransformationModel, fit_dense_statistics


@dataclasses.dataclass
class TrainResult:
    model: keras.Model
    transform: TransformationModel
    history: dict
    run: RunDirectory
    # how model.fit ended (`lirank_tf.training.callbacks.stopping_record`): stop_reason,
    # best_epoch, criterion, best_metrics; None without early stopping
    stopping: dict | None
    # model.platt_scaling: {task: the fitted slope and bias (`lirank_tf.training.platt.
    # fit_platt`)}, after training; None when the model has no Platt layers
    calibration: dict | None


STATISTICS_BATCHES = 50
STATISTICS_FILES = 10


def data_files(config: ExperimentConfig) -> tuple[list[str], list[str]]:
    """(training files, validation files) of ``config``; a `UserError` names ``data.train``
    when it holds nothing, a `FileNotFoundError` a pattern that matches nothing."""
    if not config.data.train:
        raise UserError("data.train: no training files; give at least one file or glob")
    valid = expand_globs(config.data.valid, "data.valid") if config.data.valid else []
    return expand_globs(config.data.train, "data.train"), valid


def statistics_sample(config: ExperimentConfig, train_files: list[str],
                      max_batches: int = STATISTICS_BATCHES,
                      max_files: int = STATISTICS_FILES) -> tf.data.Dataset:
    """Raw batches for the dense statistics: the first batches of up to ``max_files`` training
    files spread evenly over the (sorted, usually chronological) list, ``max_batches`` in all,
    so that a feature drifting over the days or constant within one file is fitted on all of
    them. Deterministic: every Horovod rank fits the same statistics."""
    if not train_files:
        raise ValueError("statistics_sample: no training files")
    picked = spread_files(train_files, max_files)
    per_file = max(1, -(-max_batches // len(picked)))
    sample = raw_dataset(config, [picked[0]], shuffle=False).take(per_file)
    for path in picked[1:]:
        sample = sample.concatenate(raw_dataset(config, [path], shuffle=False).take(per_file))
    return sample


def fit_transformation(config: ExperimentConfig, train_files: list[str]) -> TransformationModel:
    """The transformation model with dense statistics fitted on a sample of the training data
    (`statistics_sample`) and the min-count id vocabulary counted over all of it
    (`lirank_tf.training.vocabulary`; none without a min-count feature)."""
    statistics = fit_dense_statistics(statistics_sample(config, train_files), config.features.dense,
                                      max_batches=STATISTICS_BATCHES + STATISTICS_FILES)
    return TransformationModel(config.features, statistics,
                               vocabulary=count_training_vocabulary(config, train_files))


def validation_callbacks(config: ExperimentConfig, has_validation: bool) -> list:
    """Early stopping (best weights restored) and plateau learning-rate reduction on the
    validation score of ``training.monitor`` (default: mean over tasks of val AUC - val log
    loss, `ValidationScore`). After ``model.fit``, `stopping_record` of these callbacks says
    how the run stopped (``stop_reason``, ``best_epoch``, ...)."""
    training = config.training
    if not (training.early_stopping_patience or training.reduce_lr_patience):
        return []
    if not has_validation:
        raise ValueError("training.early_stopping_patience / reduce_lr_patience need validation "
                         "data: set data.valid")
    score = ValidationScore(training.monitor or "auc_logloss", [t.name for t in config.tasks])
    callbacks = []
    if training.reduce_lr_patience:
        callbacks.append(ReduceLearningRateOnPlateau(score, training.reduce_lr_factor,
                                                     training.reduce_lr_patience,
                                                     min_delta=training.early_stopping_min_delta))
    if training.early_stopping_patience:
        callbacks.append(ValidationEarlyStopping(score, training.early_stopping_patience,
                                                 min_delta=training.early_stopping_min_delta))
    return callbacks


def batches_of(files: list[str], batch_size: int) -> int:
    """The exact number of batches of ``batch_size`` (the last one partial) in ``files``, from
    the record counts of the Avro block headers (no decoding); 0 for files without records."""
    return math.ceil(count_records(files) / batch_size)


def fit_datasets(config: ExperimentConfig, train_files: list[str], valid_files: list[str],
                 transform: TransformationModel
                 ) -> tuple[tf.data.Dataset, tf.data.Dataset | None, int]:
    """(shuffled training batches, validation batches or None, steps per epoch) of a
    single-process ``model.fit``. The batch counts are asserted on the datasets, so Keras
    knows each epoch's length."""
    batch_size = config.training.batch_size
    train_batches = batches_of(train_files, batch_size)
    train_data = training_dataset(config, train_files, transform, shuffle=True,
                                  seed=config.training.seed, batches=train_batches or None)
    valid_data = (training_dataset(config, valid_files, transform, shuffle=False,
                                   batches=batches_of(valid_files, batch_size) or None)
                  if valid_files else None)
    return train_data, valid_data, config.training.steps_per_epoch or max(1, train_batches)


def count_records_batches(files: list[str], batch_size: int) -> int:
    """Batches per epoch (at least 1: a learning-rate schedule needs a positive length)."""
    return max(1, batches_of(files, batch_size))


def train(config: ExperimentConfig, output_dir: str | Path, *, overwrite: bool = False,
          extra_callbacks: list | None = None,
          hooks: Sequence[TrainingHook] = ()) -> TrainResult:
    """Trains ``config`` into ``output_dir``; resumes an interrupted run of the same config
    with its history. The run directory's lifecycle is `lirank_tf.training.run.Run`'s: a
    finished run is not trained again without ``overwrite`` (`FileExistsError`), another
    process's run is refused, and a start that fails leaves the directory as it was.

    ``hooks`` (`lirank_tf.training.hooks.TrainingHook`) add to the run: `lirank_tf.workflow.train`
    passes the explore posterior's (LiRank §3.8), so a config with ``explore.enabled`` trained
    through this function directly ends without a posterior unless its hook is given.

    Under ``horovodrun -np N`` (N >= 2) every worker runs this and ``train_distributed``
    trains the same model with the global batch ``training.batch_size`` split over them."""
    context = distributed.init()  # Horovod: initialise (a single-process context under python)
    if context.size > 1:
        return train_distributed(config, output_dir, context, overwrite=overwrite,
                                 extra_callbacks=extra_callbacks, hooks=hooks)
    with Run(output_dir, config, overwrite=overwrite) as run:   # locked; a finished run refused
        keras.utils.set_random_seed(config.training.seed)
        train_files, valid_files = data_files(config)
        check_files(config, train_files + valid_files)
        saved = run.resuming and run.statistics_path.exists()
        transform = (run.load_transformation(config) if saved
                     else fit_transformation(config, train_files))
        train_data, valid_data, steps = fit_datasets(config, train_files, valid_files, transform)

        model = build_model(config)
        check_all(hooks, model, config)     # fails now, not after training
        compile_model(model, config, steps)
        validation = validation_callbacks(config, valid_data is not None)
        # the checks passed: write the run
        run.start(*((None, None) if saved else (transform.statistics, transform.vocabulary)))
        verbose, display = fit_display(config, steps)
        if verbose or display:
            print(start_banner(model, train_records=count_records(train_files),
                               valid_records=count_records(valid_files) if valid_files else 0,
                               steps_per_epoch=steps, batch_size=config.training.batch_size,
                               epochs=config.training.epochs), flush=True)
        model.fit(train_data, validation_data=valid_data, epochs=config.training.epochs,
                  steps_per_epoch=config.training.steps_per_epoch or None, shuffle=False,
                  callbacks=fit_callbacks(run, validation=validation,
                                          extra=[*display, *(extra_callbacks or [])]),
                  verbose=verbose)  # the reader shuffles
        calibration = fit_platt_scaling(model, config, valid_data)
        run.save_model(model)
        finish_all(hooks, run.path, model, config, transform)  # e.g. the §3.8 posterior
        stopping = stopping_record(validation)
        history = run.finish(stopping=stopping, calibration=calibration)
    return TrainResult(model=model, transform=transform, history=history, run=run,
                       stopping=stopping, calibration=calibration)


def fit_platt_scaling(model: keras.Model, config: ExperimentConfig,
                      valid_data: tf.data.Dataset | None) -> dict | None:
    """With ``model.platt_scaling``: fits the model's Platt layers on ``valid_data`` (the
    identity, with the reason, without validation data) and returns the records; else None."""
    if not config.model.platt_scaling:
        return None
    tasks = [task.name for task in config.tasks]
    if valid_data is None:
        return {task: {"slope": 1.0, "bias": 0.0, "converged": False,
                       "reason": "no validation files (data.valid)"} for task in tasks}
    return calibrate_model(model, valid_data, tasks)


def sharded_checkpoint_dir(run: RunDirectory) -> Path:
    """Per-worker checkpoints of a Horovod run (resume, and the final model of sharded tables)."""
    return run.sharded_checkpoint_dir


def worker_datasets(config: ExperimentConfig, train_files: list[str], transform: TransformationModel,
                    context: distributed.DistributedContext) -> tuple[tf.data.Dataset, int]:
    """This worker's training batches of ``batch_size / N`` examples and the number of steps
    per epoch, the same on every worker (one more step on one worker would hang the others)."""
    training, size = config.training, context.size
    local_batch = training.batch_size // size
    if len(train_files) >= size:
        # Horovod: each worker reads its own files; every worker counts the batches of every
        # worker's files (the same rule as shard_files) to agree on the smallest count.
        files = distributed.shard_files(train_files, context)
        counts = [batches_of(train_files[r::size], local_batch) for r in range(size)]
        dataset = training_dataset(config, files, transform, shuffle=True,
                                   seed=training.seed + context.rank, batch_size=local_batch,
                                   batches=counts[context.rank] or None)
        steps = min(counts)
    else:
        # Horovod: fewer files than workers: all read the same shuffled stream (same seed)
        # and each takes every N-th batch.
        total = batches_of(train_files, local_batch)
        dataset = training_dataset(config, train_files, transform, shuffle=True,
                                   seed=training.seed, batch_size=local_batch,
                                   batches=total or None)
        steps = total // size
        dataset = distributed.shard_dataset(dataset, context)
    steps = training.steps_per_epoch or steps
    if steps < 1:
        raise ValueError(f"data.train has too few rows for {size} workers with training."
                         f"batch_size {training.batch_size}: a worker gets no full batch")
    return dataset.repeat().take(steps), steps


def train_distributed(config: ExperimentConfig, output_dir: str | Path,
                      context: distributed.DistributedContext, *, overwrite: bool = False,
                      extra_callbacks: list | None = None,
                      hooks: Sequence[TrainingHook] = ()) -> TrainResult:
    """``train`` on every worker of a Horovod job: data-parallel dense layers, and replicated
    or (``training.shard_embeddings``) sharded tables (LiRank §4.1).

    ``training.batch_size`` stays the global batch: each worker reads ``batch_size / N``
    examples a step and the gradients are averaged, so one step equals a single-process step
    on ``batch_size`` examples and the §6.2 learning-rate recipe (keyed to the batch size)
    applies unchanged, without a world-size learning-rate factor. The resolved config,
    statistics, history, logs and ``model.keras`` (a plain single-process model) are written
    by rank 0 only, so ``lirank-tf evaluate`` and ``export`` read the run as any other."""
    training = config.training
    if training.batch_size % context.size:
        raise ValueError(f"training.batch_size ({training.batch_size}) must be a multiple of the "
                         f"number of workers ({context.size}): it is the global batch")
    if training.shard_embeddings and training.clipnorm:
        raise ValueError(f"training.clipnorm ({training.clipnorm}) must be 0 with training."
                         "shard_embeddings: each worker sees other table gradients, so a global "
                         "norm would differ between workers and the replicas would diverge")
    run = Run(output_dir, config, overwrite=overwrite)
    checkpoints = sharded_checkpoint_dir(run)
    keras.utils.set_random_seed(training.seed)
    train_files, valid_files = data_files(config)
    # Horovod: rank 0 alone owns the run directory (locks it, writes it); the others wait
    with run if context.is_chief else contextlib.nullcontext(run):
        if context.is_chief:
            check_files(config, train_files + valid_files)
            saved = run.resuming and run.statistics_path.exists()
            fitted = None if saved else fit_transformation(config, train_files)
            run.start(*((None, None) if saved else (fitted.statistics, fitted.vocabulary)))
            run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        context.barrier()
        transform = run.load_transformation(config)   # rank 0's statistics and vocabulary
        train_data, steps = worker_datasets(config, train_files, transform, context)
        # every worker validates on all the data: equal metrics, so equal early-stopping decisions
        valid_data = (training_dataset(config, valid_files, transform, shuffle=False)
                      if valid_files else None)

        # Horovod: gradient averaging; tables sharded over the workers with shard_embeddings.
        # Replicated tables: their row gradients are allgathered as (row ids, rows), never
        # densified (bytes grow with the batch's rows, not with the table size).
        plain = build_model(config)
        check_all(hooks, plain, config)     # fails now, not after training
        model = distributed.wrap_model(plain, context, sparse_as_dense=False,
                                       shard_embeddings=training.shard_embeddings)
        compile_model(model, config, steps)
        initial_epoch = 0
        if distributed.latest_checkpoint(checkpoints) is not None:
            # Horovod: every worker restores its table rows and rank 0's replicated state.
            initial_epoch = distributed.restore_checkpoint(model, checkpoints, context) // steps
        chief_callbacks = [keras.callbacks.TensorBoard(str(run.log_dir), write_graph=False,
                                                       profile_batch=0)]
        if not training.shard_embeddings:  # rank 0 holds all weights only with replicated tables
            chief_callbacks.append(keras.callbacks.ModelCheckpoint(
                str(run.checkpoint_dir / "epoch_{epoch:03d}.weights.h5"), save_weights_only=True))
        # Horovod: the progress display on rank 0 only
        display_verbose, display = fit_display(config, steps, chief=context.is_chief)
        validation = validation_callbacks(config, valid_data is not None)
        callbacks = [
            # Horovod: broadcast of rank 0's initial state, metric averaging, sharded checkpoints.
            *distributed.callbacks(context, checkpoint_dir=checkpoints),
            *distributed.chief_only(chief_callbacks, context),  # Horovod: logs on rank 0 only
            *validation,
            # Horovod: rank 0 records each epoch's (averaged) logs into the run's history
            *distributed.chief_only([run.history_callback()], context),
            *display,
            *(extra_callbacks or []),
        ]
        fit = model.fit(train_data, validation_data=valid_data, epochs=training.epochs,
                        initial_epoch=initial_epoch, callbacks=callbacks, shuffle=False,
                        # Horovod: progress bar on rank 0
                        verbose=display_verbose)
        history = {k: [float(v) for v in values] for k, values in fit.history.items()}
        stopping = stopping_record(validation)
        if training.shard_embeddings:
            # Horovod: every worker saves its rows (also after early stopping restored the best
            # weights); rank 0 reads them all back into a plain single-process model.
            latest = distributed.save_checkpoint(model, checkpoints, context=context, keep=2)
            final = build_model(config) if context.is_chief else distributed.unwrap(model)
            if context.is_chief:
                distributed.restore_checkpoint(final, latest, distributed.SingleProcessContext())
        else:
            final = distributed.unwrap(model)
        calibration = None
        if context.is_chief:  # Horovod: rank 0 alone writes the final model and the history
            # Horovod: rank 0 fits the Platt layers of the final (plain) model on all the
            # validation data; the other workers' models keep the identity (not saved)
            calibration = fit_platt_scaling(final, config, valid_data)
            run.save_model(final)
            finish_all(hooks, run.path, final, config, transform)  # of the final model
            # every epoch's logs, also those before a resume
            history = run.finish(stopping=stopping, calibration=calibration)
    context.barrier()
    return TrainResult(model=final, transform=transform, history=history, run=run,
                       stopping=stopping, calibration=calibration)
