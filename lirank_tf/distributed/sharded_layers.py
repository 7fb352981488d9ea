"""Model-parallel twins of the embedding layers: same inputs, outputs and config, sharded tables.

``ShardedEmbedding`` replaces ``keras.layers.Embedding`` and ``ShardedQRHashEmbedding``
replaces ``lirank_tf.layers.qr_hash.QRHashEmbedding``. Each holds only its worker's rows of
its tables, in one variable ``shard_rows`` (shape ``[rows held here, dim]``, possibly 0 rows),
and looks rows up with ``ShardedLookup`` (two all-to-alls), or lets a
``ShardedEmbeddingGroup`` look them up together with other layers' rows. Table ``t`` of layer
``L`` is known to the sharding plan and to checkpoints as ``"L/t"``, the path of the plain
layer's variable, e.g. ``"viewer_embedding/embeddings"`` or
``"actor_embedding/quotient_table_low"``.

These layers are per-worker objects: save them with ``sharded_checkpoint`` (a ``.keras`` file
of one worker holds only that worker's rows) and export the plain model restored from it.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.distributed.context import DistributedContext, current_context
from lirank_tf.distributed.sharded_lookup import ShardedLookup, TableSegment
from lirank_tf.distributed.sharding_plan import ShardingPlan
from lirank_tf.layers.qr_hash import QRHashEmbedding, qr_hash_indices


def table_key(layer_name: str, table_name: str) -> str:
    """The plan / checkpoint key of table ``table_name`` of layer ``layer_name``."""
    return f"{layer_name}/{table_name}"


class ShardedTables:
    """Mixin of the model-parallel layers: the ``shard_rows`` variable and its lookup."""

    # Set by a ShardedEmbeddingGroup while it runs this layer's ``call``: it then answers
    # the layer's lookups, so that the tables of several layers share one exchange.
    rows_source = None

    def _init_sharding(self, table_rows: Mapping[str, int], dim: int,
                       sharding_plan: ShardingPlan | Mapping,
                       context: DistributedContext | None) -> None:
        if isinstance(sharding_plan, Mapping):
            sharding_plan = ShardingPlan.from_dict(sharding_plan)
        if not isinstance(sharding_plan, ShardingPlan):
            raise ValueError("sharding_plan must be a ShardingPlan or its dict, "
                             f"got {sharding_plan!r}")
        self.table_keys = {name: table_key(self.name, name) for name in table_rows}
        plan = sharding_plan.subset(self.table_keys.values())
        for name, rows in table_rows.items():
            if plan.rows(self.table_keys[name]) != rows:
                raise ValueError(f"sharding_plan places {plan.rows(self.table_keys[name])} rows "
                                 f"of table {self.table_keys[name]!r}, but it has {rows}")
        self.sharding_plan = plan
        self.distributed_context = context if context is not None else current_context()
        self._lookup = ShardedLookup(plan, dim, self.distributed_context)
        self.supports_jit = False  # Horovod ops have no XLA kernels
        self.autocast = False

    def _build_shard_rows(self, initializer, dim: int) -> None:
        self.shard_rows = self.add_weight(name="shard_rows", initializer=initializer,
                                          shape=(self._lookup.num_local_rows, dim))

    @property
    def table_dim(self) -> int:
        """The width of the layer's tables."""
        return self._lookup.dim

    def lookup_tables(self, indices: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """``{table name: rows}`` of ``{table name: int ids}`` (collective over workers)."""
        if self.rows_source is not None:
            return self.rows_source(indices)
        # ``value`` is the resource variable itself: gathers read rows, not a copy of the
        # table (``autocast`` is off, as in keras.layers.Embedding, for the same reason).
        rows = self._lookup(self.shard_rows.value,
                            [(self.table_keys[name], ids) for name, ids in indices.items()])
        return dict(zip(indices, rows))

    def table_segments(self) -> list[TableSegment]:
        """Which table rows this worker's ``shard_rows`` holds, and where."""
        return list(self._lookup.local_segments)

    def assign_from_tables(self, tables: Mapping[str, np.ndarray]) -> None:
        """Sets ``shard_rows`` from full tables ``{key: array [rows, dim]}``."""
        values = np.zeros(self.shard_rows.shape, self.shard_rows.dtype)
        for segment in self.table_segments():
            rows = segment.row_end - segment.row_start
            values[segment.local_offset:segment.local_offset + rows] = \
                np.asarray(tables[segment.key])[segment.row_start:segment.row_end]
        self.shard_rows.assign(values)

    def _sharding_config(self) -> dict:
        return {"sharding_plan": self.sharding_plan.to_dict()}


@keras.saving.register_keras_serializable(package="lirank_tf")
class ShardedEmbedding(ShardedTables, keras.layers.Layer):
    """``keras.layers.Embedding`` whose table is sharded over the workers of a Horovod job.

        output[..., :] = E[ids[...], :]     (E: [input_dim, output_dim], rows spread by the plan)

    Args:
        input_dim: int, number of rows of the table.
        output_dim: int, embedding width.
        sharding_plan: ``ShardingPlan`` (or its ``to_dict()``) that places table
            ``"{name}/embeddings"``; its ``world_size`` must equal the job's size.
        embeddings_initializer: initializer of the rows, default ``"uniform"``.
        mask_zero: bool, default False: id 0 is padding (as in ``keras.layers.Embedding``).
        context: ``DistributedContext`` or None (default): ``current_context()``.

    Example:
        >>> from lirank_tf.distributed.sharding_plan import TableSpec, plan_sharding
        >>> plan = plan_sharding([TableSpec("ids/embeddings", rows=10, dim=4)], world_size=1)
        >>> layer = ShardedEmbedding(10, 4, sharding_plan=plan, name="ids")
        >>> tuple(layer(tf.constant([[1, 2, 3]])).shape)
        (1, 3, 4)

    References: LiRank §4.1, §A.4 and Fig. 7 (the paper's "4D model parallelism"; here
    embedding sharding beside data parallelism).
    """

    def __init__(self, input_dim: int, output_dim: int, sharding_plan: ShardingPlan | Mapping,
                 embeddings_initializer: str | keras.initializers.Initializer = "uniform",
                 mask_zero: bool = False, context: DistributedContext | None = None, **kwargs):
        super().__init__(**kwargs)
        for argument, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{argument} must be a positive int, got {value!r}")
        if not isinstance(mask_zero, bool):
            raise ValueError(f"mask_zero must be a bool, got {mask_zero!r}")
        self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self._init_sharding({"embeddings": input_dim}, output_dim, sharding_plan, context)

    def build(self, input_shape=None) -> None:
        self._build_shard_rows(self.embeddings_initializer, self.output_dim)

    def call(self, inputs):
        ids = tf.convert_to_tensor(inputs)
        if not ids.dtype.is_integer:
            ids = tf.cast(ids, tf.int64)
        rows = self.lookup_tables({"embeddings": ids})["embeddings"]
        return tf.cast(rows, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return tf.not_equal(inputs, 0) if self.mask_zero else None

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    @classmethod
    def from_plain(cls, layer: keras.layers.Embedding, sharding_plan: ShardingPlan,
                   context: DistributedContext | None = None) -> "ShardedEmbedding":
        """The sharded twin of ``layer`` (same name and config; weights not copied)."""
        config = layer.get_config()
        unsupported = [k for k in ("embeddings_regularizer", "embeddings_constraint",
                                   "activity_regularizer", "quantization_config")
                       if config.get(k) is not None] + (["lora"] if layer.lora_enabled else [])
        if unsupported:
            raise ValueError(f"layer {layer.name!r} uses {unsupported}, which ShardedEmbedding "
                             "does not support")
        return cls(config["input_dim"], config["output_dim"], sharding_plan,
                   embeddings_initializer=config["embeddings_initializer"],
                   mask_zero=config["mask_zero"], context=context, name=layer.name,
                   dtype=config["dtype"], trainable=config["trainable"])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"input_dim": self.input_dim, "output_dim": self.output_dim,
                       "embeddings_initializer": keras.initializers.serialize(
                           self.embeddings_initializer),
                       "mask_zero": self.mask_zero, **self._sharding_config()})
        return config


