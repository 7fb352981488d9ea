"""Typed configuration (dataclasses) and the registry of named experiments."""

from lirank_tf.config.base import ConfigError, deep_merge
from lirank_tf.config.experiments import get_experiment, register_experiment
from lirank_tf.config.schema import (DataConfig, DenseFeatureConfig, EmbeddingTableConfig,
                                     ExperimentConfig, ExploreConfig, ExportConfig,
                                     FeaturesConfig, HistoryConfig, IdFeatureConfig, ModelConfig,
                                     TaskConfig, TrainingConfig)

__all__ = [
    "ConfigError", "DataConfig", "DenseFeatureConfig", "EmbeddingTableConfig", "ExperimentConfig",
    "ExploreConfig", "ExportConfig", "FeaturesConfig", "HistoryConfig", "IdFeatureConfig", "ModelConfig",
    "TaskConfig", "TrainingConfig", "deep_merge", "get_experiment", "register_experiment",
]
