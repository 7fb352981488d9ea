"""Evaluation plots: reliability diagram and training curves (matplotlib, no display needed).

Readable at a glance: a title and axis labels on every panel, one colour per task (training
solid, validation dashed), legends outside the data, whole-number epoch ticks, and the
reliability diagram's per-bin example counts and each task's ECE.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from lirank_tf.evaluation.metrics import expected_calibration_error, reliability_curve  # noqa: E402

_COLOURS = plt.get_cmap("tab10").colors


def plot_calibration(labels: dict[str, np.ndarray], predictions: dict[str, np.ndarray],
                     path: str | Path, num_bins: int = 20) -> Path:
    """Writes `calibration_figure` to ``path`` (PNG)."""
    return _save(calibration_figure(labels, predictions, num_bins), path)


def calibration_figure(labels: dict[str, np.ndarray], predictions: dict[str, np.ndarray],
                       num_bins: int = 20):
    """Reliability diagram (observed rate against mean predicted probability, one colour per
    task, ECE in the legend) over a bar chart of the examples per probability bin."""
    figure, (axis, counts_axis) = plt.subplots(
        2, 1, figsize=(7.5, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    width = 1.0 / num_bins / max(1, len(predictions))
    for index, task in enumerate(predictions):
        colour = _COLOURS[index % len(_COLOURS)]
        predicted, observed, counts = reliability_curve(labels[task], predictions[task], num_bins)
        ece = expected_calibration_error(labels[task], predictions[task])
        axis.plot(predicted, observed, marker="o", markersize=3, color=colour,
                  label=f"{task} (ECE {ece:.4f})")
        bins = np.minimum((predicted * num_bins).astype(int), num_bins - 1)
        counts_axis.bar(bins / num_bins + index * width, counts, width=width, align="edge",
                        color=colour, label=task)
    axis.set(ylabel="observed rate", xlim=(0, 1), ylim=(0, 1),
             title="Calibration (reliability diagram)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    counts_axis.set(xlabel="predicted probability (bin)", ylabel="examples per bin",
                    yscale="log")
    counts_axis.grid(alpha=0.3)
    return figure


def _metric_keys(history: dict[str, list[float]], metric: str) -> list[str]:
    """Training keys of ``metric`` in a Keras history: ``auc`` (single-task model) and
    ``<task>_auc`` (multi-task), without their ``val_`` twins."""
    return sorted(key for key in history
                  if not key.startswith("val_") and (key == metric or key.endswith(f"_{metric}")))


def plot_training_curves(history: dict[str, list[float]], path: str | Path) -> Path:
    """Writes `training_curves_figure` to ``path`` (PNG)."""
    return _save(training_curves_figure(history), path)


def training_curves_figure(history: dict[str, list[float]]):
    """Total loss and AUC per task by epoch: training solid, validation dashed, a colour per
    task."""
    figure, (loss_axis, auc_axis) = plt.subplots(1, 2, figsize=(13, 4.5))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for axis, keys, title, ylabel in ((loss_axis, ["loss"], "Total loss", "loss"),
                                      (auc_axis, _metric_keys(history, "auc"), "AUC per task",
                                       "AUC")):
        for index, key in enumerate(keys):
            colour = _COLOURS[index % len(_COLOURS)]
            task = key[: -len("_auc")] if key.endswith("_auc") else key
            for name, style, suffix in ((key, "-", "training"), (f"val_{key}", "--", "validation")):
                values = history.get(name)
                if values is not None and len(values) == len(epochs):
                    axis.plot(epochs, values, marker="o", linestyle=style, color=colour,
                              label=f"{task} ({suffix})")
        axis.set(xlabel="epoch", ylabel=ylabel, title=title)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return figure


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
