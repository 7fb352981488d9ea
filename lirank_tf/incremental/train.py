"""Incremental training end to end (LiRank §3.6, §5.1): warm start + Fisher regulariser.

    cold start:   lirank-tf train --config day0-20.yaml --output-dir runs/cold
                  (train_incremental computes its Fisher H0 on first use: runs/cold/fisher.npz)
    day t:        train_incremental(config_day_t, "runs/day_t", previous_run_dir="runs/day_t-1",
                                    cold_start_run_dir="runs/cold", cold_weight=alpha,
                                    forgetting_factor=lambda_f)

A run trained this way holds, besides the usual run directory (config, statistics, model,
history, checkpoints), ``fisher.npz`` (diag Fisher of its own data at its final weights, the
H_{t-1} of the next day) and ``incremental.json`` (the runs it started from, alpha, lambda_f,
training and Fisher wall-clock seconds). The transformation statistics are those of the
previous run, so the warm-started weights see identically normalised inputs.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.preflight import check_files
from lirank_tf.explore.run_posterior import make_explorer, update_run_posterior
from lirank_tf.incremental.fisher import (DEFAULT_FISHER_BATCH_SIZE, FisherInformation,
                                          empirical_fisher)
from lirank_tf.incremental.regularizer import (attach_fisher_penalty, check_cold_weight,
                                               check_forgetting_factor, detach_fisher_penalty,
                                               fisher_penalty, incremental_anchors,
                                               model_weights, set_warm_start_weights)
from lirank_tf.models import build_model
from lirank_tf.data.files import expand_globs
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.training.atomic import write_json_atomic
from lirank_tf.training.callbacks import stopping_record
from lirank_tf.training.compile import compile_model, fit_callbacks, fit_display
from lirank_tf.training.run import Run, load_run
from lirank_tf.training.trainer import (TrainResult, fit_datasets, fit_platt_scaling,
                                        validation_callbacks)
from lirank_tf.transform import TransformationModel

FISHER_FILE = "fisher.npz"
INCREMENTAL_FILE = "incremental.json"


@dataclasses.dataclass(kw_only=True)
class IncrementalTrainResult(TrainResult):
    fisher: FisherInformation | None
    train_seconds: float
    fisher_seconds: float
    metadata: dict


def compute_run_fisher(run_dir: str | Path, *, batch_size: int = DEFAULT_FISHER_BATCH_SIZE,
                       max_examples: int | None = None,
                       overwrite: bool = False) -> FisherInformation:
    """The diagonal empirical Fisher of a finished run over its own training data, saved as
    ``RUN/fisher.npz`` (loaded from there when it exists, unless ``overwrite``)."""
    path = Path(run_dir) / FISHER_FILE
    if path.exists() and not overwrite:
        return FisherInformation.load(path)
    config, transform, model = load_run(run_dir)
    fisher = _fisher_of(model, config, transform, batch_size, max_examples)
    fisher.save(path)
    return fisher


def _fisher_of(model: keras.Model, config: ExperimentConfig, transform: TransformationModel,
               batch_size: int, max_examples: int | None) -> FisherInformation:
    files = expand_globs(config.data.train, "data.train")
    data = training_dataset(config, files, transform, shuffle=False, batch_size=batch_size)
    return empirical_fisher(model, data, config.tasks, max_examples=max_examples)


def _cold_start_of(previous_run_dir: Path) -> Path:
    """The cold-start run a run descends from (itself when it was a cold start)."""
    metadata = previous_run_dir / INCREMENTAL_FILE
    if metadata.exists():
        return Path(json.loads(metadata.read_text())["cold_start_run"])
    return previous_run_dir


def _differences(new, old, prefix: str) -> list[str]:
    """``prefix.key: old -> new`` for each leaf where two config dicts/lists differ."""
    if isinstance(new, dict) and isinstance(old, dict):
        return [line for key in sorted(set(new) | set(old), key=str)
                for line in _differences(new.get(key), old.get(key), f"{prefix}.{key}")]
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old) \
            and any(isinstance(v, (dict, list)) for v in new):
        return [line for i, (a, b) in enumerate(zip(new, old))
                for line in _differences(a, b, f"{prefix}[{i}]")]
    return [] if new == old else [f"{prefix}: {old!r} -> {new!r}"]


def _check_same_architecture(config: ExperimentConfig, previous: ExperimentConfig,
                             where: Path, role: str = "previous") -> None:
    for section in ("features", "tasks", "model"):
        if getattr(config, section) != getattr(previous, section):
            new, old = (c.to_dict()[section] for c in (config, previous))
            changed = _differences(new, old, f"config.{section}") or [f"config.{section}"]
            shown = "; ".join(changed[:3]) + (f"; ... ({len(changed)} in all)"
                                               if len(changed) > 3 else "")
            raise ValueError(f"config.{section} differs from the {role} run's ({where}): "
                             f"{shown}. An incremental run must keep the features, tasks and "
                             "model of the runs it starts from")


def train_incremental(config: ExperimentConfig, output_dir: str | Path,
                      previous_run_dir: str | Path, cold_start_run_dir: str | Path | None = None,
                      cold_weight: float = 0.5, forgetting_factor: float = 1.0, *,
                      overwrite: bool = False, fisher_batch_size: int = DEFAULT_FISHER_BATCH_SIZE,
                      fisher_max_examples: int | None = None, save_fisher: bool = True,
                      extra_callbacks: list | None = None) -> IncrementalTrainResult:
    """Trains ``config`` (its ``data.train`` is the new period, e.g. one day) incrementally.

    Args:
        config: the experiment; features, tasks and model must equal the previous run's.
        output_dir: the new run directory.
        previous_run_dir: the run of the previous period (w_{t-1}).
        cold_start_run_dir: the cold-start run (w0); default: the previous run's cold start
            (the previous run itself when it was a cold start).
        cold_weight: float in [0, 1], default 0.5. alpha of eq. 3.
        forgetting_factor: float >= 0, default 1.0. lambda_f of eq. 3; 0 with cold_weight 0 is
            a plain warm start.
        overwrite: replace an existing run in ``output_dir``.
        fisher_batch_size: int, default 8. Examples per vectorised Fisher batch.
        fisher_max_examples: int or None (default: all). Cap on the examples of each Fisher.
        save_fisher: bool, default True. Compute and save this run's Fisher (the next day's
            H_{t-1}); False for a chain of plain warm starts that never uses it.
        extra_callbacks: list of Keras callbacks, default None. Added to ``model.fit``.

    Returns: an `IncrementalTrainResult` (the trained model, its Fisher, timings, metadata).
    """
    check_cold_weight(cold_weight)
    check_forgetting_factor(forgetting_factor)
    previous_dir = Path(previous_run_dir).resolve()
    cold_dir = (Path(cold_start_run_dir).resolve() if cold_start_run_dir
                else _cold_start_of(previous_dir))
    with Run(output_dir, config, overwrite=overwrite) as run:   # locked; a finished run refused
        previous_config, previous_transform, previous_model = load_run(previous_dir)
        cold_config, _, cold_model = load_run(cold_dir)
        _check_same_architecture(config, previous_config, previous_dir)
        _check_same_architecture(config, cold_config, cold_dir, "cold-start")
        anchors = []
        if forgetting_factor:               # lambda_f = 0: no regulariser, no Fisher needed
            previous_fisher = compute_run_fisher(previous_dir, batch_size=fisher_batch_size,
                                                 max_examples=fisher_max_examples)
            cold_fisher = compute_run_fisher(cold_dir, batch_size=fisher_batch_size,
                                             max_examples=fisher_max_examples)
            anchors = incremental_anchors(model_weights(cold_model), cold_fisher,
                                          model_weights(previous_model), previous_fisher,
                                          cold_weight, forgetting_factor)

        keras.utils.set_random_seed(config.training.seed)
        # the previous run's statistics and min-count vocabulary, not refitted on the new
        # period: the warm-started rows keep meaning the same ids (a rare id of the cold
        # start stays on the rare row even if the new period sees it often)
        transform = TransformationModel(config.features, previous_transform.statistics,
                                        vocabulary=previous_transform.vocabulary)
        train_files = expand_globs(config.data.train, "data.train")
        valid_files = expand_globs(config.data.valid, "data.valid") if config.data.valid else []
        check_files(config, train_files + valid_files)
        train_data, valid_data, steps = fit_datasets(config, train_files, valid_files, transform)

        model = build_model(config)
        if config.explore.enabled:
            make_explorer(model, config)    # fails now, not after training, for MMoE / PLE heads
        set_warm_start_weights(model, model_weights(cold_model), model_weights(previous_model),
                               cold_weight)
        initial_penalty = fisher_penalty(model, anchors)
        attach_fisher_penalty(model, anchors)
        compile_model(model, config, steps)
        validation = validation_callbacks(config, valid_data is not None)
        run.start(transform.statistics, transform.vocabulary)  # the checks passed: write the run
        started = time.perf_counter()
        try:
            # the run's backup restores the state of an interrupted run over the warm start
            verbose, display = fit_display(config, steps)
            model.fit(train_data, validation_data=valid_data, epochs=config.training.epochs,
                      steps_per_epoch=config.training.steps_per_epoch or None,
                      shuffle=False,        # the reader shuffles
                      callbacks=fit_callbacks(run, validation=validation,
                                              extra=[*display, *(extra_callbacks or [])]),
                      verbose=verbose)
        finally:
            detach_fisher_penalty(model)
        train_seconds = time.perf_counter() - started
        # model.platt_scaling: refitted on this period's validation files
        calibration = fit_platt_scaling(model, config, valid_data)
        run.save_model(model)
        if config.explore.enabled:  # LiRank §3.8: the previous posterior carried over, updated
            update_run_posterior(run.path, model, config, transform,
                                 previous_run_dir=previous_dir)

        started = time.perf_counter()
        fisher = None
        if save_fisher:
            fisher = _fisher_of(model, config, transform, fisher_batch_size, fisher_max_examples)
            fisher.save(run.path / FISHER_FILE)
        fisher_seconds = time.perf_counter() - started
        metadata = {
            "previous_run": str(previous_dir), "cold_start_run": str(cold_dir),
            "cold_weight": float(cold_weight), "forgetting_factor": float(forgetting_factor),
            "initial_penalty": initial_penalty, "final_penalty": fisher_penalty(model, anchors),
            "train_seconds": train_seconds, "fisher_seconds": fisher_seconds,
            "fisher_examples": fisher.num_examples if fisher is not None else 0,
            "fisher_method": "diagonal empirical Fisher: mean squared per-example gradients, "
                             "vectorised with tf.vectorized_map over one batched forward pass",
        }
        write_json_atomic(run.path / INCREMENTAL_FILE, metadata)
        stopping = stopping_record(validation)
        history = run.finish(stopping=stopping, calibration=calibration)
    return IncrementalTrainResult(model=model, transform=transform, history=history, run=run,
                                  stopping=stopping, calibration=calibration, fisher=fisher,
                                  train_seconds=train_seconds, fisher_seconds=fisher_seconds,
                                  metadata=metadata)
