"""The user-facing steps as plain Python calls (the CLI is a thin layer over these).

    >>> from lirank_tf import workflow                                   # doctest: +SKIP
    >>> from lirank_tf.init_config import init_config
    >>> init_config(["data/train/*.avro"], labels=["click"], output="run.yaml")
    >>> workflow.train("run.yaml", "runs/first")
    >>> workflow.train_incremental("day8.yaml", "runs/day8", previous_run="runs/first",
    ...                            cold_weight=0.5, forgetting_factor=1.0)
    >>> workflow.evaluate_run("runs/first")
    >>> workflow.export_run("runs/first")
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from lirank_tf.config import ExperimentConfig
from lirank_tf.config.overrides import override_config
from lirank_tf.data.avro_file import read_records
from lirank_tf.data.files import expand_globs
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.evaluation.evaluate import evaluate, format_table, write_metrics
from lirank_tf.evaluation.report import write_run_report
from lirank_tf.explore import ThompsonSampling
from lirank_tf.explore.hook import PosteriorHook
from lirank_tf.explore.run_posterior import (has_posterior, load_run_explorer, posterior_dir,
                                             update_run_posterior)
from lirank_tf.incremental import IncrementalTrainResult
from lirank_tf.incremental import train_incremental as _train_incremental
from lirank_tf.layers.quantized import check_quantize, quantize_embedding_tables
from lirank_tf.serving import export_serving_model
from lirank_tf.serving.session import check_serving_load
from lirank_tf.training.atomic import publish_directory, recover_publish
from lirank_tf.training.lock import DirectoryLock
from lirank_tf.training.run import check_finished_run, load_run  # noqa: F401 (public here too)
from lirank_tf.training.run_directory import RunDirectory
from lirank_tf.training.trainer import TrainResult
from lirank_tf.training.trainer import train as _train
from lirank_tf.transform import TransformationModel
from lirank_tf.transform.records import record_probabilities
from lirank_tf.wide import RootObjectEffects, root_object_adjuster, update_root_object_table

def training_hooks() -> list:
    """What every `train` adds to its run: the Neural-Linear posterior (LiRank §3.8) when the
    config enables exploration."""
    return [PosteriorHook()]


def load_config(config: str | Path | ExperimentConfig) -> ExperimentConfig:
    return config if isinstance(config, ExperimentConfig) else ExperimentConfig.load(config)


def train(config: str | Path | ExperimentConfig, output_dir: str | Path, *,
          overwrite: bool = False,
          extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> TrainResult:
    """Trains the config into ``output_dir`` (resuming an interrupted run of the same config),
    with every `training_hooks` (the explore posterior of a config that enables it).
    ``extra_callbacks`` join ``model.fit``'s after the run's own (they see each epoch's logs
    once the run has recorded it; ``lirank-tf tune`` prunes trials with one)."""
    return _train(load_config(config), output_dir, overwrite=overwrite, hooks=training_hooks(),
                  extra_callbacks=list(extra_callbacks))


def train_incremental(config: str | Path | ExperimentConfig, output_dir: str | Path,
                      previous_run: str | Path, cold_start: str | Path | None = None, *,
                      cold_weight: float = 0.5, forgetting_factor: float = 1.0,
                      overwrite: bool = False) -> IncrementalTrainResult:
    """Trains the config's ``data.train`` (the new period) incrementally (LiRank §3.6, eq. 3):
    starts from ``cold_weight * w0 + (1 - cold_weight) * w_{t-1}`` (w0: the ``cold_start`` run,
    default the previous run's own cold start; w_{t-1}: ``previous_run``), adds the Fisher
    regulariser with forgetting factor ``forgetting_factor`` and saves the new run's Fisher
    (``DIR/fisher.npz``). Returns a `lirank_tf.incremental.IncrementalTrainResult`."""
    for name, path in (("previous_run", previous_run), ("cold_start", cold_start)):
        if path is not None:
            check_finished_run(path, name)
            if Path(path).resolve() == Path(output_dir).resolve():
                raise ValueError(f"output_dir {str(output_dir)!r} is the {name} run; an "
                                 "incremental run needs a directory of its own")
    return _train_incremental(load_config(config), output_dir, previous_run, cold_start,
                              cold_weight=cold_weight, forgetting_factor=forgetting_factor,
                              overwrite=overwrite)


def evaluate_run(run_dir: str | Path, data: Sequence[str] | None = None,
                 verbose: bool = True,
                 replay_top_n: int | None = None,
                 overrides: Sequence[str] = ()) -> dict[str, dict[str, float]]:
    """Writes ``DIR/eval/metrics.json``, ``calibration.png``, ``training_curves.png`` and
    ``report.html`` (`lirank_tf.evaluation.report`, the page to open in a browser);
    evaluates on ``data`` globs or, by default, the config's test files.

    ``replay_top_n`` (int >= 0 or None): the data's sessions were logged with their top N
    positions shuffled, so the replay contribution rate (LiRank §5.2) is reported too, as the
    ``"replay"`` entry beside the tasks; 0: never; None (default): N from the Feed simulator's
    ``manifest.json`` beside the files when it randomised them (see
    `lirank_tf.evaluation.replay.replay_top_n_of_files`). ``overrides``: ``--set`` values
    applied to the run's config for this evaluation (e.g. ``data.test=[...]``); the run's
    ``config.yaml`` is left as it is."""
    config, transform, model = load_run(run_dir)
    config = override_config(config, overrides)
    run = RunDirectory(run_dir)
    patterns = list(data) if data else config.data.test
    if not patterns:
        raise ValueError(f"{run.config_path}: data.test is empty; pass the files to evaluate on")
    files = expand_globs(patterns, "evaluation data")
    history = json.loads(run.history_path.read_text()) if run.history_path.exists() else None
    results = evaluate(model, transform, config, files, plot_dir=run.eval_dir, history=history,
                       replay_top_n=replay_top_n)
    write_metrics(results, run.eval_dir / "metrics.json")
    report = write_run_report(run_dir, results, config, files)
    if verbose:
        print(format_table(results))
        print(f"wrote {run.eval_dir / 'metrics.json'}, {run.eval_dir / 'calibration.png'}"
              + (f", {run.eval_dir / 'training_curves.png'}" if history else "")
              + f", {report}")
    return results


def explore_run(run_dir: str | Path, previous_run_dir: str | Path | None = None):
    """(Re)computes the Neural-Linear posterior of a finished run (LiRank §3.8) with its
    config's ``explore`` settings, carried over from ``previous_run_dir``'s posterior when
    given; returns (the `NeuralLinear`, the directory it was written to)."""
    config, transform, model = load_run(run_dir)
    if previous_run_dir is not None:
        check_finished_run(previous_run_dir, "--previous")
        if not has_posterior(previous_run_dir):
            raise FileNotFoundError(f"{previous_run_dir} has no posterior "
                                    f"({posterior_dir(previous_run_dir)}): run `lirank-tf "
                                    "explore` on it first")
    with DirectoryLock(run_dir, "run directory"):   # not while a train or another explore writes it
        explorer = update_run_posterior(run_dir, model, config, transform, previous_run_dir)
    return explorer, posterior_dir(run_dir)


def export_run(run_dir: str | Path, export_dir: str | Path | None = None, *,
               quantize: str | None = None, overwrite: bool = False,
               root_object_table: str | Path | None = None,
               overrides: Sequence[str] = (), check_serving: bool = True) -> Path:
    """Writes the serving SavedModel of a finished run (default ``DIR/export``); with the run's
    Neural-Linear posterior (``explore.enabled``, LiRank §3.8) it also has ``serve_explore``;
    with ``root_object_table`` (written by `fit_root_objects`, LiRank §3.9) every signature adds
    the root-object effects, from an asset that `update_root_objects` can replace.

    One export at a time per target (a lock beside it; a second one is refused). The export is
    written beside the target and moved in place when complete: a failed export leaves an
    earlier one untouched; without ``overwrite`` a target that appeared meanwhile is an error,
    never replaced; with it the complete new export is swapped in before the old one is
    removed (`lirank_tf.training.atomic.publish_directory`). ``overrides``: ``--set`` values
    applied to the run's config for this export (e.g. ``export.quantize=int8``,
    ``explore.exploration_scale=0.5``). The export holds its resolved config in
    ``assets.extra/lirank_config.yaml``. With ``check_serving`` (default) the export is loaded
    as TF Serving loads it and its warm-up requests replayed there before it is published
    (`lirank_tf.serving.session.check_serving_load`): an export that fails there is never
    published, and an earlier one stays in place."""
    config, transform, model = load_run(run_dir)
    config = override_config(config, overrides)
    target = Path(export_dir) if export_dir else RunDirectory(run_dir).export_dir
    with DirectoryLock(target, "export directory"):
        recover_publish(target)             # what a killed export left beside the target
        if target.exists() and any(target.iterdir()) and not overwrite:
            raise FileExistsError(f"{target} already holds an export; pass --overwrite to "
                                  "replace it")
        effects = _load_root_objects(root_object_table) if root_object_table else None
        quantize = check_quantize(quantize or config.export.quantize)
        served = quantize_embedding_tables(model) if quantize == "int8" else model
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        try:
            with tempfile.TemporaryDirectory() as scratch:
                adjusters, extras = export_parts(run_dir, config, served, effects, scratch)
                export_serving_model(config, transform, served, partial, quantize="none",
                                     adjusters=adjusters, extras=extras)
            # the resolved config beside the SavedModel (TF Serving ignores assets.extra/)
            config.replace(export=config.export.replace(quantize=quantize)).save(
                partial / "assets.extra" / "lirank_config.yaml")
            if check_serving:
                check_serving_load(partial)
            publish_directory(partial, target, replace=overwrite)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return target


def export_parts(run_dir: str | Path, config: ExperimentConfig, model: keras.Model,
                 effects: RootObjectEffects | None, scratch_dir: str | Path):
    """(score adjusters, extra signatures) of a run's export (`lirank_tf.serving.parts`): the
    one place that decides what an export holds beyond ``serving_default``, ``serve_examples``
    (and ``serve_candidates``):

    * root-object ``effects`` given (LiRank §3.9) -> `lirank_tf.wide.RootObjectTables` adjusts
      every signature (its table written into ``scratch_dir`` until the export is saved);
      with a posterior also drawing new root objects, ``explore.root_object_scale``;
    * the run has a Neural-Linear posterior (``lirank-tf explore``, LiRank §3.8) ->
      ``serve_explore`` (`lirank_tf.explore.ThompsonSampling`, ``explore.exploration_scale``)
      on ``model`` (the served model, int8 or not).
    """
    explorer = load_run_explorer(run_dir, model, config)
    adjusters = []
    if effects is not None:
        new_ids = config.explore.root_object_scale if explorer is not None else 0.0
        adjusters.append(root_object_adjuster(config, effects, scratch_dir, new_ids))
    extras = []
    if explorer is not None:
        extras.append(ThompsonSampling(explorer, config.explore.exploration_scale))
    return adjusters, extras


def _load_root_objects(table: str | Path):
    if not Path(table).exists() or not Path(f"{table}.json").exists():
        raise FileNotFoundError(f"no root-object table at {table} (and its {Path(table).name}"
                                ".json): write one with `lirank-tf root-objects fit`")
    return RootObjectEffects.load(table)


def fit_root_objects(run_dir: str | Path, data: Sequence[str], output: str | Path, *,
                     tasks: Sequence[str] | None = None, l2: float = 1.0,
                     previous: str | Path | None = None, carry_over: float = 0.0,
                     root_object_field: str | None = None, overwrite: bool = False):
    """Fits the root-object effects (LiRank §3.9) on ``data`` (e.g. the last 8 hours of
    impressions) as the residual of the run's model, and writes the table ``output`` (+
    ``.json``). ``previous`` (a table) with ``carry_over`` in [0, 1] centres each id's prior at
    ``carry_over`` x its previous effect. Returns the `RootObjectEffects`.

    Defaults come from the run's config: ``tasks`` all its tasks (those of ``previous`` when
    given), ``root_object_field`` the
    candidate field of its history (``features.history.candidate_field``); a run without a
    history needs ``root_object_field``."""
    output = Path(output)
    if (output.exists() or Path(f"{output}.json").exists()) and not overwrite:
        raise FileExistsError(f"{output} already exists; pass --overwrite to replace it")
    config, transform, model = load_run(run_dir)
    labels_of = {t.name: t.label for t in config.tasks}
    carried = _load_root_objects(previous) if previous is not None else None
    if tasks is None:   # the previous fit's tasks, else every task of the run
        tasks = carried.tasks if carried is not None else list(labels_of)
    tasks = list(tasks)
    if carried is not None and carried.tasks != tasks:
        raise ValueError(f"--previous {previous} holds the tasks {carried.tasks}, not {tasks}: "
                         "fit the same tasks (or leave --tasks out)")
    if root_object_field is None:
        if config.features.history is None:
            raise ValueError(f"{run_dir}: the run's config names no root-object field (it has no "
                             "features.history.candidate_field); pass --field NAME")
        root_object_field = config.features.history.candidate_field
    unknown = [t for t in tasks if t not in labels_of]
    if unknown:
        raise ValueError(f"root-object tasks {unknown} are not tasks of {run_dir}: "
                         f"{sorted(labels_of)}")
    effects = RootObjectEffects(tasks, l2=l2, carry_over=carry_over)
    if carried is not None:
        effects.table = carried.table
    fields = raw_fields(config)
    ids, predicted, labels = [], {t: [] for t in tasks}, {t: [] for t in tasks}
    for path in expand_globs(data, "root-object data"):
        records = read_records(path)
        for name in (root_object_field, *(labels_of[t] for t in tasks)):
            if records and name not in records[0]:
                raise ValueError(f"{path}: records have no field {name!r}")
        ids += [r[root_object_field] for r in records]
        for task, values in record_probabilities(model, transform, fields, records,
                                                 tasks).items():
            predicted[task].append(values)
            labels[task].append(np.array([r[labels_of[task]] for r in records], np.float64))
    if not ids:
        raise ValueError(f"no records in {list(data)} to fit root-object effects on")
    effects.fit(np.array(ids), {t: np.concatenate(v) for t, v in predicted.items()},
                {t: np.concatenate(v) for t, v in labels.items()})
    effects.save(output)
    return effects


def update_root_objects(export_dir: str | Path, table: str | Path) -> Path:
    """Replaces the root-object table of an export in place (the global model untouched)."""
    effects = _load_root_objects(table)
    with DirectoryLock(export_dir, "export directory"):  # not during an export into it
        return update_root_object_table(export_dir, effects)
