"""Median pruning of ``lirank-tf tune`` trials, epoch by epoch, on the run's validation score.

`PruningCallback` reports each epoch's validation score to the trial as step ``epoch``
(1-based): the number the run's early stopping maximises (``training.monitor``, by default the
mean over tasks of val AUC - val log loss; `lirank_tf.training.callbacks.ValidationScore`), so
a trial is pruned, stopped and ranked by one number. It raises
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

from lirank_tf.training.callbacks import ValidationScore, validation_logs
from lirank_tf.training.progress import summarize_auc


def trial_score(config_monitor: str, tasks: Sequence[str]) -> ValidationScore:
    """The score a trial is pruned and ranked by: the run's ``training.monitor`` (``""`` is
    its default, ``auc_logloss``) over ``tasks``."""
    return ValidationScore(config_monitor or "auc_logloss", tasks)


def mean_validation_auc(logs: dict, tasks: Sequence[str]) -> float:
    """The mean over ``tasks`` of their validation AUC in an epoch's ``logs`` (``val_<task>_auc``,
    or a single-task model's ``val_auc``); ValueError when the logs hold none."""
    summary = summarize_auc(logs or {}, tasks, prefix="val_")
    if summary is None:
        raise ValueError(f"no validation AUC in the epoch logs {sorted(logs or {})}: tune needs "
                         "validation data (data.valid)")
    return summary[0]


class PruningCallback(keras.callbacks.Callback):
    """Reports the validation score of every epoch to an Optuna trial and stops a trial the
    pruner gives up on by raising ``optuna.TrialPruned`` (after the run recorded the epoch:
    put it after the run's history callback).

    Args:
        trial: an ``optuna.Trial`` (anything with ``report(value, step)`` and
            ``should_prune()``).
        score: `ValidationScore`, the run's score (`trial_score`).

    Attributes:
        reported: list of (step, value), what was reported, epoch by epoch.
        last_logs: dict, the validation metrics of the last epoch reported.
    """

    def __init__(self, trial: Any, score: ValidationScore) -> None:
        super().__init__()
        self.trial, self.score = trial, score
        self.reported: list[tuple[int, float]] = []
        self.last_logs: dict[str, float] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        try:
            value = self.score(logs)
        except ValueError as error:
            raise ValueError(f"{error} (tune needs validation data: data.valid)") from None
        self.trial.report(value, epoch + 1)
        self.reported.append((epoch + 1, value))
        self.last_logs = validation_logs(logs)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: validation score "
                                     f"({self.score.criterion}) {value:.4f} below the median "
                                     "of the other trials")
