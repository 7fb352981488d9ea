"""The hyper-parameter search space of ``lirank-tf tune``: what is searched, over which range,
and how a sampled point becomes a config.

What matters for CTR models, in the order of the table (`search_space` keeps the rows that fit
the config's model):

    parameter                config key                        range
    learning_rate            training.learning_rate            log-uniform [1e-4, 1e-2]
    sparse_learning_rate     training.sparse_learning_rate     log-uniform [0.01, 0.5] (AdaGrad)
                                                               or [1e-4, 1e-2] (Adam)
    batch_size               training.batch_size               {128, 256, 512, 1024}
    dropout                  model.dropout                     uniform [0, 0.5]
    embedding_l2             model.embedding_l2                {0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01,
                                                                0.03, 0.1}
    embedding_dim (1)        features.tables[*].dim            {8, 16, 32, 64}
    cross_layers (2)         model.cross_layers                {1, 2, 3, 4}
    cross_rank (2)           model.cross_rank                  {16, 32, 64, 128}
    early_stopping_patience  training.early_stopping_patience  {1, 2, 3, 4}       (3)
    epochs                   training.epochs                   {1, ..., 2 x the config's}  (4)

(1) when the tables share one dim (each table then gets the sampled one); (2) when the model
has a cross network: the ``dcnv2`` model, or ``model.interaction`` dcnv2 / residual_dcn;
(3) when early stopping is on (the epoch cap stays the config's); (4) when it is off.

Every range also holds the config's own value (widened, or the value added to the choices),
so the untouched config is a point of its own space (`config_values`: the search's trial 0).
The learning rates are those of LiRank §6.2's optimizer pair (Adam for dense, AdaGrad or,
with ``training.sparse_optimizer: adam``, Adam for embedding rows: the row rate's range is the
config's optimizer's). A point is applied as ``--set`` overrides (`overrides`), so each sampled
config is typed and validated exactly like a YAML file.

    >>> from lirank_tf.config import get_experiment
    >>> config = get_experiment("feed")
    >>> [d.name for d in search_space(config)][:3]
    ['learning_rate', 'sparse_learning_rate', 'batch_size']
    >>> point = {**config_values(search_space(config), config), "dropout": 0.25}
    >>> apply_point(config, search_space(config), point).model.dropout
    0.25
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, Mapping, Sequence

import yaml

from lirank_tf.config import ExperimentConfig
from lirank_tf.config.overrides import override_config

LEARNING_RATE = (1e-4, 1e-2)
SPARSE_LEARNING_RATE = {"adagrad": (0.01, 0.5), "adam": LEARNING_RATE}
BATCH_SIZES = (128, 256, 512, 1024)
DROPOUT = (0.0, 0.5)
EMBEDDING_L2 = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1)
EMBEDDING_DIMS = (8, 16, 32, 64)
CROSS_LAYERS = (1, 2, 3, 4)
CROSS_RANKS = (16, 32, 64, 128)
PATIENCES = (1, 2, 3, 4)
# the key of embedding_dim: one dim for every table of features.tables
TABLE_DIMS = "features.tables[*].dim"


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched hyper-parameter.

    Args:
        name: str, the Optuna parameter name (a column of ``trials.csv``).
        key: str, the dotted config key it sets (``TABLE_DIMS`` for every table's dim).
        kind: ``"log"`` (log-uniform float in [low, high]), ``"uniform"`` (float in [low,
            high]) or ``"choice"`` (one of ``choices``).
        low, high: float, the range of ``"log"`` / ``"uniform"``.
        choices: tuple, the values of ``"choice"`` (ints or floats).
    """

    name: str
    key: str
    kind: Literal["log", "uniform", "choice"]
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    def suggest(self, trial: Any) -> Any:
        """The value of this dimension for an Optuna ``trial`` (or ``FixedTrial``)."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "log")

    def with_value(self, value: Any) -> "Dimension":
        """This dimension with its range widened (or ``value`` added to its choices) so that
        it holds ``value``."""
        if self.kind == "choice":
            return self if value in self.choices else dataclasses.replace(
                self, choices=tuple(sorted((*self.choices, value))))
        return dataclasses.replace(self, low=min(self.low, value), high=max(self.high, value))


def config_value(config: ExperimentConfig, key: str) -> Any:
    """The value of dotted ``key`` (or ``TABLE_DIMS``: the tables' common dim) in ``config``."""
    if key == TABLE_DIMS:
        return config.features.tables[0].dim
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _shared_dim(config: ExperimentConfig) -> bool:
    dims = {table.dim for table in config.features.tables}
    return len(dims) == 1


def _has_cross(config: ExperimentConfig) -> bool:
    # the dcnv2 model always has its cross network; the others when model.interaction says so
    return config.model.name == "dcnv2" or config.model.interaction != "none"


def search_space(config: ExperimentConfig) -> list[Dimension]:
    """The dimensions of the module's table that fit ``config``, each holding its value."""
    training = config.training
    space = [Dimension("learning_rate", "training.learning_rate", "log", *LEARNING_RATE),
             Dimension("sparse_learning_rate", "training.sparse_learning_rate", "log",
                       *SPARSE_LEARNING_RATE[training.sparse_optimizer]),
             Dimension("batch_size", "training.batch_size", "choice", choices=BATCH_SIZES),
             Dimension("dropout", "model.dropout", "uniform", *DROPOUT),
             Dimension("embedding_l2", "model.embedding_l2", "choice", choices=EMBEDDING_L2)]
    if _shared_dim(config):
        space.append(Dimension("embedding_dim", TABLE_DIMS, "choice", choices=EMBEDDING_DIMS))
    if _has_cross(config):
        space += [Dimension("cross_layers", "model.cross_layers", "choice", choices=CROSS_LAYERS),
                  Dimension("cross_rank", "model.cross_rank", "choice", choices=CROSS_RANKS)]
    if training.early_stopping_patience:
        space.append(Dimension("early_stopping_patience", "training.early_stopping_patience",
                               "choice", choices=PATIENCES))
    else:
        epochs = max(1, training.epochs)
        space.append(Dimension("epochs", "training.epochs", "choice",
                               choices=tuple(range(1, 2 * epochs + 1))))
    return [_holding_own_value(dimension, config) for dimension in space]


def _holding_own_value(dimension: Dimension, config: ExperimentConfig) -> Dimension:
    value = config_value(config, dimension.key)
    if dimension.kind == "log" and not value > 0:   # a log range cannot hold 0 or less
        return dimension
    return dimension.with_value(value)


def config_values(space: Sequence[Dimension], config: ExperimentConfig) -> dict[str, Any]:
    """The point of ``space`` that ``config`` itself is (its untouched values)."""
    return {dimension.name: config_value(config, dimension.key) for dimension in space}


def suggest_point(space: Sequence[Dimension], trial: Any) -> dict[str, Any]:
    """A point of ``space`` drawn by an Optuna ``trial``: {parameter name: value}."""
    return {dimension.name: dimension.suggest(trial) for dimension in space}


def overrides(config: ExperimentConfig, space: Sequence[Dimension],
              point: Mapping[str, Any]) -> list[str]:
    """The ``--set`` overrides (``"model.dropout=0.25"``) that move ``config`` to ``point``."""
    texts = []
    for dimension in space:
        value = point[dimension.name]
        if dimension.key == TABLE_DIMS:
            tables = [{**table.to_dict(), "dim": value} for table in config.features.tables]
            texts.append(f"features.tables={_flow(tables)}")
        else:
            texts.append(f"{dimension.key}={_flow(value)}")
    return texts


def apply_point(config: ExperimentConfig, space: Sequence[Dimension],
                point: Mapping[str, Any]) -> ExperimentConfig:
    """``config`` moved to ``point`` through `overrides` (checked like the YAML file)."""
    return override_config(config, overrides(config, space, point))


def _flow(value: Any) -> str:
    """``value`` as one line of YAML, read back exactly by the ``--set`` parser (floats in
    ``repr``, which round-trips)."""
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return yaml.safe_dump(value, default_flow_style=True, width=math.inf).strip().removesuffix(
        "\n...").strip()
