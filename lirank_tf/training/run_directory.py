"""The layout of a training run's output directory, and what state a run in it is in."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lirank_tf.config import ExperimentConfig
from lirank_tf.training.atomic import write_json_atomic
from lirank_tf.transform import DenseStatistics, IdVocabulary, TransformationModel

# The states of `RunDirectory.state`; `lirank_tf.training.run.Run` moves a run through them.
NEW, RUNNING, FINISHED, FAILED, FOREIGN = "new", "running", "finished", "failed", "foreign"


class RunDirectory:
    """``DIR/run.json`` (state, owner, per-epoch logs), ``DIR/config.yaml`` (resolved config),
    ``DIR/transform_statistics.json``, ``DIR/id_vocabulary.json`` (the min-count vocabulary,
    when a feature has one), ``DIR/backup/`` (mid-training state for resume),
    ``DIR/checkpoints/epoch_NNN.weights.h5``, ``DIR/model.keras`` (final), ``DIR/history.json``,
    ``DIR/logs/`` (TensorBoard), ``DIR/eval/`` and ``DIR/export/``; its lock is
    ``.DIR.lock`` beside it (`lirank_tf.training.lock`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    state_path = property(lambda self: self.path / "run.json")
    config_path = property(lambda self: self.path / "config.yaml")
    statistics_path = property(lambda self: self.path / "transform_statistics.json")
    vocabulary_path = property(lambda self: self.path / "id_vocabulary.json")
    backup_dir = property(lambda self: self.path / "backup")
    checkpoint_dir = property(lambda self: self.path / "checkpoints")
    sharded_checkpoint_dir = property(lambda self: self.path / "sharded_checkpoints")
    model_path = property(lambda self: self.path / "model.keras")
    history_path = property(lambda self: self.path / "history.json")
    log_dir = property(lambda self: self.path / "logs")
    eval_dir = property(lambda self: self.path / "eval")
    export_dir = property(lambda self: self.path / "export")

    def read_state(self) -> dict:
        """The contents of ``run.json`` (``{}`` when there is none)."""
        if not self.state_path.exists():
            return {}
        return json.loads(self.state_path.read_text())

    def write_state(self, record: dict) -> None:
        write_json_atomic(self.state_path, record)

    def state(self) -> str:
        """``"new"`` (no directory, or an empty one), ``"running"`` (started and not finished:
        training now, or interrupted), ``"finished"``, ``"failed"`` (training raised), or
        ``"foreign"`` (files that are not a run). Directories of runs written before
        ``run.json`` existed: finished when they hold ``model.keras``."""
        if not self.path.is_dir() or not any(self.path.iterdir()):
            return NEW
        if self.state_path.exists():
            return self.read_state().get("state", RUNNING)
        if self.config_path.exists():
            return FINISHED if self.model_path.exists() else RUNNING
        return FOREIGN

    def epochs_done(self) -> int:
        """Epochs an unfinished run has trained (its last epoch logs recorded)."""
        return len(self.read_state().get("epochs", [])) if self.state_path.exists() else 0

    def has_progress(self) -> bool:
        """True when an unfinished run holds trained state worth resuming."""
        return (self.epochs_done() > 0 or self.backup_dir.exists()
                or any(self.sharded_checkpoint_dir.glob("*/manifest.json")))

    def save_statistics(self, statistics: DenseStatistics) -> None:
        write_json_atomic(self.statistics_path, statistics.to_dict())

    def load_statistics(self) -> DenseStatistics:
        return DenseStatistics.from_dict(json.loads(self.statistics_path.read_text()))

    def load_transformation(self, config: ExperimentConfig) -> TransformationModel:
        """The transformation model of ``config``'s features with the statistics and min-count
        vocabulary saved in this run."""
        return TransformationModel(config.features, self.load_statistics(),
                                   vocabulary=self.load_vocabulary())

    def save_vocabulary(self, vocabulary: IdVocabulary) -> None:
        write_json_atomic(self.vocabulary_path, vocabulary.to_dict())

    def load_vocabulary(self) -> IdVocabulary | None:
        """The run's min-count vocabulary; None when it has none (no min-count feature)."""
        if not self.vocabulary_path.exists():
            return None
        return IdVocabulary.from_dict(json.loads(self.vocabulary_path.read_text()))

    def save_config(self, config: ExperimentConfig) -> None:
        temporary = self.path / f".config.tmp-{os.getpid()}.yaml"
        config.save(temporary)
        os.replace(temporary, self.config_path)

    def load_config(self) -> ExperimentConfig:
        if not self.config_path.exists():
            raise FileNotFoundError(f"{self.path} is not a training run: {self.config_path} is missing")
        return ExperimentConfig.load(self.config_path)
