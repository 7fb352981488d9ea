"""Median pruning of ``lirank-tf tune`` trials, epoch by epoch, on the mean validation AUC.

`PruningCallback` reports each epoch's mean validation AUC over the tasks
(`mean_validation_auc`) to the trial as step ``epoch`` (1-based) and raises
``optuna.TrialPruned`` out of ``model.fit`` when ``trial.should_prune()`` says so (the study's
``MedianPruner``: this trial's best value so far is below the median of the other trials at the
same epoch). The trial's run directory is kept: its ``history.json`` holds the epochs trained,
and ``run.json`` says ``failed`` with ``TrialPruned: ...`` as the error (the run has no
``model.keras``).

    >>> mean_validation_auc({"val_click_auc": 0.70, "val_like_auc": 0.80}, ["click", "like"])
    0.75
    >>> mean_validation_auc({"val_auc": 0.7}, ["click"])
    0.7
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import optuna

from lirank_tf.training.progress import summarize_auc


def mean_validation_auc(logs: dict, tasks: Sequence[str]) -> float:
    """The mean over ``tasks`` of their validation AUC in an epoch's ``logs`` (``val_<task>_auc``,
    or a single-task model's ``val_auc``); ValueError when the logs hold none."""
    summary = summarize_auc(logs or {}, tasks, prefix="val_")
    if summary is None:
        raise ValueError(f"no validation AUC in the epoch logs {sorted(logs or {})}: tune needs "
                         "validation data (data.valid)")
    return summary[0]


class PruningCallback(keras.callbacks.Callback):
    """Reports the mean validation AUC of every epoch to an Optuna trial and stops a trial the
    pruner gives up on by raising ``optuna.TrialPruned`` (after the run recorded the epoch:
    put it after the run's history callback).

    Args:
        trial: an ``optuna.Trial`` (anything with ``report(value, step)`` and
            ``should_prune()``).
        tasks: list of str, the config's task names.

    Attributes:
        reported: list of (step, value), what was reported, epoch by epoch.
    """

    def __init__(self, trial: Any, tasks: Sequence[str]) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("tasks: at least one task name is required")
        self.trial, self.tasks = trial, list(tasks)
        self.reported: list[tuple[int, float]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = mean_validation_auc(logs or {}, self.tasks)
        self.trial.report(value, epoch + 1)
        self.reported.append((epoch + 1, value))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: mean val AUC {value:.4f} "
                                     "below the median of the other trials")
