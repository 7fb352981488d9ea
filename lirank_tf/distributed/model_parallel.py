"""Turns a plain functional Keras model into its model-parallel twin ("4D model parallelism").

    sharded = shard_model(model)                      # every worker, same plain model
    sharded = DistributedModel(sharded); sharded.compile(...); sharded.fit(...)

``shard_model`` clones the model; every top-level ``keras.layers.Embedding`` and
``QRHashEmbedding`` becomes its sharded twin (``sharded_layers``), which holds only this
worker's rows; all other layers are cloned and stay data-parallel (their gradients are
averaged by ``DistributedModel``). Initial values are those of ``model`` (its tables are
first broadcast from rank 0, so every worker shards the same values).

References: LiRank §4.1, §A.4, Fig. 7.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import numpy as np

from lirank_tf.distributed.context import DistributedContext, current_context
from lirank_tf.distributed.sharded_layers import (ShardedEmbedding, ShardedQRHashEmbedding,
                                                  ShardedTables, table_key)
from lirank_tf.distributed.sharding_plan import ShardingPlan, TableSpec, plan_sharding
from lirank_tf.layers.qr_hash import QRHashEmbedding

# Plain layer class -> its sharded twin (exact classes: a subclass may change the lookup).
SHARDED_TWINS: dict[type, type] = {
    keras.layers.Embedding: ShardedEmbedding,
    QRHashEmbedding: ShardedQRHashEmbedding,
}


def plain_tables(layer: keras.layers.Layer) -> dict[str, keras.Variable]:
    """``{table key: variable}`` of a plain embedding layer that can be sharded, else ``{}``."""
    if type(layer) is keras.layers.Embedding:
        return {table_key(layer.name, "embeddings"): layer.embeddings}
    if type(layer) is QRHashEmbedding:
        return {table_key(layer.name, v.name): v
                for v in [*layer.quotient_tables, *layer.remainder_tables]}
    return {}


def table_specs(model: keras.Model) -> list[TableSpec]:
    """The shardable tables of the top-level layers of ``model``, in layer order."""
    specs = []
    for layer in model.layers:
        for key, variable in plain_tables(layer).items():
            rows, dim = variable.shape
            specs.append(TableSpec(key, int(rows), int(dim),
                                   bytes_per_value=np.dtype(variable.dtype).itemsize))
    return specs


def shard_model(model: keras.Model, context: DistributedContext | None = None, *,
                plan: ShardingPlan | None = None, row_wise: Iterable[str] = (),
                max_bytes_per_worker: int | None = None,
                broadcast_tables: bool = True) -> keras.Model:
    """The model-parallel clone of the functional (or sequential) model ``model``.

    Args:
        model: built functional model whose embedding layers are top-level layers.
        context: ``DistributedContext`` or None (default): ``current_context()``.
        plan: ``ShardingPlan`` to use, or None (default): ``plan_sharding`` of the model's
            tables over ``context.size`` workers with ``row_wise`` and ``max_bytes_per_worker``.
        row_wise: table keys (``"layer/table"``) to split row-wise over all workers.
        max_bytes_per_worker: int or None, see ``plan_sharding``.
        broadcast_tables: bool, default True: broadcast the plain tables from rank 0 first.

    Returns:
        A new model with the same inputs, outputs, layer names and values; ``sharding_plan``
        is set on it as an attribute.
    """
    context = context if context is not None else current_context()
    if not isinstance(model, keras.Model) or not hasattr(model, "inputs") or model.inputs is None:
        raise ValueError("model must be a built functional or sequential keras.Model, "
                         f"got {model!r}")
    specs = table_specs(model)
    if not specs:
        raise ValueError(f"model {model.name!r} has no top-level layer of a shardable class "
                         f"({[c.__name__ for c in SHARDED_TWINS]}) to shard")
    if plan is None:
        plan = plan_sharding(specs, context.size, row_wise=row_wise,
                             max_bytes_per_worker=max_bytes_per_worker)
    tables = {key: variable for layer in model.layers
              for key, variable in plain_tables(layer).items()}
    if broadcast_tables:
        # Horovod: broadcast the plain tables from rank 0 so every worker shards the same rows.
        context.broadcast_variables(list(tables.values()), root_rank=0)

    def clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        if type(layer) in SHARDED_TWINS:
            return SHARDED_TWINS[type(layer)].from_plain(layer, plan, context)
        return layer.__class__.from_config(layer.get_config())

    sharded = keras.models.clone_model(model, clone_function=clone_layer)
    table_values = {key: variable.numpy() for key, variable in tables.items()}
    for layer in sharded.layers:
        if isinstance(layer, ShardedTables):
            layer.assign_from_tables(table_values)
        elif layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    sharded.sharding_plan = plan
    return sharded
