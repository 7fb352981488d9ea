"""Binary ranking tasks: one per head, composed into the multi-task compile arguments."""

from __future__ import annotations

import dataclasses

import keras

from lirank_tf.config import TaskConfig


@dataclasses.dataclass
class RankingTask:
    """A binary head trained with log loss on probabilities; AUC and calibration metrics.

    Args:
        name: str, the model output (and label) key.
        loss_weight: float >= 0, default 1.0, weight of this head's loss in the total.
    """

    name: str
    loss_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.loss_weight < 0:
            raise ValueError(f"loss_weight must be >= 0, got {self.loss_weight!r}")

    def loss(self) -> keras.losses.Loss:
        return keras.losses.BinaryCrossentropy(name=f"{self.name}_loss")

    def metrics(self) -> list[keras.metrics.Metric]:
        return [keras.metrics.AUC(name="auc", num_thresholds=1000),
                keras.metrics.BinaryCrossentropy(name="logloss")]


class MultiTask:
    """The tasks of one model; gives ``model.compile`` its per-output losses and metrics."""

    def __init__(self, tasks: list[RankingTask]) -> None:
        if not tasks:
            raise ValueError("tasks: at least one task is required")
        self.tasks = tasks

    @classmethod
    def from_config(cls, tasks: list[TaskConfig]) -> "MultiTask":
        return cls([RankingTask(t.name, t.loss_weight) for t in tasks])

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def compile_kwargs(self) -> dict:
        return {
            "loss": {t.name: t.loss() for t in self.tasks},
            "loss_weights": {t.name: t.loss_weight for t in self.tasks},
            "metrics": {t.name: t.metrics() for t in self.tasks},
        }