@keras.saving.register_keras_serializable(package="lirank_tf")
class ShardedQRHashEmbedding(ShardedTables, QRHashEmbedding):
    """``QRHashEmbedding`` whose quotient and remainder tables are sharded over the workers.

    Same hashing, combination, padding, pooling and outputs as ``QRHashEmbedding`` (it
    inherits them); only the table lookups go through the all-to-alls, all tables of the
    layer in one exchange::

        e(id) = Q_B[q(B)] + R_B[r(B)] + Q_C[q(C)] + R_C[r(C)]

    (tables ``"{name}/quotient_table_low"``, ``"{name}/remainder_table_low"``, ...)

    Args:
        *args, **kwargs: those of ``QRHashEmbedding``.
        sharding_plan: ``ShardingPlan`` (or its dict) placing every table of the layer.
        context: ``DistributedContext`` or None (default): ``current_context()``.

    Example:
        >>> from lirank_tf.distributed.sharding_plan import TableSpec, plan_sharding
        >>> rows = {"quotient": 50, "remainder": 7}
        >>> specs = [TableSpec(f"q/{kind}_table_{half}", rows=rows[kind], dim=4)
        ...          for half in ("low", "high") for kind in rows]
        >>> layer = ShardedQRHashEmbedding(embedding_dim=4, num_quotient_buckets=50,
        ...     num_remainder_buckets=7, sharding_plan=plan_sharding(specs, 1), name="q")
        >>> tuple(layer(tf.constant(["a", "b"])).shape)
        (2, 4)

    References: LiRank §3.12 and §A.7 (QR hash tables), §4.1 and §A.4 (model parallelism).
    """

    distinct_lookups_at_inference = False   # the all-to-alls must match on every worker

    def __init__(self, *args, sharding_plan: ShardingPlan | Mapping,
                 context: DistributedContext | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        halves = ("low", "high") if self.use_both_halves else ("low",)
        self._table_order = [f"{kind}_table_{half}" for half in halves
                             for kind in ("quotient", "remainder")]
        rows = {"quotient": self.num_quotient_buckets, "remainder": self.num_remainder_buckets}
        self._init_sharding({name: rows[name.split("_")[0]] for name in self._table_order},
                            self.embedding_dim, sharding_plan, context)

    def build(self, input_shape=None) -> None:
        self._build_shard_rows(self.embeddings_initializer, self.embedding_dim)

    def embed_hashes(self, hashes: tf.Tensor) -> tf.Tensor:
        quotient_indices, remainder_indices = qr_hash_indices(
            hashes, self.num_quotient_buckets, self.num_remainder_buckets)
        indices = {}
        for half, name in enumerate(self._table_order[::2]):
            indices[name] = quotient_indices[..., half]
            indices[name.replace("quotient", "remainder")] = remainder_indices[..., half]
        rows = self.lookup_tables(indices)
        combine = tf.add if self.aggregation == "sum" else tf.multiply
        embeddings = rows[self._table_order[0]]
        for name in self._table_order[1:]:  # the plain layer's order, for identical sums
            embeddings = combine(embeddings, rows[name])
        return tf.cast(embeddings, self.compute_dtype)

    @classmethod
    def from_plain(cls, layer: QRHashEmbedding, sharding_plan: ShardingPlan,
                   context: DistributedContext | None = None) -> "ShardedQRHashEmbedding":
        """The sharded twin of ``layer`` (same name and config; weights not copied)."""
        return cls(**layer.get_config(), sharding_plan=sharding_plan, context=context)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._sharding_config()}
