"""Evaluation of a trained ranker on Avro files: per-task metrics beside the oracle's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import fastavro
import keras
import numpy as np

from lirank_tf.config import ExperimentConfig
from lirank_tf.evaluation.metrics import auc, task_metrics
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.transform import TransformationModel


def predict_files(model: keras.Model, transform: TransformationModel, config: ExperimentConfig,
                  files: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Predicted probabilities and labels of every record of ``files``, per task."""
    dataset = training_dataset(config, files, transform, shuffle=False)
    predictions: dict[str, list] = {t.name: [] for t in config.tasks}
    labels: dict[str, list] = {t.name: [] for t in config.tasks}
    for inputs, targets in dataset:
        outputs = model(inputs, training=False)
        for task in config.tasks:
            predictions[task.name].append(np.asarray(outputs[task.name]).reshape(-1))
            labels[task.name].append(np.asarray(targets[task.name]).reshape(-1))
    return ({k: np.concatenate(v) for k, v in predictions.items()},
            {k: np.concatenate(v) for k, v in labels.items()})


def oracle_probabilities(files: Sequence[str], config: ExperimentConfig) -> dict[str, np.ndarray]:
    """``oracle_<label>`` columns of simulated files (true probabilities), where present."""
    wanted = {t.name: f"oracle_{t.label}" for t in config.tasks}
    columns: dict[str, list] = {name: [] for name in wanted}
    for path in files:
        with open(path, "rb") as handle:
            reader = fastavro.reader(handle)
            present = {f["name"] for f in reader.writer_schema["fields"]}
            if not set(wanted.values()) <= present:
                return {}
            for record in reader:
                for name, field in wanted.items():
                    columns[name].append(record[field])
    return {k: np.asarray(v, np.float64) for k, v in columns.items()}


def evaluate(model: keras.Model, transform: TransformationModel, config: ExperimentConfig,
             files: Sequence[str], plot_dir: str | Path | None = None,
             history: dict | None = None) -> dict[str, dict[str, float]]:
    """{task: {auc, logloss, oe_ratio, ece, positive_rate[, oracle_auc]}} on ``files``; with
    ``plot_dir``, also ``calibration.png`` (and ``training_curves.png`` given ``history``)."""
    predictions, labels = predict_files(model, transform, config, files)
    if plot_dir is not None:
        from lirank_tf.evaluation.plots import plot_calibration, plot_training_curves
        plot_calibration(labels, predictions, Path(plot_dir) / "calibration.png")
        if history:
            plot_training_curves(history, Path(plot_dir) / "training_curves.png")
    oracle = oracle_probabilities(files, config)
    results = {}
    for task in config.tasks:
        row = task_metrics(labels[task.name], predictions[task.name])
        if task.name in oracle:
            row["oracle_auc"] = auc(labels[task.name], oracle[task.name])
        results[task.name] = row
    return results


def format_table(results: dict[str, dict[str, float]]) -> str:
    columns = ["auc", "oracle_auc", "logloss", "oe_ratio", "ece", "positive_rate"]
    columns = [c for c in columns if any(c in row for row in results.values())]
    lines = ["task".ljust(12) + "".join(c.rjust(14) for c in columns)]
    for task, row in results.items():
        lines.append(task.ljust(12) + "".join(f"{row.get(c, float('nan')):14.4f}" for c in columns))
    return "\n".join(lines)


def write_metrics(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
