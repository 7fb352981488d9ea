"""The layout of a training run's output directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lirank_tf.config import ExperimentConfig
from lirank_tf.transform import DenseStatistics


class RunDirectory:
    """``DIR/config.yaml`` (resolved config), ``DIR/transform_statistics.json``,
    ``DIR/backup/`` (mid-training state for resume), ``DIR/checkpoints/epoch_NNN.weights.h5``,
    ``DIR/model.keras`` (final), ``DIR/history.json``, ``DIR/logs/`` (TensorBoard),
    ``DIR/eval/`` and ``DIR/export/``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.yaml")
    statistics_path = property(lambda self: self.path / "transform_statistics.json")
    backup_dir = property(lambda self: self.path / "backup")
    checkpoint_dir = property(lambda self: self.path / "checkpoints")
    model_path = property(lambda self: self.path / "model.keras")
    history_path = property(lambda self: self.path / "history.json")
    log_dir = property(lambda self: self.path / "logs")
    eval_dir = property(lambda self: self.path / "eval")
    export_dir = property(lambda self: self.path / "export")

    def prepare(self, config: ExperimentConfig, overwrite: bool = False) -> bool:
        """Creates the directory for ``config``. Returns True when an earlier, unfinished run of
        the same config is there to resume. Never deletes a run without ``overwrite``."""
        if self.config_path.exists() and not overwrite:
            previous = ExperimentConfig.load(self.config_path)
            if previous.to_dict() != config.to_dict():
                raise FileExistsError(
                    f"{self.path} holds a run of another config ({self.config_path}); pass "
                    "--overwrite to replace it, or choose another output directory")
            return not self.model_path.exists()
        if overwrite and self.path.exists():
            shutil.rmtree(self.path)
        elif self.path.exists() and any(self.path.iterdir()):
            raise FileExistsError(f"{self.path} is not empty and holds no run; pass --overwrite "
                                  "to replace its contents, or choose another output directory")
        self.path.mkdir(parents=True, exist_ok=True)
        config.save(self.config_path)
        return False

    def save_statistics(self, statistics: DenseStatistics) -> None:
        self.statistics_path.write_text(json.dumps(statistics.to_dict(), indent=2))

    def load_statistics(self) -> DenseStatistics:
        return DenseStatistics.from_dict(json.loads(self.statistics_path.read_text()))

    def load_config(self) -> ExperimentConfig:
        if not self.config_path.exists():
            raise FileNotFoundError(f"{self.path} is not a training run: {self.config_path} is missing")
        return ExperimentConfig.load(self.config_path)
