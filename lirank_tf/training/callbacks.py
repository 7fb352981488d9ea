"""Training callbacks driven by validation metrics: early stopping on a score that watches AUC
and log loss together, and plateau learning-rate reduction.

The score of an epoch (`ValidationScore`, maximised) is by default

    score = mean over tasks of (val AUC - val log loss)

FuxiCTR's default monitor (``{"AUC": 1, "logloss": -1}``). Watching AUC alone lets a model that
still gains ranking while its probabilities overfit train on to the epoch cap (val AUC +0.0015
while val log loss climbs 0.29 -> 0.40); watching log loss alone stops at the best calibrated
epoch, which may rank worse. The log loss is the ``logloss`` metric (`lirank_tf.tasks`), not
``val_loss``, which also holds regularisation penalties.
"""

from __future__ import annotations

import math
from typing import Sequence

import keras

CRITERIA = ("auc_logloss", "auc", "logloss")


def validation_prefix(task: str, tasks: Sequence[str]) -> str:
    """The prefix of ``task``'s validation metrics in the epoch logs: ``val_<task>_``, or
    ``val_`` for a single-task model, whose logs carry no task name."""
    return "val_" if len(tasks) == 1 else f"val_{task}_"


def validation_logs(logs: dict | None) -> dict[str, float]:
    """The validation metrics (``val_...``) of an epoch's ``logs``, as floats."""
    return {key: float(value) for key, value in (logs or {}).items() if key.startswith("val_")}


class ValidationScore:
    """The number early stopping and plateau reduction maximise, from an epoch's logs.

    Args:
        criterion: ``"auc_logloss"`` (mean over ``tasks`` of val AUC - val log loss),
            ``"auc"``, ``"logloss"`` (its negative is maximised), or a key of the epoch logs
            (e.g. ``"val_click_auc"``; negated when it names a loss).
        tasks: list of str, the task names; a single-task model's logs carry no task name.

    Example:
        >>> score = ValidationScore("auc_logloss", ["click"])
        >>> round(score({"val_auc": 0.75, "val_logloss": 0.5}), 6), score.keys
        (0.25, ['val_auc', 'val_logloss'])
    """

    def __init__(self, criterion: str, tasks: Sequence[str]) -> None:
        if not tasks:
            raise ValueError("tasks: at least one task name is required")
        prefixes = [validation_prefix(task, tasks) for task in tasks]
        self.criterion, self.tasks = criterion, list(tasks)
        if criterion in CRITERIA:
            metrics = {"auc_logloss": [("auc", 1.0), ("logloss", -1.0)], "auc": [("auc", 1.0)],
                       "logloss": [("logloss", -1.0)]}[criterion]
            self.terms = [(p + metric, sign / len(prefixes)) for p in prefixes
                          for metric, sign in metrics]
        elif criterion.startswith("val_"):
            self.terms = [(criterion, -1.0 if "loss" in criterion else 1.0)]
        else:
            raise ValueError(f"criterion must be one of {CRITERIA} or a 'val_...' key of the "
                             f"epoch logs, got {criterion!r}")
        self.keys = [key for key, _ in self.terms]

    def __call__(self, logs: dict | None) -> float:
        logs = logs or {}
        missing = [key for key in self.keys if key not in logs]
        if missing:
            raise ValueError(f"validation metric(s) {missing} are not in the epoch logs "
                             f"{sorted(logs)}; is there validation data?")
        return sum(weight * float(logs[key]) for key, weight in self.terms)


