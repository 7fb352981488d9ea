"""Early stopping on the validation score (AUC and log loss together) and plateau reduction,
driven by scripted epoch logs: which epoch stops training, which weights are kept, and what
the run records about how it stopped."""

import keras
import numpy as np
import pytest

from lirank_tf.config import ConfigError, ExperimentConfig
from lirank_tf.training.callbacks import (ReduceLearningRateOnPlateau, ValidationEarlyStopping,
                                          ValidationScore, stopping_record)
from lirank_tf.training.trainer import validation_callbacks


class _Scripted(keras.callbacks.Callback):
    """Sets the model's single weight to the epoch number and writes the scripted logs."""

    def __init__(self, logs):
        super().__init__()
        self.logs = logs

    def on_epoch_end(self, epoch, logs=None):
        self.model.get_layer("w").kernel.assign([[float(epoch + 1)]])
        logs.update(self.logs[epoch])


def _fit(logs, stopper, epochs=None):
    """model.fit with ``stopper`` after the scripted callback; returns (epochs run, weight)."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, name="w")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x = np.zeros((4, 1), "float32")
    history = model.fit(x, x, epochs=epochs or len(logs), verbose=0,
                        callbacks=[_Scripted(logs), stopper])
    return len(history.history["loss"]), float(model.get_layer("w").kernel.numpy()[0, 0])


def _logs(aucs, loglosses):
    return [{"val_auc": a, "val_logloss": b} for a, b in zip(aucs, loglosses)]


# val AUC creeps up to the end while val log loss climbs from epoch 3: the held-out pattern of
# issue 22 (AUC-only early stopping never fires)
RISING_AUC_OVERFIT = _logs([0.90, 0.93, 0.940, 0.9405, 0.941, 0.9412, 0.9414, 0.9416],
                           [0.35, 0.30, 0.285, 0.300, 0.330, 0.360, 0.380, 0.400])


def test_combined_score_stops_when_log_loss_overfits_and_restores_the_best_epoch():
    stopper = ValidationEarlyStopping(ValidationScore("auc_logloss", ["click"]), patience=2)
    ran, weight = _fit(RISING_AUC_OVERFIT, stopper)
    # scores: 0.55, 0.63, 0.655, 0.6405, 0.611 -> best epoch 3, no gain in epochs 4 and 5
    assert ran == 5
    assert weight == 3.0                      # the weights at the end of epoch 3
    record = stopping_record([keras.callbacks.History(), stopper])
    assert record["stop_reason"] == "early_stopping"
    assert record["best_epoch"] == 3 and record["epochs_trained"] == 5
    assert record["best_metrics"] == {"val_auc": 0.94, "val_logloss": 0.285}
    assert record["best_score"] == pytest.approx(0.94 - 0.285)


def test_auc_only_runs_into_the_cap_on_the_same_history():
    stopper = ValidationEarlyStopping(ValidationScore("auc", ["click"]), patience=2, min_delta=0.0)
    ran, weight = _fit(RISING_AUC_OVERFIT, stopper)
    assert ran == len(RISING_AUC_OVERFIT) and weight == len(RISING_AUC_OVERFIT)
    assert stopper.record()["stop_reason"] == "epoch_cap"


def test_epoch_cap_restores_a_best_epoch_before_the_last():
    logs = _logs([0.70, 0.75, 0.74], [0.60, 0.55, 0.56])
    stopper = ValidationEarlyStopping(ValidationScore("auc_logloss", ["click"]), patience=5)
    ran, weight = _fit(logs, stopper)
    assert (ran, weight) == (3, 2.0)
    assert stopper.record()["stop_reason"] == "epoch_cap"
    assert stopper.record()["best_epoch"] == 2


def test_gains_below_min_delta_do_not_count():
    logs = _logs([0.700, 0.7004, 0.7008, 0.7012], [0.5, 0.5, 0.5, 0.5])
    stopper = ValidationEarlyStopping(ValidationScore("auc", ["click"]), patience=2, min_delta=1e-3)
    assert _fit(logs, stopper) == (3, 1.0)


def test_logloss_criterion_keeps_the_lowest_log_loss_epoch():
    stopper = ValidationEarlyStopping(ValidationScore("logloss", ["click"]), patience=2)
    assert _fit(RISING_AUC_OVERFIT, stopper) == (5, 3.0)


def test_multitask_score_is_the_mean_over_tasks():
    score = ValidationScore("auc_logloss", ["click", "like"])
    logs = {"val_click_auc": 0.8, "val_click_logloss": 0.4, "val_like_auc": 0.7,
            "val_like_logloss": 0.2, "val_loss": 9.0}
    assert score(logs) == pytest.approx(((0.8 - 0.4) + (0.7 - 0.2)) / 2)
    assert ValidationScore("val_click_logloss", ["click", "like"])(logs) == -0.4
    assert ValidationScore("val_like_auc", ["click", "like"])(logs) == 0.7


def test_a_missing_metric_and_a_bad_criterion_are_named():
    with pytest.raises(ValueError, match=r"\['val_logloss'\] are not in the epoch logs"):
        ValidationScore("auc_logloss", ["click"])({"val_auc": 0.7})
    with pytest.raises(ValueError, match="criterion must be one of"):
        ValidationScore("accuracy", ["click"])
    with pytest.raises(ValueError, match="patience must be an int >= 1, got 0"):
        ValidationEarlyStopping(ValidationScore("auc", ["click"]), patience=0)
    with pytest.raises(ValueError, match="min_delta must be a finite number >= 0"):
        ValidationEarlyStopping(ValidationScore("auc", ["click"]), min_delta=-1.0)


def test_plateau_reduction_halves_the_rate_after_patience_epochs_without_gain():
    logs = _logs([0.70, 0.75, 0.74, 0.745, 0.80], [0.5, 0.5, 0.5, 0.5, 0.5])
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, name="w")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    reduce = ReduceLearningRateOnPlateau(ValidationScore("auc", ["click"]), factor=0.5, patience=2)
    model.optimizer.learning_rate.assign(0.1)
    x = np.zeros((4, 1), "float32")
    model.fit(x, x, epochs=5, verbose=0, callbacks=[_Scripted(logs), reduce])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)   # once, after epoch 4


def _config(**training):
    return ExperimentConfig.from_dict({
        "name": "t", "tasks": [{"name": "click", "label": "click"}],
        "features": {"tables": [{"name": "u"}], "ids": [{"name": "u", "table": "u"}]},
        "training": training})


def test_trainer_builds_the_callbacks_of_the_config():
    stopper, = validation_callbacks(_config(early_stopping_patience=3), has_validation=True)
    assert isinstance(stopper, ValidationEarlyStopping)
    assert stopper.patience == 3 and stopper.score.keys == ["val_auc", "val_logloss"]
    reduce, stopper = validation_callbacks(
        _config(early_stopping_patience=2, reduce_lr_patience=1, monitor="val_auc"), True)
    assert isinstance(reduce, ReduceLearningRateOnPlateau) and stopper.score.keys == ["val_auc"]
    assert validation_callbacks(_config(), has_validation=False) == []
    with pytest.raises(ValueError, match="need validation data"):
        validation_callbacks(_config(early_stopping_patience=2), has_validation=False)


@pytest.mark.parametrize("training, message", [
    ({"monitor": "auc_log"}, r"training.monitor: expected one of \['', 'auc_logloss', 'auc', "
                             r"'logloss'\] or a 'val_...' key"),
    ({"early_stopping_patience": -1}, r"training.early_stopping_patience: expected an int >= 0"),
    ({"early_stopping_min_delta": -0.1}, r"training.early_stopping_min_delta: expected a number"),
    ({"reduce_lr_factor": 1.5}, r"training.reduce_lr_factor: expected a number in \(0, 1\)"),
    ({"epochs": -1}, r"training.epochs: expected an int >= 0, got -1"),
    ({"batch_size": 0}, r"training.batch_size: expected a positive int, got 0"),
])
def test_config_rejects_bad_stopping_keys(training, message):
    with pytest.raises(ConfigError, match=message):
        _config(**training)


def test_doctests():
    import doctest

    from lirank_tf.training import callbacks
    assert doctest.testmod(callbacks).failed == 0
