"""The user-facing steps as plain Python calls (the CLI is a thin layer over these).

    >>> from lirank_tf import workflow                                   # doctest: +SKIP
    >>> workflow.init_config(["data/train/*.avro"], labels=["click"], output="run.yaml")
    >>> workflow.train("run.yaml", "runs/first")
    >>> workflow.evaluate_run("runs/first")
    >>> workflow.export_run("runs/first")
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.evaluation.evaluate import evaluate, format_table, write_metrics
from lirank_tf.training.pipeline import expand_globs
from lirank_tf.training.run_directory import RunDirectory
from lirank_tf.training.trainer import TrainResult
from lirank_tf.training.trainer import train as _train
from lirank_tf.transform import TransformationModel


def load_config(config: str | Path | ExperimentConfig) -> ExperimentConfig:
    return config if isinstance(config, ExperimentConfig) else ExperimentConfig.load(config)


def train(config: str | Path | ExperimentConfig, output_dir: str | Path, *,
          overwrite: bool = False) -> TrainResult:
    """Trains the config into ``output_dir`` (resuming an interrupted run of the same config)."""
    return _train(load_config(config), output_dir, overwrite=overwrite)


def load_run(run_dir: str | Path) -> tuple[ExperimentConfig, TransformationModel, keras.Model]:
    """The config, transformation model and trained ranking model of a finished run."""
    import lirank_tf.layers  # noqa: F401  (registers the serializable layers)
    import lirank_tf.models  # noqa: F401

    run = RunDirectory(run_dir)
    config = run.load_config()
    if not run.model_path.exists():
        raise FileNotFoundError(f"{run.path} has no trained model ({run.model_path}): the run did "
                                "not finish; run `lirank-tf train` again to resume it")
    transform = TransformationModel(config.features, run.load_statistics())
    model = keras.saving.load_model(run.model_path)
    return config, transform, model


def evaluate_run(run_dir: str | Path, data: Sequence[str] | None = None,
                 verbose: bool = True) -> dict[str, dict[str, float]]:
    """Writes ``DIR/eval/metrics.json``, ``calibration.png`` and ``training_curves.png``;
    evaluates on ``data`` globs or, by default, the config's test files."""
    config, transform, model = load_run(run_dir)
    run = RunDirectory(run_dir)
    patterns = list(data) if data else config.data.test
    if not patterns:
        raise ValueError(f"{run.config_path}: data.test is empty; pass the files to evaluate on")
    files = expand_globs(patterns, "evaluation data")
    history = json.loads(run.history_path.read_text()) if run.history_path.exists() else None
    results = evaluate(model, transform, config, files, plot_dir=run.eval_dir, history=history)
    write_metrics(results, run.eval_dir / "metrics.json")
    if verbose:
        print(format_table(results))
        print(f"wrote {run.eval_dir / 'metrics.json'}, {run.eval_dir / 'calibration.png'}"
              + (f", {run.eval_dir / 'training_curves.png'}" if history else ""))
    return results


def export_run(run_dir: str | Path, export_dir: str | Path | None = None, *,
               quantize: str | None = None, overwrite: bool = False) -> Path:
    """Writes the serving SavedModel of a finished run (default ``DIR/export``)."""
    from lirank_tf.serving import export_serving_model

    config, transform, model = load_run(run_dir)
    target = Path(export_dir) if export_dir else RunDirectory(run_dir).export_dir
    if target.exists() and any(target.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{target} already holds an export; pass --overwrite to replace it")
        shutil.rmtree(target)
    kwargs = {"quantize": quantize} if quantize else {}
    return export_serving_model(config, transform, model, target, **kwargs)
