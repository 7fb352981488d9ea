"""Single-process (and, through ``lirank_tf.distributed``, Horovod) training with ``model.fit``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import tensorflow as tf

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.preflight import check_files
from lirank_tf.models import build_model
from lirank_tf.tasks import MultiTask
from lirank_tf.training.callbacks import ReduceLearningRateOnPlateau
from lirank_tf.training.optimizers import DenseSparseOptimizer, make_training_optimizer
from lirank_tf.training.pipeline import expand_globs, raw_dataset, training_dataset
from lirank_tf.training.run_directory import RunDirectory
from lirank_tf.transform import TransformationModel, fit_dense_statistics


@dataclasses.dataclass
class TrainResult:
    model: keras.Model
    transform: TransformationModel
    history: dict
    run: RunDirectory


def fit_transformation(config: ExperimentConfig, train_files: list[str]) -> TransformationModel:
    """The transformation model with dense statistics fitted on a sample of the training data."""
    sample = raw_dataset(config, train_files, shuffle=False)
    statistics = fit_dense_statistics(sample, config.features.dense)
    return TransformationModel(config.features, statistics)


def make_optimizer(config: ExperimentConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """LiRank §6.2: Adam (warm-up schedule) for dense and AdaGrad for embedding variables in
    one step, with global gradient clipping. With ``reduce_lr_patience`` the dense rate is a
    plain variable instead (no warm-up), scaled down on validation plateaus."""
    training = config.training
    if training.reduce_lr_patience:
        return DenseSparseOptimizer(keras.optimizers.Adam(training.learning_rate),
                                    keras.optimizers.Adagrad(training.sparse_learning_rate),
                                    global_clipnorm=training.clipnorm or None)
    return make_training_optimizer(
        training.learning_rate, max(1, steps_per_epoch * training.epochs),
        sparse_learning_rate=training.sparse_learning_rate,
        warmup_fraction=training.warmup_fraction, batch_size=training.batch_size,
        base_batch_size=training.base_batch_size, max_warmup_fraction=training.max_warmup_fraction,
        decay=training.decay, global_clipnorm=training.clipnorm or None)


def validation_callbacks(config: ExperimentConfig, has_validation: bool) -> list:
    """Early stopping and plateau learning-rate reduction on the validation metric."""
    training = config.training
    if not (training.early_stopping_patience or training.reduce_lr_patience):
        return []
    if not has_validation:
        raise ValueError("training.early_stopping_patience / reduce_lr_patience need validation "
                         "data: set data.valid")
    # Keras names the metrics of a single-output model without the output's name
    default = f"val_{config.tasks[0].name}_auc" if len(config.tasks) > 1 else "val_auc"
    monitor = training.monitor or default
    mode = "min" if "loss" in monitor else "max"
    callbacks = []
    if training.reduce_lr_patience:
        callbacks.append(ReduceLearningRateOnPlateau(monitor, mode, training.reduce_lr_factor,
                                                     training.reduce_lr_patience))
    if training.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=training.early_stopping_patience,
            restore_best_weights=True))
    return callbacks


def count_batches(dataset: tf.data.Dataset) -> int:
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        return cardinality
    return int(dataset.reduce(0, lambda count, _: count + 1))


def train(config: ExperimentConfig, output_dir: str | Path, *, overwrite: bool = False,
          extra_callbacks: list | None = None) -> TrainResult:
    """Trains ``config`` into ``output_dir``; resumes an interrupted run of the same config."""
    run = RunDirectory(output_dir)
    resuming = run.prepare(config, overwrite=overwrite)
    keras.utils.set_random_seed(config.training.seed)
    train_files = expand_globs(config.data.train, "data.train")
    valid_files = expand_globs(config.data.valid, "data.valid") if config.data.valid else []
    check_files(config, train_files + valid_files)
    if resuming and run.statistics_path.exists():
        transform = TransformationModel(config.features, run.load_statistics())
    else:
        transform = fit_transformation(config, train_files)
        run.save_statistics(transform.statistics)
    train_data = training_dataset(config, train_files, transform, shuffle=True, seed=config.training.seed)
    valid_data = training_dataset(config, valid_files, transform, shuffle=False) if valid_files else None
    steps = config.training.steps_per_epoch or count_batches(train_data)

    model = build_model(config)
    model.compile(optimizer=make_optimizer(config, steps), **MultiTask.from_config(config.tasks).compile_kwargs())
    run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run.backup_dir)),
        keras.callbacks.ModelCheckpoint(str(run.checkpoint_dir / "epoch_{epoch:03d}.weights.h5"),
                                        save_weights_only=True),
        keras.callbacks.TensorBoard(str(run.log_dir), write_graph=False, profile_batch=0),
        *validation_callbacks(config, valid_data is not None),
        *(extra_callbacks or []),
    ]
    fit = model.fit(train_data, validation_data=valid_data, epochs=config.training.epochs,
                    steps_per_epoch=config.training.steps_per_epoch or None,
                    callbacks=callbacks, verbose=config.training.verbose)
    history = {k: [float(v) for v in values] for k, values in fit.history.items()}
    run.history_path.write_text(json.dumps(history, indent=2))
    model.save(run.model_path)
    return TrainResult(model=model, transform=transform, history=history, run=run)
