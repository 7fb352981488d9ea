"""One ``lirank-tf tune`` trial: train a sampled config into its run directory and score it.

The objective (maximised) is the **mean validation AUC over the tasks at the epoch whose weights
the trained model keeps**: with early stopping (``training.early_stopping_patience``) the best
epoch by ``training.monitor`` (default val AUC - val log loss), whose weights are restored;
without it the last epoch. A pruned trial's value is its last reported epoch's mean validation
AUC (what Optuna records for pruned trials).

    >>> objective_value({"loss": [0.6, 0.5], "val_auc": [0.70, 0.72]}, None, ["click"])
    (0.72, 2)
    >>> objective_value({"loss": [0.6, 0.5, 0.5], "val_auc": [0.70, 0.74, 0.73]},
    ...                 {"best_epoch": 2, "best_metrics": {"val_auc": 0.74}}, ["click"])
    (0.74, 2)
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Sequence

import keras
import optuna
from optuna.trial import TrialState

from lirank_tf import workflow
from lirank_tf.config import ExperimentConfig
from lirank_tf.tune.pruning import PruningCallback, mean_validation_auc


@dataclasses.dataclass
class TrialOutcome:
    """How a trial ended: ``state`` COMPLETE or PRUNED, ``value`` (the objective; the last
    reported value when pruned), ``epochs`` trained, ``best_epoch`` (the epoch scored; the last
    one trained when pruned) and wall-clock ``seconds``."""

    state: TrialState
    value: float
    epochs: int
    best_epoch: int
    seconds: float


def objective_value(history: dict[str, list[float]], stopping: dict | None,
                    tasks: Sequence[str]) -> tuple[float, int]:
    """(mean validation AUC over ``tasks``, 1-based epoch) of the weights a finished run kept:
    the early-stopping record's best epoch (``stopping``), else the last epoch of ``history``."""
    if stopping and stopping.get("best_epoch"):
        return mean_validation_auc(stopping["best_metrics"], tasks), int(stopping["best_epoch"])
    epochs = len(history.get("loss", []))
    if not epochs:
        raise ValueError("the run trained no epoch: set training.epochs >= 1 to tune")
    last = {key: values[-1] for key, values in history.items() if len(values) == epochs}
    return mean_validation_auc(last, tasks), epochs


def train_trial(trial: Any, config: ExperimentConfig, run_dir: str | Path) -> TrialOutcome:
    """Trains ``config`` into ``run_dir`` (replacing what is there) with `workflow.train`,
    reporting each epoch to ``trial`` (`PruningCallback`); the trial's own output is silenced
    (``training.verbose: 0``, the run records every epoch in its ``history.json``). Each trial
    starts from a cleared Keras session."""
    tasks = [task.name for task in config.tasks]
    quiet = config.replace(training=config.training.replace(verbose=0))
    keras.backend.clear_session()   # a fresh Keras state per trial: no growth over a long search
    pruning = PruningCallback(trial, tasks)
    started = time.perf_counter()
    try:
        result = workflow.train(quiet, run_dir, overwrite=True, extra_callbacks=[pruning])
    except optuna.TrialPruned:
        step, value = pruning.reported[-1]
        return TrialOutcome(TrialState.PRUNED, value, epochs=step, best_epoch=step,
                            seconds=time.perf_counter() - started)
    value, epoch = objective_value(result.history, result.stopping, tasks)
    return TrialOutcome(TrialState.COMPLETE, value, epochs=len(result.history.get("loss", [])),
                        best_epoch=epoch, seconds=time.perf_counter() - started)
