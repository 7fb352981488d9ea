"""The Neural-Linear posterior of a training run, updated at the end of each training (§3.8).

LiRank: "The posterior probability of W is incrementally updated at the end of each offline
training in a given period". With ``explore.enabled`` a run ends with `update_run_posterior`:
the last-layer posterior of its trained model over its own training data, written to
``RUN/explore/`` (``<task>_posterior.npz`` per explored task and ``explore.json``). An
incremental run starts from its previous run's posterior, carried over to the retrained last
layer with the earlier evidence weighted by ``explore.decay`` (`NeuralLinear.update`); a run
without a previous posterior starts from the prior. `load_run_explorer` reads it back for the
export's ``serve_explore`` signature.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.explore.neural_linear import NeuralLinear
from lirank_tf.data.files import count_records, expand_globs
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.transform import TransformationModel

POSTERIOR_DIR = "explore"
METADATA_FILE = "explore.json"
UPDATE_BATCH_SIZE = 1024


def make_explorer(model: keras.Model, config: ExperimentConfig) -> NeuralLinear:
    """The `NeuralLinear` of ``model`` with the settings of ``config.explore`` (raises a
    ValueError naming the heads when the model has no explicit last layer, e.g. MMoE)."""
    return NeuralLinear(model, tasks=config.explore.tasks or None,
                        prior_variance=config.explore.prior_variance)


def posterior_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / POSTERIOR_DIR


def has_posterior(run_dir: str | Path) -> bool:
    return (posterior_dir(run_dir) / METADATA_FILE).exists()


def update_run_posterior(run_dir: str | Path, model: keras.Model, config: ExperimentConfig,
                         transform: TransformationModel,
                         previous_run_dir: str | Path | None = None) -> NeuralLinear:
    """The posterior of ``model`` (the run's trained model) over ``config.data.train``, written
    to ``RUN/explore/``; carried over from ``previous_run_dir``'s posterior when it has one."""
    started = time.perf_counter()
    explorer = make_explorer(model, config)
    previous = None
    if previous_run_dir is not None and has_posterior(previous_run_dir):
        previous = Path(previous_run_dir).resolve()
        explorer.load_posteriors(posterior_dir(previous))
    files = expand_globs(config.data.train, "data.train")
    batches = math.ceil(count_records(files) / UPDATE_BATCH_SIZE)
    if config.explore.max_examples:
        batches = min(batches, math.ceil(config.explore.max_examples / UPDATE_BATCH_SIZE))
    data = training_dataset(config, files, transform, shuffle=False,
                            batch_size=UPDATE_BATCH_SIZE).take(batches)
    explorer.update(data, decay=config.explore.decay if previous is not None else None)
    target = posterior_dir(run_dir)
    explorer.save_posteriors(target)
    metadata = {
        "tasks": explorer.tasks, "prior_variance": explorer.prior_variance,
        "examples": explorer.posteriors[explorer.tasks[0]].num_observations,
        "previous_run": str(previous) if previous is not None else None,
        "decay": config.explore.decay if previous is not None else None,
        "seconds": time.perf_counter() - started,
    }
    (target / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return explorer


def load_run_explorer(run_dir: str | Path, model: keras.Model,
                      config: ExperimentConfig) -> NeuralLinear | None:
    """The run's `NeuralLinear` with its saved posteriors, over ``model`` (e.g. the run's model
    or its int8 copy); None when the run has no posterior."""
    if not has_posterior(run_dir):
        return None
    metadata = json.loads((posterior_dir(run_dir) / METADATA_FILE).read_text())
    explorer = NeuralLinear(model, tasks=metadata["tasks"],
                            prior_variance=metadata["prior_variance"])
    explorer.load_posteriors(posterior_dir(run_dir))
    return explorer
