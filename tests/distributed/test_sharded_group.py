"""Tests of lirank_tf.distributed.sharded_group: one exchange for several sharded layers,
with the outputs and summed gradients of the plain layers, across thread-ranks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dist_fake_contexts import ThreadGroup
from layer_checks import assert_config_round_trip, assert_doctests_pass
from lirank_tf.distributed import sharded_group
from lirank_tf.distributed.sharded_group import ShardedEmbeddingGroup
from lirank_tf.distributed.sharded_layers import ShardedEmbedding, ShardedQRHashEmbedding
from lirank_tf.distributed.sharding_plan import TableSpec, plan_sharding
from lirank_tf.layers.qr_hash import QRHashEmbedding


def plain_layers(output_mode: str = "pooled"):
    ids = keras.layers.Embedding(12, 3, name="ids")
    query = QRHashEmbedding(embedding_dim=3, num_quotient_buckets=9, num_remainder_buckets=4,
                            pooling="mean", output_mode=output_mode, name="query")
    ids.build((None,))
    query.build(None)
    for i, table in enumerate(ids.weights + query.weights):
        table.assign(np.arange(np.prod(table.shape), dtype=np.float32).reshape(table.shape)
                     / 50.0 - i)
    return ids, query


def sharded_pair(ids, query, world_size, context=None):
    tables = [TableSpec(f"{layer.name}/{v.name}", *v.shape) for layer in (ids, query)
              for v in layer.weights]
    plan = plan_sharding(tables, world_size, row_wise=["ids/embeddings"])
    full = {spec.key: v.numpy() for spec, v in zip(tables, ids.weights + query.weights)}
    twins = [ShardedEmbedding.from_plain(ids, plan, context),
             ShardedQRHashEmbedding.from_plain(query, plan, context)]
    for twin in twins:
        twin.build(None)
        twin.assign_from_tables(full)
    return twins


INPUTS = [  # per rank: ids (sequence), query lists (pooled), ids again (one per row)
    [np.array([[1, 11], [4, 4]]), np.array([["a", "b", ""], ["c", "", ""]]), np.array([0, 7])],
    [np.array([[9, 0], [2, 6]]), np.array([["b", "b", "q"], ["", "", ""]]), np.array([11, 11])],
]


def test_one_exchange_gives_plain_outputs_and_summed_table_gradients():
    ids, query = plain_layers()
    group_of_ranks = ThreadGroup(2)
    groups = []
    for rank in range(2):
        twins = sharded_pair(ids, query, 2, group_of_ranks.context(rank))
        groups.append(ShardedEmbeddingGroup(twins, calls=[0, 1, 0],
                                            context=group_of_ranks.context(rank)))
    weight = tf.constant([1.0, -1.0, 0.5])

    def step(rank):
        with tf.GradientTape() as tape:
            outputs = groups[rank]([tf.constant(x) for x in INPUTS[rank]])
            loss = tf.add_n([tf.reduce_sum(o * weight) for o in outputs])
        variables = [m.shard_rows for m in groups[rank].members]
        gradients = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, variables)]
        return [o.numpy() for o in outputs], gradients

    results = group_of_ranks.run(step)
    assert group_of_ranks.alltoall_calls == [3, 3]  # ids out, rows back, row gradients back
    plain_gradients = {}
    for rank in range(2):
        with tf.GradientTape() as tape:
            expected = [ids(INPUTS[rank][0]), query(tf.constant(INPUTS[rank][1])),
                        ids(INPUTS[rank][2])]
            loss = tf.add_n([tf.reduce_sum(o * weight) for o in expected])
        tables = ids.weights + query.weights
        for table, gradient in zip(tables, tape.gradient(loss, tables)):
            key = f"{'ids' if table is ids.embeddings else 'query'}/{table.name}"
            gradient = tf.convert_to_tensor(gradient).numpy()
            plain_gradients[key] = plain_gradients.get(key, 0) + gradient
        for got, want in zip(results[rank][0], expected):
            np.testing.assert_allclose(got, want.numpy(), rtol=1e-6)
    for rank in range(2):
        for member, gradient in zip(groups[rank].members, results[rank][1]):
            assert np.isfinite(gradient).all()
            for s in member.table_segments():
                rows = gradient[s.local_offset:s.local_offset + s.row_end - s.row_start]
                np.testing.assert_allclose(rows, plain_gradients[s.key][s.row_start:s.row_end],
                                           rtol=1e-5, atol=1e-7, err_msg=s.key)


def test_sequence_outputs_and_config_round_trip():
    ids, query = plain_layers(output_mode="sequence")
    group = ShardedEmbeddingGroup(sharded_pair(ids, query, 1), calls=[1, 0], name="fused")
    queries, id_lists = tf.constant([["a", "", "b"]]), tf.constant([[3, 5, 7]])
    (embeddings, mask), id_rows = group([queries, id_lists])
    plain_embeddings, plain_mask = query(queries)
    np.testing.assert_allclose(embeddings.numpy(), plain_embeddings.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(mask.numpy(), plain_mask.numpy())
    np.testing.assert_array_equal(id_rows.numpy(), ids(id_lists).numpy())
    assert_config_round_trip(group)
    assert_doctests_pass(sharded_group)


def test_invalid_arguments_raise():
    ids, query = plain_layers()
    twins = sharded_pair(ids, query, 1)
    narrow = ShardedEmbedding(5, 2, sharding_plan=plan_sharding(
        [TableSpec("narrow/embeddings", 5, 2)], 1), name="narrow")
    with pytest.raises(ValueError, match=r"one width, got widths \[2, 3\]"):
        ShardedEmbeddingGroup([twins[0], narrow], calls=[0, 1])
    with pytest.raises(ValueError, match=r"member indices in \[0, 2\), got \[0, 2\]"):
        ShardedEmbeddingGroup(twins, calls=[0, 2])
    with pytest.raises(ValueError, match="non-empty list of sharded embedding layers"):
        ShardedEmbeddingGroup([ids], calls=[0])
    with pytest.raises(ValueError, match="expects 2 inputs, got 1"):
        ShardedEmbeddingGroup(twins, calls=[0, 1])([tf.constant([1])])
