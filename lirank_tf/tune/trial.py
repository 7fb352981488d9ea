"""One ``lirank-tf tune`` trial: train a sampled config into its run directory and score it.

The objective (maximised) is the **run's own validation score at the epoch whose weights the
trained model keeps**: the score its early stopping maximises (``training.monitor``, by default
the mean over tasks of val AUC - val log loss; `lirank_tf.training.callbacks.ValidationScore`),
at the best epoch by that score when early stopping is on (its weights are restored), else at
the last epoch; with ``model.platt_scaling`` the log loss in it is the one after the Platt
fit, the model the run saves. A trial is thus ranked by the number that picked its weights:
ranking by AUC alone while training stops on AUC - log loss let the search pick configs whose
probabilities had drifted (MovieLens-100K, global split: +0.008 val AUC over the untouched config, +0.020
test log loss). ``training.monitor: auc`` tunes for AUC alone. The kept epoch's mean val AUC
and log loss are recorded beside the score. A pruned trial's value is its last reported
epoch's score (what Optuna records for pruned trials).

    >>> from lirank_tf.tune.pruning import trial_score
    >>> score = trial_score("", ["click"])
    >>> history = {"loss": [0.6, 0.5], "val_auc": [0.70, 0.72], "val_logloss": [0.60, 0.65]}
    >>> kept = kept_epoch(history, None, score)
    >>> kept.epoch, round(kept.value, 4), kept.auc, kept.logloss
    (2, 0.07, 0.72, 0.65)
    >>> stopping = {"best_epoch": 1, "best_metrics": {"val_auc": 0.70, "val_logloss": 0.60}}
    >>> kept = kept_epoch(history, stopping, score)
    >>> kept.epoch, round(kept.value, 4)
    (1, 0.1)
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import keras
import optuna
from optuna.trial import TrialState

from lirank_tf import workflow
from lirank_tf.config import ExperimentConfig
from lirank_tf.training.callbacks import ValidationScore, validation_prefix
from lirank_tf.tune.pruning import PruningCallback, mean_validation_auc, trial_score


@dataclasses.dataclass
class KeptEpoch:
    """The epoch a trial is scored at: 1-based ``epoch``, its score ``value`` and its mean
    validation ``auc`` and ``logloss`` over the tasks (NaN when the logs hold no log loss)."""

    epoch: int
    value: float
    auc: float
    logloss: float


@dataclasses.dataclass
class TrialOutcome:
    """How a trial ended: ``state`` COMPLETE or PRUNED, ``value`` (the objective; the last
    reported value when pruned), ``epochs`` trained, ``best_epoch`` (the epoch scored; the last
    one trained when pruned), its mean ``val_auc`` and ``val_logloss``, and wall-clock
    ``seconds``."""

    state: TrialState
    value: float
    epochs: int
    best_epoch: int
    seconds: float
    val_auc: float = float("nan")
    val_logloss: float = float("nan")


def _scored(logs: dict, epoch: int, score: ValidationScore) -> KeptEpoch:
    tasks = score.tasks
    logloss = ValidationScore("logloss", tasks)
    return KeptEpoch(epoch, score(logs), mean_validation_auc(logs, tasks),
                     -logloss(logs) if all(key in logs for key in logloss.keys)
                     else float("nan"))


def epoch_logs(history: dict[str, list[float]], epoch: int) -> dict[str, float]:
    """The logs of 1-based ``epoch`` from a run's ``history`` (per-epoch lists)."""
    epochs = len(history.get("loss", []))
    return {key: values[epoch - 1] for key, values in history.items()
            if isinstance(values, list) and len(values) == epochs}


def calibrated_logs(logs: dict, calibration: dict | None, tasks: list[str]) -> dict:
    """``logs`` with each task's validation log loss replaced by the one after the run's Platt
    scaling (``calibration``, `lirank_tf.training.platt`: what the saved model scores) where
    the fit converged; the logs as they are otherwise."""
    if not calibration:
        return logs
    logs = dict(logs)
    for task in tasks:
        record = calibration.get(task) or {}
        if record.get("converged"):
            logs[validation_prefix(task, tasks) + "logloss"] = float(record["logloss_after"])
    return logs


def kept_epoch(history: dict[str, list[float]], stopping: dict | None,
               score: ValidationScore, calibration: dict | None = None) -> KeptEpoch:
    """The epoch whose weights a finished run kept, scored: the early-stopping record's best
    epoch (``stopping``), else the last epoch of ``history``; with the run's Platt scaling
    (``calibration``) its validation log loss is the calibrated model's (`calibrated_logs`)."""
    if stopping and stopping.get("best_epoch"):
        epoch, logs = int(stopping["best_epoch"]), stopping["best_metrics"]
    else:
        epoch = len(history.get("loss", []))
        if not epoch:
            raise ValueError("the run trained no epoch: set training.epochs >= 1 to tune")
        logs = epoch_logs(history, epoch)
    return _scored(calibrated_logs(logs, calibration, score.tasks), epoch, score)


def train_trial(trial: Any, config: ExperimentConfig, run_dir: str | Path) -> TrialOutcome:
    """Trains ``config`` into ``run_dir`` (replacing what is there) with `workflow.train`,
    reporting each epoch to ``trial`` (`PruningCallback`); the trial's own output is silenced
    (``training.verbose: 0``, the run records every epoch in its ``history.json``). Each trial
    starts from a cleared Keras session."""
    score = trial_score(config.training.monitor, [task.name for task in config.tasks])
    quiet = config.replace(training=config.training.replace(verbose=0))
    keras.backend.clear_session()   # a fresh Keras state per trial: no growth over a long search
    pruning = PruningCallback(trial, score)
    started = time.perf_counter()
    try:
        result = workflow.train(quiet, run_dir, overwrite=True, extra_callbacks=[pruning])
    except optuna.TrialPruned:
        step = pruning.reported[-1][0]
        last = _scored(pruning.last_logs, step, score)
        return TrialOutcome(TrialState.PRUNED, last.value, epochs=step, best_epoch=step,
                            seconds=time.perf_counter() - started, val_auc=last.auc,
                            val_logloss=last.logloss)
    kept = kept_epoch(result.history, result.stopping, score, result.calibration)
    return TrialOutcome(TrialState.COMPLETE, kept.value,
                        epochs=len(result.history.get("loss", [])), best_epoch=kept.epoch,
                        seconds=time.perf_counter() - started, val_auc=kept.auc,
                        val_logloss=kept.logloss)
