"""Tests of lirank_tf.distributed.model_parallel.shard_model, in one process and across
thread-ranks (the horovodrun tests are in test_horovod_model_parallel.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dist_fake_contexts import RecordingContext, ThreadGroup
from hvd_toy_model import build_plain_model, make_examples
from lirank_tf.distributed.context import SingleProcessContext
from lirank_tf.distributed.model_parallel import shard_model, table_specs
from lirank_tf.distributed.sharded_group import ShardedEmbeddingGroup
from lirank_tf.distributed.sharded_layers import ShardedEmbedding, ShardedQRHashEmbedding
from lirank_tf.distributed.variables import sharded_layers

TABLE_KEYS = ["user_embedding/embeddings", "item_embedding/embeddings",
              "query_embedding/quotient_table_low", "query_embedding/remainder_table_low",
              "query_embedding/quotient_table_high", "query_embedding/remainder_table_high"]


def as_tensors(features: dict) -> dict:
    return {k: tf.constant(v) for k, v in features.items()}


def test_table_specs_list_every_embedding_table():
    specs = table_specs(build_plain_model(3))
    assert sorted(s.key for s in specs) == sorted(TABLE_KEYS)
    shapes = {s.key: (s.rows, s.dim, s.bytes_per_value) for s in specs}
    assert shapes["user_embedding/embeddings"] == (37, 4, 4)
    assert shapes["query_embedding/remainder_table_high"] == (5, 4, 4)


@pytest.mark.parametrize("fuse", [True, False])
def test_sharded_model_in_one_process_has_plain_outputs_and_its_own_weights(fuse):
    plain = build_plain_model(3)
    sharded = shard_model(plain, SingleProcessContext(), fuse=fuse)
    kinds = {layer.name: type(layer) for layer in sharded.layers}
    twins = {layer.name: type(layer) for layer in sharded_layers(sharded)}
    assert twins == {"user_embedding": ShardedEmbedding, "item_embedding": ShardedEmbedding,
                     "query_embedding": ShardedQRHashEmbedding}
    if fuse:  # the three layers (all of width 4) share one exchange
        assert kinds["sharded_embeddings_dim4"] is ShardedEmbeddingGroup
        assert not set(twins) & set(kinds)
    else:
        assert set(twins) <= set(kinds)
    assert kinds["hidden"] is keras.layers.Dense
    features, _ = make_examples(8, seed=1)
    np.testing.assert_allclose(sharded(as_tensors(features)).numpy(),
                               plain(as_tensors(features)).numpy(), rtol=1e-6)
    hidden = sharded.get_layer("hidden").kernel
    assert hidden is not plain.get_layer("hidden").kernel
    np.testing.assert_array_equal(hidden.numpy(), plain.get_layer("hidden").kernel.numpy())
    assert sharded.sharding_plan.world_size == 1


def test_sharded_model_across_two_thread_ranks_matches_plain_model():
    plain = build_plain_model(4)
    group = ThreadGroup(2)
    models = [shard_model(plain, group.context(rank), row_wise=["user_embedding/embeddings"],
                          broadcast_tables=False) for rank in range(2)]
    held = [sorted(s.key for layer in sharded_layers(m) for s in layer.table_segments())
            for m in models]
    assert sorted(held[0] + held[1]) == sorted(TABLE_KEYS + ["user_embedding/embeddings"])
    assert "user_embedding/embeddings" in held[0] and "user_embedding/embeddings" in held[1]
    features, _ = make_examples(10, seed=2)
    local = [{k: v[:6] for k, v in features.items()}, {k: v[6:] for k, v in features.items()}]
    outputs = group.run(lambda rank: models[rank](as_tensors(local[rank])).numpy())
    for rank in range(2):
        np.testing.assert_allclose(outputs[rank], plain(as_tensors(local[rank])).numpy(), rtol=1e-6)


def test_tables_are_broadcast_from_rank_zero_before_sharding():
    plain = build_plain_model(5)
    context = RecordingContext(rank=1, size=2)
    shard_model(plain, context)
    (name, (variables, root)), = [c for c in context.calls if c[0] == "broadcast_variables"]
    assert root == 0
    assert sorted(v.path for v in variables) == sorted(TABLE_KEYS)


def test_models_that_cannot_be_sharded_raise():
    inputs = keras.Input((3,))
    dense_only = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="has no top-level layer of a shardable class"):
        shard_model(dense_only, SingleProcessContext())

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="must be a built functional or sequential"):
        shard_model(Subclassed(), SingleProcessContext())


def test_the_project_feed_model_shards_across_two_thread_ranks():
    from lirank_tf.config.experiments import get_experiment
    from lirank_tf.models import build_model

    plain = build_model(get_experiment("feed"))
    group = ThreadGroup(2)
    models = [shard_model(plain, group.context(rank), broadcast_tables=False) for rank in range(2)]
    assert any(isinstance(layer, ShardedQRHashEmbedding) for layer in sharded_layers(models[0]))
    assert any(isinstance(layer, ShardedEmbeddingGroup) for layer in models[0].layers)
    rng = np.random.default_rng(0)  # small ids: valid for every table, hashed or not
    inputs = [{i.name: tf.constant(rng.integers(1, 4, [3, *i.shape[1:]]), i.dtype)
               if i.dtype == "int64" else tf.constant(rng.random([3, *i.shape[1:]]), i.dtype)
               for i in plain.inputs} for _ in range(2)]
    outputs = group.run(lambda rank: models[rank](inputs[rank]))
    for rank in range(2):
        expected = plain(inputs[rank])
        for task, value in expected.items():
            np.testing.assert_allclose(outputs[rank][task].numpy(), value.numpy(), rtol=1e-5,
                                       atol=1e-6, err_msg=task)
