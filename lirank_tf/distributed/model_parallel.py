"""Turns a plain functional Keras model into its model-parallel twin: the embedding tables
sharded over the workers (table-wise or row-wise), everything else data-parallel. The paper
calls its version "4D model parallelism" (LiRank §4.1); what is built here has these two
dimensions.

    sharded = shard_model(model)                      # every worker, same plain model
    sharded = DistributedModel(sharded); sharded.compile(...); sharded.fit(...)

``shard_model`` clones the model; every top-level ``keras.layers.Embedding`` and
``QRHashEmbedding`` becomes its sharded twin (``sharded_layers``), which holds only this
worker's rows, and the calls of these layers on model inputs are fused, one
``ShardedEmbeddingGroup`` (one exchange) per table width; all other layers are cloned and
stay data-parallel (their gradients are averaged by ``DistributedModel``). Initial values
are those of ``model`` (its tables are first broadcast from rank 0, so every worker shards
the same values).

References: LiRank §4.1, §A.4, Fig. 7.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import numpy as np

from lirank_tf.distributed.context import DistributedContext, current_context
from lirank_tf.distributed.sharded_group import ShardedEmbeddingGroup
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


def input_calls(model: keras.Model) -> list[tuple[str, int]]:
    """``(layer name, index in the flat model inputs)`` of every call of a shardable layer of
    ``model`` on one model input (the calls a ``ShardedEmbeddingGroup`` can fuse).

    Keras has no public list of a layer's calls in a functional model: the layers' private
    ``_inbound_nodes`` are read here (and only here)."""
    flat_inputs = keras.tree.flatten(model.input)
    calls = []
    for layer in model.layers:
        if type(layer) not in SHARDED_TWINS:
            continue
        for node in layer._inbound_nodes:
            tensors = node.input_tensors
            if len(tensors) == 1 and not node.arguments.kwargs:
                position = [i for i, x in enumerate(flat_inputs) if x is tensors[0]]
                calls.extend((layer.name, i) for i in position)
    return calls


def shard_model(model: keras.Model, context: DistributedContext | None = None, *,
                plan: ShardingPlan | None = None, row_wise: Iterable[str] = (),
                max_bytes_per_worker: int | None = None, broadcast_tables: bool = True,
                fuse: bool = True) -> keras.Model:
    """The model-parallel clone of the functional (or sequential) model ``model``.

    Args:
        model: built functional model whose embedding layers are top-level layers.
        context: ``DistributedContext`` or None (default): ``current_context()``.
        plan: ``ShardingPlan`` to use, or None (default): ``plan_sharding`` of the model's
            tables over ``context.size`` workers with ``row_wise`` and ``max_bytes_per_worker``.
        row_wise: table keys (``"layer/table"``) to split row-wise over all workers.
        max_bytes_per_worker: int or None, see ``plan_sharding``.
        broadcast_tables: bool, default True: broadcast the plain tables from rank 0 first.
        fuse: bool, default True (functional models): the calls of sharded layers on model
            inputs share one exchange per table width (``ShardedEmbeddingGroup``); False:
            one exchange per call.

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

    twins: dict[str, ShardedTables] = {}
    for layer in model.layers:
        if type(layer) in SHARDED_TWINS:
            twins[layer.name] = SHARDED_TWINS[type(layer)].from_plain(layer, plan, context)
            twins[layer.name].build(None)

    def clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        if layer.name in twins:
            return twins[layer.name]
        return layer.__class__.from_config(layer.get_config())

    new_inputs = keras.tree.map_structure(
        lambda x: keras.Input(batch_shape=x.shape, dtype=x.dtype, name=x.name), model.input)
    flat_inputs = keras.tree.flatten(new_inputs)
    fused = input_calls(model) if fuse and not isinstance(model, keras.Sequential) else []
    group_outputs: dict[tuple[str, int], object] = {}

    def call_layer(layer: keras.layers.Layer, *args, **kwargs):
        position = [i for i, x in enumerate(flat_inputs) if args and x is args[0]]
        call = (layer.name, position[0]) if position and not kwargs else None
        if call in fused and call not in group_outputs:
            width = layer.table_dim
            calls = [c for c in fused if twins[c[0]].table_dim == width]
            if len(calls) > 1:  # one exchange for all calls of this width
                members = list(dict.fromkeys(twins[name] for name, _ in calls))
                group = ShardedEmbeddingGroup(
                    members, [members.index(twins[name]) for name, _ in calls], context,
                    name=f"sharded_embeddings_dim{width}")
                group_outputs.update(zip(calls, group([flat_inputs[i] for _, i in calls])))
        if call in group_outputs:
            return group_outputs[call]
        return layer(*args, **kwargs)

    sharded = keras.models.clone_model(model, input_tensors=new_inputs, clone_function=clone_layer,
                                       call_function=call_layer if fused else None)
    table_values = {key: variable.numpy() for key, variable in tables.items()}
    for twin in twins.values():
        twin.assign_from_tables(table_values)
    for layer in sharded.layers:
        if layer.weights and not isinstance(layer, (ShardedTables, ShardedEmbeddingGroup)):
            layer.set_weights(model.get_layer(layer.name).get_weights())
    sharded.sharding_plan = plan
    return sharded
