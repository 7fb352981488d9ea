"""Extension points of the trainer: what a package adds to a training run plugs in here, so the
trainer imports none of those packages (the explore posterior of LiRank §3.8 is one).

    >>> class Announce(TrainingHook):
    ...     def finished(self, run_dir, model, config, transform):
    ...         print("trained", run_dir)
    >>> Announce().check(None, None) is None
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.transform import TransformationModel


class TrainingHook:
    """Called by `lirank_tf.training.trainer.train` (single process and Horovod).

    * `check`: after the model is built, before anything is written to the run directory, so a
      config the hook cannot serve fails the start, which leaves the directory as it was;
    * `finished`: after the trained model is saved (rank 0 only under Horovod), before the
      run is marked finished; what it writes belongs to the run.
    """

    def check(self, model: keras.Model, config: ExperimentConfig) -> None:
        """Raises a ValueError naming what in ``config`` this hook cannot work with."""

    def finished(self, run_dir: Path, model: keras.Model, config: ExperimentConfig,
                 transform: TransformationModel) -> None:
        """Adds to the finished run at ``run_dir``."""


def check_all(hooks: Sequence[TrainingHook], model: keras.Model,
              config: ExperimentConfig) -> None:
    for hook in hooks:
        hook.check(model, config)


def finish_all(hooks: Sequence[TrainingHook], run_dir: Path, model: keras.Model,
               config: ExperimentConfig, transform: TransformationModel) -> None:
    for hook in hooks:
        hook.finished(Path(run_dir), model, config, transform)
