"""Tests of lirank_tf.distributed.sharded_layers: the sharded twins give the plain layers'
outputs and (summed over ranks) table gradients, alone and across thread-ranks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dist_fake_contexts import ThreadGroup
from layer_checks import assert_config_round_trip, assert_doctests_pass
from lirank_tf.distributed import sharded_layers
from lirank_tf.distributed.sharded_layers import ShardedEmbedding, ShardedQRHashEmbedding
from lirank_tf.distributed.sharding_plan import TableSpec, plan_sharding
from lirank_tf.layers.qr_hash import QRHashEmbedding


def fixed_table(rows: int, dim: int, offset: float = 0.0) -> np.ndarray:
    return (np.arange(rows * dim, dtype=np.float32).reshape(rows, dim) / 100.0 + offset)


def embedding_plan(world_size: int, name: str = "ids", rows: int = 10, dim: int = 3, **kwargs):
    return plan_sharding([TableSpec(f"{name}/embeddings", rows, dim)], world_size, **kwargs)


def qr_pair(world_size: int, contexts=None, **config):
    """A built plain QR layer with fixed tables, and sharded twins (one per rank)."""
    plain = QRHashEmbedding(embedding_dim=3, num_quotient_buckets=11, num_remainder_buckets=4,
                            name="query", **config)
    plain.build(None)
    for i, table in enumerate([*plain.quotient_tables, *plain.remainder_tables]):
        table.assign(fixed_table(*table.shape, offset=i))
    specs = [TableSpec(f"query/{t.name}", *t.shape) for t in plain.weights]
    plan = plan_sharding(specs, world_size)
    full = {f"query/{t.name}": t.numpy() for t in plain.weights}
    twins = []
    for context in contexts or [None]:
        twin = ShardedQRHashEmbedding.from_plain(plain, plan, context)
        twin.build(None)
        twin.assign_from_tables(full)
        twins.append(twin)
    return plain, twins


def test_sharded_embedding_equals_numpy_gather_and_masks_like_embedding():
    layer = ShardedEmbedding(10, 3, sharding_plan=embedding_plan(1), mask_zero=True, name="ids")
    layer.build(None)
    layer.assign_from_tables({"ids/embeddings": fixed_table(10, 3)})
    ids = np.array([[0, 4, 9], [9, 9, 1]])
    np.testing.assert_array_equal(layer(ids).numpy(), fixed_table(10, 3)[ids])
    np.testing.assert_array_equal(layer.compute_mask(tf.constant(ids)).numpy(), ids != 0)
    assert [tuple(w.shape) for w in layer.weights] == [(10, 3)]
    assert layer.supports_jit is False


def test_sharded_embedding_across_ranks_matches_plain_outputs_and_gradients():
    group = ThreadGroup(2)
    plan = embedding_plan(2, row_wise=["ids/embeddings"])
    table = fixed_table(10, 3)
    layers = []
    for rank in range(2):
        layer = ShardedEmbedding(10, 3, sharding_plan=plan, context=group.context(rank), name="ids")
        layer.build(None)
        layer.assign_from_tables({"ids/embeddings": table})
        layers.append(layer)
    assert [tuple(layer.shard_rows.shape) for layer in layers] == [(5, 3), (5, 3)]
    ids = [np.array([[1, 7], [7, 7]]), np.array([[9, 0], [1, 5]])]
    upstream = [np.full((2, 2, 3), 1.0 + r, np.float32) for r in range(2)]

    def step(rank):
        with tf.GradientTape() as tape:
            out = layers[rank](ids[rank])
            loss = tf.reduce_sum(out * upstream[rank])
        gradient = tape.gradient(loss, layers[rank].shard_rows)
        return out.numpy(), tf.convert_to_tensor(gradient).numpy()

    results = group.run(step)
    expected_gradient = np.zeros_like(table)
    for rank in range(2):
        np.testing.assert_array_equal(results[rank][0], table[ids[rank]])
        np.add.at(expected_gradient, ids[rank].reshape(-1), upstream[rank].reshape(-1, 3))
    np.testing.assert_allclose(np.concatenate([g for _, g in results]), expected_gradient)


@pytest.mark.parametrize("config, ids", [
    ({"pooling": "mean"}, [["a", "b", ""], ["c", "", ""]]),
    ({"pooling": "sum", "use_both_halves": False}, [["a", "b"], ["b", "b"]]),
    ({"aggregation": "multiply"}, ["a", "z"]),
    ({"hashed_input": True, "pooling": "mean"}, [[-8_111_222_333_444_555_666, 42, 0]]),
])
def test_sharded_qr_equals_plain_qr(config, ids):
    plain, (twin,) = qr_pair(1, **config)
    ids = tf.constant(ids, tf.int64 if config.get("hashed_input") else tf.string)
    np.testing.assert_allclose(twin(ids).numpy(), plain(ids).numpy(), rtol=1e-6)


def test_sharded_qr_sequence_and_ragged_inputs_equal_plain():
    plain, (twin,) = qr_pair(1, output_mode="sequence")
    ids = tf.constant([["a", "", ""], ["b", "c", "d"]])
    for got, expected in zip(twin(ids), plain(ids)):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    plain, (twin,) = qr_pair(1, pooling="mean")
    ragged = tf.ragged.constant([["a", "b"], [], ["c"]])
    np.testing.assert_allclose(twin(ragged).numpy(), plain(ragged).numpy(), rtol=1e-6)


def test_sharded_qr_across_ranks_gives_plain_outputs_and_summed_gradients():
    group = ThreadGroup(2)
    plain, twins = qr_pair(2, contexts=[group.context(0), group.context(1)], pooling="mean")
    assert {t.shard_rows.shape[0] for t in twins} != {0}  # both ranks hold rows
    ids = [tf.constant([["a", "b", ""], ["q", "", ""]]),
           tf.constant([["b", "b", "x"], ["", "", ""]])]

    def step(rank):
        with tf.GradientTape() as tape:
            out = twins[rank](ids[rank])
            loss = tf.reduce_sum(out * tf.constant([1.0, -2.0, 0.5]))
        gradient = tf.convert_to_tensor(tape.gradient(loss, twins[rank].shard_rows))
        return out.numpy(), gradient.numpy()

    results = group.run(step)
    plain_gradients = {t.name: np.zeros(t.shape, np.float32) for t in plain.weights}
    for rank in range(2):
        with tf.GradientTape() as tape:
            expected = plain(ids[rank])
            loss = tf.reduce_sum(expected * tf.constant([1.0, -2.0, 0.5]))
        for table, gradient in zip(plain.weights, tape.gradient(loss, plain.weights)):
            plain_gradients[table.name] += tf.convert_to_tensor(gradient).numpy()
        np.testing.assert_allclose(results[rank][0], expected.numpy(), rtol=1e-6)
    for rank, twin in enumerate(twins):
        gradient = results[rank][1]
        assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0
        for segment in twin.table_segments():
            rows = slice(segment.local_offset,
                         segment.local_offset + segment.row_end - segment.row_start)
            np.testing.assert_allclose(
                gradient[rows], plain_gradients[segment.key.split("/")[1]][segment.row_start:
                                                                            segment.row_end],
                rtol=1e-5, atol=1e-7)


def test_config_round_trip_keras_file_and_saved_model(tmp_path):
    inputs = keras.Input((2,), dtype="int64")
    layer = ShardedEmbedding(10, 3, sharding_plan=embedding_plan(1), name="ids")
    model = keras.Model(inputs, keras.layers.Flatten()(layer(inputs)))
    layer.assign_from_tables({"ids/embeddings": fixed_table(10, 3)})
    assert_config_round_trip(layer)
    _, (twin,) = qr_pair(1)
    assert_config_round_trip(twin)
    assert_doctests_pass(sharded_layers)
    ids = np.array([[1, 2], [9, 0]])
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(reloaded(ids).numpy(), model(ids).numpy())
    model.export(str(tmp_path / "saved"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_array_equal(served.serve(tf.constant(ids)).numpy(), model(ids).numpy())


def test_invalid_arguments_raise():
    plan = embedding_plan(1)
    with pytest.raises(ValueError, match="input_dim must be a positive int, got 0"):
        ShardedEmbedding(0, 3, sharding_plan=plan, name="ids")
    with pytest.raises(ValueError, match="mask_zero must be a bool, got 1"):
        ShardedEmbedding(10, 3, sharding_plan=plan, mask_zero=1, name="ids")
    with pytest.raises(ValueError, match="places 10 rows of table 'ids/embeddings', but it has 12"):
        ShardedEmbedding(12, 3, sharding_plan=plan, name="ids")
    with pytest.raises(ValueError, match="no table"):
        ShardedEmbedding(10, 3, sharding_plan=plan, name="other")
    with pytest.raises(ValueError, match="sharding_plan must be a ShardingPlan"):
        ShardedEmbedding(10, 3, sharding_plan="plan", name="ids")
    regularized = keras.layers.Embedding(10, 3, embeddings_regularizer="l2", name="ids")
    with pytest.raises(ValueError, match="embeddings_regularizer"):
        ShardedEmbedding.from_plain(regularized, plan)
