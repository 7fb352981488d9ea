"""Evaluation of a trained ranker on Avro files: per-task metrics beside the oracle's, and the
offline replay metric (LiRank §5.2) when the files hold sessions with a randomised top N."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.avro_file import open_avro
from lirank_tf.evaluation.metrics import auc, task_metrics
from lirank_tf.evaluation.replay import (ReplayResult, evaluate_replay, format_replay,
                                         replay_top_n_of_files)
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.transform import TransformationModel

REPLAY_KEY = "replay"       # results entry of the replay metric, beside the tasks


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
        with open_avro(path) as reader:
            present = {f["name"] for f in reader.fields}
            if not set(wanted.values()) <= present:
                return {}
            for record in reader:
                for name, field in wanted.items():
                    columns[name].append(record[field])
    return {k: np.asarray(v, np.float64) for k, v in columns.items()}


def evaluate(model: keras.Model, transform: TransformationModel, config: ExperimentConfig,
             files: Sequence[str], plot_dir: str | Path | None = None,
             history: dict | None = None,
             replay_top_n: int | None = None) -> dict[str, dict[str, float]]:
    """{task: {auc, logloss, oe_ratio, ece, positive_rate[, oracle_auc]}} on ``files``; with
    ``plot_dir``, also ``calibration.png`` (and ``training_curves.png`` given ``history``).

    ``replay_top_n``: int >= 0 or None (default). N > 0: the files' sessions were logged with
    their top N positions shuffled, and the results get a ``"replay"`` entry (`ReplayResult`
    fields and ``top_n``: sessions, matched imps @ 1, contribution rate, LiRank §5.2); 0: no
    replay; None: N from the simulator's manifest (`replay_top_n_of_files`), else no replay.
    """
    if replay_top_n is not None and (isinstance(replay_top_n, bool)
                                     or not isinstance(replay_top_n, int) or replay_top_n < 0):
        raise ValueError(f"replay_top_n must be an int >= 0 or None, got {replay_top_n!r}")
    if REPLAY_KEY in {t.name for t in config.tasks}:
        raise ValueError(f"a task named {REPLAY_KEY!r} would clash with the replay metrics entry")
    predictions, labels = predict_files(model, transform, config, files)
    if plot_dir is not None:
        # imports matplotlib, which an evaluation without plots never needs
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
    top_n = replay_top_n_of_files(files) if replay_top_n is None else replay_top_n
    if top_n:
        replay = evaluate_replay(model, transform, config, files, top_n=top_n)
        results[REPLAY_KEY] = {**replay.as_dict(), "top_n": top_n}
    return results


def format_table(results: dict[str, dict[str, float]]) -> str:
    """The per-task metrics table, and the replay line under it when ``results`` has one."""
    tasks = {k: v for k, v in results.items() if k != REPLAY_KEY}
    columns = ["auc", "oracle_auc", "logloss", "oe_ratio", "ece", "positive_rate"]
    columns = [c for c in columns if any(c in row for row in tasks.values())]
    lines = ["task".ljust(12) + "".join(c.rjust(14) for c in columns)]
    for task, row in tasks.items():
        lines.append(task.ljust(12) + "".join(f"{row.get(c, float('nan')):14.4f}" for c in columns))
    if REPLAY_KEY in results:
        replay = dict(results[REPLAY_KEY])
        top_n = int(replay.pop("top_n"))
        lines.append(format_replay(ReplayResult(**replay), top_n))
    return "\n".join(lines)


def write_metrics(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
