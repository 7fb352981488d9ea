"""The trainer's hook for LiRank §3.8: with ``explore.enabled`` a run is checked for an explicit
last layer before training and ends with its Neural-Linear posterior (`update_run_posterior`).
`lirank_tf.workflow.train` passes it to the trainer."""

from __future__ import annotations

from pathlib import Path

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.explore.run_posterior import make_explorer, update_run_posterior
from lirank_tf.training.hooks import TrainingHook
from lirank_tf.transform import TransformationModel


class PosteriorHook(TrainingHook):
    """The run's last-layer posterior at the end of training (nothing without
    ``explore.enabled``)."""

    def check(self, model: keras.Model, config: ExperimentConfig) -> None:
        if config.explore.enabled:
            make_explorer(model, config)    # fails now, not after training, for MMoE / PLE heads

    def finished(self, run_dir: Path, model: keras.Model, config: ExperimentConfig,
                 transform: TransformationModel) -> None:
        if config.explore.enabled:
            update_run_posterior(run_dir, model, config, transform)
