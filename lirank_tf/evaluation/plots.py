"""Evaluation plots: reliability diagram and training curves (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lirank_tf.evaluation.metrics import reliability_curve  # noqa: E402


def plot_calibration(labels: dict[str, np.ndarray], predictions: dict[str, np.ndarray],
                     path: str | Path, num_bins: int = 20) -> Path:
    """Reliability diagram: observed rate against mean predicted probability, one line per task."""
    figure, axis = plt.subplots(figsize=(6, 6))
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    for task in predictions:
        predicted, observed, _ = reliability_curve(labels[task], predictions[task], num_bins)
        axis.plot(predicted, observed, marker="o", markersize=3, label=task)
    axis.set(xlabel="mean predicted probability", ylabel="observed rate", xlim=(0, 1), ylim=(0, 1),
             title="Calibration (reliability diagram)")
    axis.legend(fontsize=8)
    return _save(figure, path)


def plot_training_curves(history: dict[str, list[float]], path: str | Path) -> Path:
    """Total loss and per-task AUC by epoch, training and validation."""
    figure, (loss_axis, auc_axis) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for key in ("loss", "val_loss"):
        if key in history:
            loss_axis.plot(epochs, history[key], marker="o", label=key)
    loss_axis.set(xlabel="epoch", ylabel="loss", title="Total loss")
    loss_axis.legend(fontsize=8)
    for key, values in sorted(history.items()):
        if key.endswith("_auc"):
            auc_axis.plot(epochs, values, marker="o", linestyle="--" if key.startswith("val_") else "-",
                          label=key)
    auc_axis.set(xlabel="epoch", ylabel="AUC", title="AUC per task")
    auc_axis.legend(fontsize=7)
    return _save(figure, path)


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
