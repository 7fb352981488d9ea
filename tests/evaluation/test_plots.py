"""The evaluation plots show what they promise: training and validation AUC of every task (also a
single-task model's plain ``auc``), a colour per task, whole-number epochs, ECE and bin counts."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lirank_tf.evaluation.metrics import expected_calibration_error, reliability_curve
from lirank_tf.evaluation.plots import (calibration_figure, plot_calibration,
                                        plot_training_curves, training_curves_figure)


def _lines(axis):
    return {line.get_label(): line for line in axis.lines}


def test_single_task_history_keeps_training_auc():
    history = {"loss": [0.6, 0.5], "val_loss": [0.62, 0.55], "auc": [0.70, 0.75],
               "val_auc": [0.69, 0.72], "learning_rate_scaled": [1.0]}
    figure = training_curves_figure(history)
    loss_axis, auc_axis = figure.axes[:2]
    lines = _lines(auc_axis)
    assert set(lines) == {"auc (training)", "auc (validation)"}
    np.testing.assert_array_equal(lines["auc (training)"].get_ydata(), history["auc"])
    np.testing.assert_array_equal(lines["auc (validation)"].get_ydata(), history["val_auc"])
    assert lines["auc (validation)"].get_linestyle() == "--"
    assert set(_lines(loss_axis)) == {"loss (training)", "loss (validation)"}
    ticks = [t for t in auc_axis.get_xticks() if 1 <= t <= 2]
    assert all(float(t).is_integer() for t in ticks)
    plt.close(figure)


def test_multi_task_curves_get_one_colour_per_task():
    history = {"loss": [1.0, 0.9, 0.8], **{f"{prefix}{task}_auc": [0.6, 0.65, 0.7]
                                            for task in ("click", "like", "share")
                                            for prefix in ("", "val_")}}
    figure = training_curves_figure(history)
    lines = _lines(figure.axes[1])
    colours = {task: lines[f"{task} (training)"].get_color() for task in ("click", "like", "share")}
    assert len(set(colours.values())) == 3
    for task, colour in colours.items():
        assert lines[f"{task} (validation)"].get_color() == colour
    plt.close(figure)


def test_reliability_diagram_shows_ece_and_counts():
    rng = np.random.default_rng(0)
    probabilities = rng.uniform(0, 1, 5000)
    labels = (rng.uniform(0, 1, 5000) < probabilities ** 1.5).astype(np.float64)
    figure = calibration_figure({"click": labels}, {"click": probabilities})
    curve_axis, counts_axis = figure.axes
    ece = expected_calibration_error(labels, probabilities)
    assert f"click (ECE {ece:.4f})" in _lines(curve_axis)
    _, _, counts = reliability_curve(labels, probabilities, 20)
    heights = [patch.get_height() for patch in counts_axis.patches]
    np.testing.assert_array_equal(heights, counts)
    assert sum(heights) == 5000
    plt.close(figure)


@pytest.mark.parametrize("writer", ["calibration", "curves"])
def test_plots_are_written_as_png(tmp_path, writer):
    path = tmp_path / f"{writer}.png"
    if writer == "calibration":
        plot_calibration({"t": np.array([0.0, 1.0, 1.0])}, {"t": np.array([0.2, 0.7, 0.9])}, path)
    else:
        plot_training_curves({"loss": [0.5], "auc": [0.6]}, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
