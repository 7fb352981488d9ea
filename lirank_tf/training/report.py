"""What ``lirank-tf train`` says before and after ``model.fit``: a start banner (model, parameter
count, data sizes, devices, workers) and an end summary (best epoch and its validation metrics,
why training stopped, where everything is, the TensorBoard command).

    >>> best_epoch({"val_auc": [0.70, 0.74, 0.73], "val_loss": [0.5, 0.45, 0.47]}, "val_auc")
    (2, {'val_auc': 0.74, 'val_loss': 0.45})
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import keras
import tensorflow as tf


def parameter_counts(model: keras.Model) -> tuple[int, int]:
    """(trainable, non-trainable) parameters of a built ``model``."""
    trainable = sum(int(tf.size(w)) for w in model.trainable_weights)
    frozen = sum(int(tf.size(w)) for w in model.non_trainable_weights)
    return trainable, frozen


def model_summary(model: keras.Model) -> str:
    """Keras' layer table of ``model`` (built), as text."""
    out = io.StringIO()
    model.summary(print_fn=lambda line, **_: out.write(line + "\n"), line_length=100)
    return out.getvalue().rstrip()


def start_banner(model: keras.Model, *, train_records: int, valid_records: int,
                 steps_per_epoch: int, batch_size: int, epochs: int, workers: int = 1,
                 summary: bool = False) -> str:
    """The lines printed before training starts."""
    trainable, frozen = parameter_counts(model)
    devices = ", ".join(d.name.replace("/device:", "") for d in tf.config.list_logical_devices()
                        if d.device_type in ("CPU", "GPU"))
    lines = [f"model {model.name}: {trainable:,} trainable parameters"
             + (f" (+{frozen:,} non-trainable)" if frozen else ""),
             f"data: {train_records:,} training records ({steps_per_epoch:,} steps of "
             f"{batch_size:,} per epoch, at most {epochs} epochs), "
             f"{valid_records:,} validation records",
             f"devices: {devices or 'CPU'}; workers: {workers}"]
    if summary:
        lines.insert(0, model_summary(model))
    return "\n".join(lines)


def best_epoch(history: dict[str, list[float]], monitor: str) -> tuple[int, dict[str, float]] | None:
    """(1-based best epoch by ``monitor``, its validation metrics), None without ``monitor``.
    A monitor naming a loss is minimised, anything else maximised."""
    values = history.get(monitor)
    if not values:
        return None
    pick = min if "loss" in monitor else max
    index = pick(range(len(values)), key=values.__getitem__)
    metrics = {key: float(series[index]) for key, series in history.items()
               if key.startswith("val_") and len(series) == len(values)}
    return index + 1, metrics


_REASONS = {"early_stopping": "early stopping: the validation score ({criterion}) did not improve "
                              "for training.early_stopping_patience epochs",
            "epoch_cap": "reached the epoch cap (training.epochs = {epochs})"}


def end_summary(history: dict[str, list[float]], run_dir: str | Path, *, epochs: int,
                stopping: dict | None = None, seconds: float | None = None,
                tasks: Sequence[str] = ()) -> str:
    """The lines printed when training is over. ``stopping``: how ``model.fit`` ended
    (`lirank_tf.training.callbacks.stopping_record`: ``stop_reason``, ``best_epoch``,
    ``criterion``, ``best_metrics``); without it the best epoch is the one of the lowest
    validation loss."""
    run_dir = Path(run_dir)
    trained = len(history.get("loss", []))
    if stopping and stopping.get("stop_reason") in _REASONS:
        reason = _REASONS[stopping["stop_reason"]].format(criterion=stopping.get("criterion"),
                                                          epochs=epochs)
    else:
        reason = (f"reached the epoch cap (training.epochs = {epochs})" if trained >= epochs
                  else "stopped early")
    took = f" in {seconds:.0f}s" if seconds is not None else ""
    lines = [f"trained {trained} epoch{'s' if trained != 1 else ''}{took}: {reason}"]
    if stopping and stopping.get("best_epoch"):
        best, by = (stopping["best_epoch"], dict(stopping.get("best_metrics") or {})), \
            f"the validation score ({stopping.get('criterion')}); its weights are the model's"
    else:
        best, by = best_epoch(history, "val_loss"), "val_loss"
    if best is not None:
        epoch, metrics = best
        shown = [k for k in metrics if k == "val_loss" or k.endswith("auc")]
        if len(shown) > 8:   # many tasks: the loss and the AUCs of the first tasks
            shown = ["val_loss", *[f"val_{t}_auc" for t in tasks[:6] if f"val_{t}_auc" in metrics]]
        lines.append(f"best epoch {epoch} by {by}: "
                     + "  ".join(f"{k} {metrics[k]:.4f}" for k in shown if k in metrics))
    lines += [f"run:           {run_dir}",
              f"trained model: {run_dir / 'model.keras'}",
              f"history:       {run_dir / 'history.json'}",
              f"TensorBoard:   tensorboard --logdir {run_dir / 'logs'}",
              f"next:          lirank-tf evaluate --run {run_dir}  |  "
              f"lirank-tf export --run {run_dir}"]
    return "\n".join(lines)