class ValidationEarlyStopping(keras.callbacks.Callback):
    """Stops training when the validation score has not improved by more than ``min_delta``
    for ``patience`` epochs, and ends it with the weights of the best epoch.

    After training, ``best_epoch`` (1-based), ``best_score``, ``best_logs`` (that epoch's
    validation metrics), ``epochs_trained`` and ``stop_reason`` (``"early_stopping"`` or
    ``"epoch_cap"``) say how the run ended; `record` gives them as one dict for the run's
    history. The best weights are restored in both cases: at the cap, the last epoch is not
    necessarily the best. Under Horovod every worker sees the same (averaged) validation
    metrics, so all take the same decisions and each restores its own table shards.

    Args:
        score: `ValidationScore`, the number to maximise.
        patience: int >= 1, default 2. Epochs without improvement before stopping.
        min_delta: float >= 0, default 1e-4. Smaller gains do not count as improvement.
        restore_best_weights: bool, default True.
    """

    def __init__(self, score: ValidationScore, patience: int = 2, min_delta: float = 1e-4,
                 restore_best_weights: bool = True) -> None:
        super().__init__()
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an int >= 1, got {patience!r}")
        if not (isinstance(min_delta, (int, float)) and math.isfinite(min_delta)
                and min_delta >= 0):
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        self.score, self.patience, self.min_delta = score, patience, float(min_delta)
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self.best_score: float | None = None
        self.best_epoch = 0
        self.best_logs: dict[str, float] = {}
        self.best_weights: list | None = None
        self.epochs_trained = 0
        self.wait = 0
        self.stop_reason = ""

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = self.score(logs)
        self.epochs_trained = epoch + 1
        if self.best_score is None or value > self.best_score + self.min_delta:
            self.best_score, self.best_epoch, self.wait = value, epoch + 1, 0
            self.best_logs = validation_logs(logs)
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.model.stop_training = True
            self.stop_reason = "early_stopping"

    def on_train_end(self, logs: dict | None = None) -> None:
        if not self.stop_reason and self.epochs_trained:
            self.stop_reason = "epoch_cap"
        if self.restore_best_weights and self.best_weights is not None \
                and self.best_epoch != self.epochs_trained:
            self.model.set_weights(self.best_weights)

    def record(self) -> dict:
        """``{"stop_reason", "best_epoch", "epochs_trained", "criterion", "best_score",
        "best_metrics"}`` of the finished run (for ``history.json`` / the end summary)."""
        return {"stop_reason": self.stop_reason, "best_epoch": self.best_epoch,
                "epochs_trained": self.epochs_trained, "criterion": self.score.criterion,
                "best_score": self.best_score, "best_metrics": dict(self.best_logs)}


def stopping_record(callbacks: Sequence[keras.callbacks.Callback]) -> dict | None:
    """The `ValidationEarlyStopping.record` of the first early-stopping callback in
    ``callbacks`` (None without one): how a finished ``model.fit`` ended."""
    for callback in callbacks:
        if isinstance(callback, ValidationEarlyStopping):
            return callback.record()
    return None


class ReduceLearningRateOnPlateau(keras.callbacks.Callback):
    """Multiplies the learning rate of every sub-optimizer whose rate is a variable (not a
    schedule) by ``factor`` after ``patience`` epochs without improvement of the validation
    score by more than ``min_delta``.

    Works with ``DenseSparseOptimizer`` (Adam + AdaGrad in one step), which Keras's own
    ``ReduceLROnPlateau`` cannot scale.

    Args:
        score: `ValidationScore`, the number to maximise.
        factor: float in (0, 1), default 0.5.
        patience: int >= 1, default 1.
        min_learning_rate: float >= 0, default 1e-6.
        min_delta: float >= 0, default 1e-4.
    """

    def __init__(self, score: ValidationScore, factor: float = 0.5, patience: int = 1,
                 min_learning_rate: float = 1e-6, min_delta: float = 1e-4) -> None:
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor!r}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
        self.score, self.factor, self.patience = score, factor, patience
        self.min_learning_rate, self.min_delta = min_learning_rate, float(min_delta)
        self.best: float | None = None
        self.wait = 0

    def _improved(self, value: float) -> bool:
        return self.best is None or value > self.best + self.min_delta

    def _optimizers(self) -> list:
        optimizer = self.model.optimizer
        return list(getattr(optimizer, "optimizers", None) or [optimizer])

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = self.score(logs)
        if self._improved(value):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        self.wait = 0
        for optimizer in self._optimizers():
            if isinstance(optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
                continue
            rate = max(float(optimizer.learning_rate) * self.factor, self.min_learning_rate)
            optimizer.learning_rate.assign(rate)
        if logs is not None:
            logs["learning_rate_scaled"] = 1.0
