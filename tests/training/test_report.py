"""The start banner and end summary of ``lirank-tf train``."""

import keras
import numpy as np

from lirank_tf.training.report import best_epoch, end_summary, parameter_counts, start_banner


def _model():
    inputs = keras.Input((3,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(4)(inputs))
    return keras.Model(inputs, keras.layers.Dense(1)(hidden), name="tiny")


def test_parameter_counts_match_the_weights():
    model = _model()
    # Dense(3->4): 12 + 4; batch norm: gamma, beta (trainable), mean, variance; Dense(4->1): 5
    assert parameter_counts(model) == (3 * 4 + 4 + 4 + 4 + 4 + 1, 4 + 4)
    assert parameter_counts(model)[0] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_start_banner_names_sizes_and_devices():
    text = start_banner(_model(), train_records=12_345, valid_records=678, steps_per_epoch=25,
                        batch_size=512, epochs=10, workers=2)
    assert "model tiny: 29 trainable parameters (+8 non-trainable)" in text
    assert "12,345 training records (25 steps of 512 per epoch, at most 10 epochs), " \
           "678 validation records" in text
    assert "CPU" in text and "workers: 2" in text


def test_best_epoch_minimises_losses_and_maximises_the_rest():
    history = {"loss": [0.7, 0.6, 0.5], "val_loss": [0.66, 0.61, 0.63],
               "val_auc": [0.70, 0.72, 0.74], "learning_rate_scaled": [1.0]}
    assert best_epoch(history, "val_loss") == (2, {"val_loss": 0.61, "val_auc": 0.72})
    assert best_epoch(history, "val_auc") == (3, {"val_loss": 0.63, "val_auc": 0.74})
    assert best_epoch(history, "val_click_auc") is None


def test_end_summary(tmp_path):
    history = {"loss": [0.7, 0.6, 0.55], "val_loss": [0.66, 0.61, 0.63],
               "val_auc": [0.70, 0.72, 0.74]}
    stopping = {"stop_reason": "early_stopping", "best_epoch": 2, "criterion": "auc_logloss",
                "best_metrics": {"val_loss": 0.61, "val_auc": 0.72}}
    text = end_summary(history, tmp_path, epochs=10, seconds=12.3, stopping=stopping)
    lines = text.splitlines()
    assert lines[0] == ("trained 3 epochs in 12s: early stopping: the validation score "
                        "(auc_logloss) did not improve for training.early_stopping_patience "
                        "epochs")
    assert lines[1] == ("best epoch 2 by the validation score (auc_logloss); its weights are "
                        "the model's: val_loss 0.6100  val_auc 0.7200")
    assert f"tensorboard --logdir {tmp_path / 'logs'}" in text
    capped = end_summary(history, tmp_path, epochs=3).splitlines()
    assert capped[0] == "trained 3 epochs: reached the epoch cap (training.epochs = 3)"
    assert capped[1] == "best epoch 2 by val_loss: val_loss 0.6100  val_auc 0.7200"
