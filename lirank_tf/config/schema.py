"""The experiment configuration: data, features, tasks, model, training and export."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Any, Literal, Sequence

from lirank_tf.config.base import ConfigBase, ConfigError, read_mapping, write_mapping
from lirank_tf.config.overrides import apply_overrides


@dataclasses.dataclass
class EmbeddingTableConfig(ConfigBase):
    """A QR-hash embedding table (LiRank §3.12): ids hashed, no vocabulary."""

    name: str
    dim: int = 30
    num_quotient_buckets: int = 4096
    num_remainder_buckets: int = 64
    aggregation: Literal["sum", "multiply"] = "sum"


@dataclasses.dataclass
class IdFeatureConfig(ConfigBase):
    """A string id (``kind="id"``) or list of string ids (``kind="id_list"``, pooled)."""

    name: str
    table: str
    kind: Literal["id", "id_list"] = "id"
    # "int64": integer ids (Avro int / long), hashed as their decimal string; -1 = no id
    dtype: Literal["string", "int64"] = "string"
    pooling: Literal["sum", "mean"] = "mean"
    max_length: int = 50
    # min-count vocabulary (0 = off: every id hashed as it is): ids seen fewer than
    # ``min_count`` times in the training files (an id list counts each occurrence), and ids
    # never seen there, are hashed as one shared token, ``lirank_tf.transform.vocabulary.
    # RARE_ID``, in training and serving alike; the vocabulary is counted by ``lirank-tf
    # train`` and kept with the run (`lirank_tf.training.vocabulary`). "No id" ("" / -1) stays
    # "no id". The history's items and candidate take the vocabulary of the id feature named
    # ``history.candidate_field`` when it is on ``history.item_table`` (HistoryConfig).
    min_count: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.min_count, bool) or not isinstance(self.min_count, int) \
                or self.min_count < 0:
            raise ConfigError(f"features.ids[{self.name}].min_count: expected an int >= 0 "
                              f"(0: off), got {self.min_count!r}")


@dataclasses.dataclass
class DenseFeatureConfig(ConfigBase):
    """A numeric feature: a scalar or a fixed-length vector, normalised in the transform."""

    name: str
    size: int = 1
    transform: Literal["none", "log1p", "signed_log1p"] = "signed_log1p"
    default: float = 0.0


@dataclasses.dataclass
class HistoryConfig(ConfigBase):
    """The member's interaction history (LiRank §3.7): item ids and action types.

    Min-count vocabulary: the history has none of its own. When the id feature named
    ``candidate_field`` has ``min_count`` > 0 and lives on ``item_table``, the history's items
    and the history candidate are mapped with that feature's vocabulary (counted on the
    candidate column), so an item keeps one embedding row as candidate and in histories."""

    item_field: str = "history_item_ids"
    action_field: str = "history_action_types"
    item_table: str = "post"
    candidate_field: str = "root_object_id"
    max_length: int = 25
    num_action_types: int = 6


@dataclasses.dataclass
class FeaturesConfig(ConfigBase):
    tables: list[EmbeddingTableConfig] = field(default_factory=list)
    ids: list[IdFeatureConfig] = field(default_factory=list)
    dense: list[DenseFeatureConfig] = field(default_factory=list)
    history: HistoryConfig | None = None

    def table(self, name: str) -> EmbeddingTableConfig:
        for table in self.tables:
            if table.name == name:
                return table
        raise ConfigError(f"features.tables: no table named {name!r}; "
                          f"tables: {[t.name for t in self.tables]}")


@dataclasses.dataclass
class TaskConfig(ConfigBase):
    """One prediction head: its label field, its tower and its weight in the final score."""

    name: str
    label: str
    group: str = "main"
    score_weight: float = 1.0
    loss_weight: float = 1.0


@dataclasses.dataclass
class DataConfig(ConfigBase):
    train: list[str] = field(default_factory=list)
    valid: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    shuffle_buffer_size: int = 20_000
    # avro_op: the C++ AvroTensorDataset (LiRank §4.2); fastavro: the pure-Python reference reader
    reader: Literal["avro_op", "fastavro"] = "avro_op"


@dataclasses.dataclass
class ModelConfig(ConfigBase):
    """Architecture switches; each paper block can be turned off for ablations.

    ``options`` holds per-block hyper-parameters, passed to the block's layer as keyword
    arguments (see ``lirank_tf.models.options.BLOCK_OPTIONS`` for the blocks and keys).
    ``history_encoder`` turns on the Transformer history block; its
    ``options.transact.candidate_fusion`` is ``early`` (TransAct, default) or ``append``
    (amortized history encoder: the export can score N candidates of a member in one pass).
    The fields after ``options`` were added with the Feed / Ads / Jobs models:
    ``id_features`` (sparse id embeddings, Table 6 "+ IDs"), ``use_history`` (member history
    when the features have one), ``masknet`` (parallel MaskNet before the interaction block),
    ``sparse_moe`` (sparsely gated mixture of experts after the MLP), ``calibration_features``
    (id features whose hash buckets feed the isotonic layer's embedding e, §3.4) hashed into
    ``calibration_buckets`` rows, and ``route_feature`` / ``route_values`` (one tower per value
    of an id feature, e.g. the Jobs channel: Job Search or JYMBII, §A.8).
    ``setwise_group`` (Feed model; "" = off) names an id feature of kind "id" whose value groups
    the rows of a request, e.g. ``viewer_id``: LiGR-style set-wise attention
    (``options.setwise``) lets the rows of a group attend to each other before the task heads,
    and training keeps the rows of a session in one batch (``lirank_tf.training.pipeline``).
    ``embedding_l2`` (>= 0; 0 = off) penalises the embedding rows a batch looks up, as CTR
    libraries regularise embeddings: ``embedding_l2`` x the batch mean, over the id features,
    of each feature's mean squared L2 norm of its looked-up vectors (`lirank_tf.models.
    regularization.TouchedRowL2`); rows no example touches are left alone. ``mlp_batch_norm``
    puts batch norm between each hidden layer's matmul and its activation (dropout stays
    last, `GatedMLP`). ``platt_scaling`` puts a slope and a bias on each head's logit (after
    the isotonic layer, before the sigmoid; `lirank_tf.layers.PlattScaling`) that training
    does not update: once training is over, they are fitted on the validation files by log
    loss (`lirank_tf.training.platt`; the identity without validation files), so the
    model's probabilities match the rates seen on held-out data. The order of the scores, and
    so the AUC, is unchanged.
    """

    name: str = "feed"
    hidden_units: list[int] = field(default_factory=lambda: [100, 100, 100, 100])
    tower_units: list[int] = field(default_factory=lambda: [64])
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm_dense: bool = True
    dense_gating: bool = False
    interaction: Literal["none", "dcnv2", "residual_dcn"] = "none"
    cross_layers: int = 2
    cross_rank: int = 32
    multitask: Literal["hard_sharing", "grouping", "mmoe", "ple"] = "grouping"
    num_experts: int = 4
    history_encoder: bool = False
    isotonic_calibration: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    id_features: bool = True
    use_history: bool = True
    masknet: bool = False
    sparse_moe: bool = False
    calibration_features: list[str] = field(default_factory=list)
    calibration_buckets: int = 64
    route_feature: str = ""
    route_values: list[str] = field(default_factory=list)
    setwise_group: str = ""
    embedding_l2: float = 0.0
    mlp_batch_norm: bool = False
    platt_scaling: bool = False

    def __post_init__(self) -> None:
        if not (0.0 <= self.embedding_l2 < float("inf")):
            raise ConfigError(f"model.embedding_l2: expected a finite number >= 0 (0: off), got "
                              f"{self.embedding_l2!r}")
        if not isinstance(self.setwise_group, str):
            raise ConfigError(f"model.setwise_group: expected the name of an id feature or \"\", "
                              f"got {self.setwise_group!r}")
        if not self.hidden_units or any(u < 1 for u in self.hidden_units):
            raise ConfigError(f"model.hidden_units: expected a non-empty list of positive ints, "
                              f"got {self.hidden_units!r}")
        if any(u < 1 for u in self.tower_units):
            raise ConfigError(f"model.tower_units: expected positive ints, got {self.tower_units!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout: expected a rate in [0, 1), got {self.dropout!r}")
        for name in ("cross_layers", "cross_rank", "num_experts", "calibration_buckets"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name}: expected a positive int, got {getattr(self, name)!r}")
        if len(set(self.calibration_features)) != len(self.calibration_features):
            raise ConfigError(f"model.calibration_features: repeated feature in "
                              f"{self.calibration_features!r}")
        if bool(self.route_feature) != bool(self.route_values):
            raise ConfigError("model.route_feature and model.route_values go together, got "
                              f"route_feature={self.route_feature!r}, route_values={self.route_values!r}")
        if len(set(self.route_values)) != len(self.route_values) or "" in self.route_values:
            raise ConfigError(f"model.route_values: expected distinct non-empty values, got "
                              f"{self.route_values!r}")


# training.monitor values besides "val_..." log keys ("" = "auc_logloss")
MONITORS = ("", "auc_logloss", "auc", "logloss")


@dataclasses.dataclass
class TrainingConfig(ConfigBase):
    batch_size: int = 512
    epochs: int = 2
    learning_rate: float = 2e-3
    # the optimizer of the embedding rows (LiRank §6.2: AdaGrad for models with many sparse
    # features, Adam otherwise) and its learning rate; dense weights always use Adam
    sparse_optimizer: Literal["adagrad", "adam"] = "adagrad"
    sparse_learning_rate: float = 0.05
    warmup_fraction: float = 0.1
    # LiRank §6.2: the warm-up fraction grows with the batch size (x2 per doubling over
    # ``base_batch_size``), capped at ``max_warmup_fraction``
    base_batch_size: int = 512
    max_warmup_fraction: float = 0.6
    decay: Literal["constant", "linear", "cosine"] = "cosine"
    clipnorm: float = 1.0
    steps_per_epoch: int = 0
    # validation-driven schedule (0 = off): stop after early_stopping_patience epochs without
    # a gain > early_stopping_min_delta of the validation score and keep the best epoch's
    # weights; halve the learning rates after reduce_lr_patience such epochs. The score
    # (`lirank_tf.training.callbacks.ValidationScore`), maximised: monitor "auc_logloss" (or
    # "", the default) = mean over tasks of val AUC - val log loss; "auc"; "logloss"; or a
    # "val_..." key of the epoch logs (e.g. val_click_auc).
    early_stopping_patience: int = 0
    early_stopping_min_delta: float = 1e-4
    reduce_lr_patience: int = 0
    reduce_lr_factor: float = 0.5
    monitor: str = ""
    seed: int = 7
    verbose: int = 1
    # under horovodrun: shard the embedding tables over the workers (LiRank §4.1, Fig. 7)
    # instead of replicating them; needs clipnorm: 0 (workers see different table gradients)
    shard_embeddings: bool = False

    def __post_init__(self) -> None:
        for name in ("batch_size", "base_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"training.{name}: expected a positive int, got "
                                  f"{getattr(self, name)!r}")
        if self.epochs < 0:   # 0: the initial weights are saved untrained
            raise ConfigError(f"training.epochs: expected an int >= 0, got {self.epochs!r}")
        for name in ("early_stopping_patience", "reduce_lr_patience", "steps_per_epoch"):
            if getattr(self, name) < 0:
                raise ConfigError(f"training.{name}: expected an int >= 0 (0: off), got "
                                  f"{getattr(self, name)!r}")
        if not (0.0 <= self.early_stopping_min_delta < 1.0):
            raise ConfigError(f"training.early_stopping_min_delta: expected a number in [0, 1), "
                              f"got {self.early_stopping_min_delta!r}")
        if not 0.0 < self.reduce_lr_factor < 1.0:
            raise ConfigError(f"training.reduce_lr_factor: expected a number in (0, 1), got "
                              f"{self.reduce_lr_factor!r}")
        if self.monitor not in MONITORS and not self.monitor.startswith("val_"):
            raise ConfigError(f"training.monitor: expected one of {list(MONITORS)} or a 'val_...' "
                              f"key of the epoch logs, got {self.monitor!r}")


@dataclasses.dataclass
class ExportConfig(ConfigBase):
    quantize: Literal["none", "int8"] = "none"


@dataclasses.dataclass
class ExploreConfig(ConfigBase):
    """Neural-Linear Thompson sampling (LiRank §3.8, `lirank_tf.explore`).

    ``enabled``: every training run ends with the Bayesian posterior of its last layer over its
    training data (``RUN/explore/``; an incremental run carries its previous run's posterior
    over, earlier evidence weighted by ``decay``), and the export adds the ``serve_explore``
    signature (raw features + an int64 ``seed``: one Thompson draw of the last layer per
    request, spread times ``exploration_scale``). ``tasks``: the heads explored (empty: all);
    ``prior_variance``: of the isotropic prior around the trained weights; ``max_examples``:
    cap on the examples of the update (0: all the training data). ``root_object_scale`` (with
    an export's root-object table, LiRank §3.9): ``serve_explore`` draws the effect of each root
    object the table does not hold from the effects' prior N(0, 1/l2), times this scale (0: new
    root objects get no effect, as on the other signatures).
    """

    enabled: bool = False
    tasks: list[str] = field(default_factory=list)
    prior_variance: float = 1.0
    decay: float = 0.5
    exploration_scale: float = 1.0
    max_examples: int = 0
    root_object_scale: float = 0.0

    def __post_init__(self) -> None:
        if not self.prior_variance > 0:
            raise ConfigError(f"explore.prior_variance: expected a number > 0, got "
                              f"{self.prior_variance!r}")
        if not 0.0 <= self.decay <= 1.0:
            raise ConfigError(f"explore.decay: expected a number in [0, 1], got {self.decay!r}")
        if not self.exploration_scale >= 0:
            raise ConfigError(f"explore.exploration_scale: expected a number >= 0, got "
                              f"{self.exploration_scale!r}")
        if not self.root_object_scale >= 0:
            raise ConfigError(f"explore.root_object_scale: expected a number >= 0, got "
                              f"{self.root_object_scale!r}")
        if self.max_examples < 0:
            raise ConfigError(f"explore.max_examples: expected an int >= 0 (0: all), got "
                              f"{self.max_examples!r}")


@dataclasses.dataclass
class ExperimentConfig(ConfigBase):
    name: str
    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    tasks: list[TaskConfig] = field(default_factory=list)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    explore: ExploreConfig = field(default_factory=ExploreConfig)

    def __post_init__(self) -> None:
        table_names = {t.name for t in self.features.tables}
        for feature in self.features.ids:
            if feature.table not in table_names:
                raise ConfigError(f"features.ids[{feature.name}].table: no table named "
                                  f"{feature.table!r}; tables: {sorted(table_names)}")
        for role in ("setwise_group", "route_feature"):
            # their hashes are compared: rare ids sharing one token would look alike
            named = getattr(self.model, role)
            if any(f.name == named and f.min_count for f in self.features.ids):
                raise ConfigError(f"features.ids[{named}].min_count: must be 0 for the feature "
                                  f"of model.{role} (its ids are compared, not embedded)")
        history = self.features.history
        if history is not None and history.item_table not in table_names:
            raise ConfigError(f"features.history.item_table: no table named "
                              f"{history.item_table!r}; tables: {sorted(table_names)}")
        if not self.tasks:
            raise ConfigError("tasks: at least one task is required")
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ConfigError(f"tasks: task names must be unique, got {names}")
        unknown = [t for t in self.explore.tasks if t not in names]
        if unknown:
            raise ConfigError(f"explore.tasks: {unknown} are not tasks; tasks: {names}")

    @classmethod
    def load(cls, path: str | Path, overrides: Sequence[str] = ()) -> "ExperimentConfig":
        """The config of a YAML or JSON file, with ``--set``-style ``overrides``
        (``"training.epochs=3"``, `lirank_tf.config.overrides`) applied; a `ConfigError` names
        the file and the key."""
        data = read_mapping(path)
        try:
            if overrides:
                data = apply_overrides(cls.from_dict(data).to_dict(), overrides)
            return cls.from_dict(data)
        except ConfigError as error:
            if str(error).startswith(f"{path}: "):
                raise
            raise ConfigError(f"{path}: {error}") from None

    def save(self, path: str | Path) -> Path:
        return write_mapping(self.to_dict(), path)
