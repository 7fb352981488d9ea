"""Tests of lirank_tf.distributed.sharded_lookup: routing against a NumPy reference, and the
two all-to-alls (forward and backward) between threads that play the ranks of a job."""

import numpy as np
import pytest
import tensorflow as tf

from dist_fake_contexts import RecordingContext, ThreadGroup
from lirank_tf.distributed.context import SingleProcessContext
from lirank_tf.distributed.sharded_lookup import ShardedLookup, TableSegment
from lirank_tf.distributed.sharding_plan import Shard, ShardingPlan

DIM = 2
# Uneven: "a" row-wise over 3 ranks (4/3/3 rows), "b" on rank 2, "c" on rank 0, rank 1 has
# only its block of "a".
PLAN = ShardingPlan(3, {"a": (Shard(0, 0, 4), Shard(1, 4, 7), Shard(2, 7, 10)),
                        "b": (Shard(2, 0, 4),),
                        "c": (Shard(0, 0, 7),)})
TABLES = {key: np.arange(PLAN.rows(key) * DIM, dtype=np.float32).reshape(-1, DIM) + 100 * i
          for i, key in enumerate(PLAN.placements)}


def reference_layout(plan: ShardingPlan) -> dict:
    """``{(key, row): (owner, row in the owner's shard_rows)}``, by plain loops."""
    layout, used = {}, [0] * plan.world_size
    for key, shards in plan.placements.items():
        for shard in shards:
            for row in range(shard.row_start, shard.row_end):
                layout[key, row] = (shard.rank, used[shard.rank] + row - shard.row_start)
            used[shard.rank] += shard.rows
    return layout


def local_rows(lookup: ShardedLookup) -> np.ndarray:
    """This rank's ``shard_rows`` cut from the full tables, by the lookup's segments."""
    parts = [TABLES[s.key][s.row_start:s.row_end] for s in lookup.local_segments]
    return np.concatenate(parts) if parts else np.zeros((0, DIM), np.float32)


def test_route_matches_reference_layout():
    layout = reference_layout(PLAN)
    for rank in range(3):
        lookup = ShardedLookup(PLAN, DIM, RecordingContext(rank, 3))
        keys = [key for key, _ in layout]
        rows = [row for _, row in layout]
        global_rows = [lookup.table_base[key] + row for key, row in zip(keys, rows)]
        owner, local_row = lookup.route(tf.constant(global_rows, tf.int64))
        routed = list(zip(owner.numpy().tolist(), local_row.numpy().tolist()))
        assert routed == list(layout.values())
        expected_segments = [(key, s.row_start, s.row_end)
                             for key, shards in PLAN.placements.items()
                             for s in shards if s.rank == rank]
        assert [(s.key, s.row_start, s.row_end) for s in lookup.local_segments] == expected_segments
        assert lookup.num_local_rows == sum(e - b for _, b, e in expected_segments)


def run_job(ids_by_rank: list, upstream_by_rank: list, split_variables: bool):
    """Forward + backward of every rank; returns ``[(outputs, shard gradient)]``. With
    ``split_variables``, each rank's rows are in two variables (as in a fused group)."""
    group = ThreadGroup(3)
    lookups = [ShardedLookup(PLAN, DIM, group.context(rank)) for rank in range(3)]

    def step(rank):
        rows = local_rows(lookups[rank])
        cut = len(rows) // 2 if split_variables else len(rows)
        variables = [tf.Variable(rows[:cut]), tf.Variable(rows[cut:])]
        requests = [(k, tf.constant(v)) for k, v in ids_by_rank[rank].items()]
        with tf.GradientTape() as tape:
            found = lookups[rank](variables if split_variables else variables[0], requests)
            outputs = {key: rows for (key, _), rows in zip(requests, found)}
            loss = tf.add_n([tf.reduce_sum(outputs[k] * upstream_by_rank[rank][k])
                             for k in outputs])
        gradients = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                     for v, g in zip(variables, tape.gradient(loss, variables))]
        return {k: v.numpy() for k, v in outputs.items()}, np.concatenate(gradients)

    return lookups, group.run(step)


@pytest.mark.parametrize("split_variables", [False, True])
def test_forward_and_backward_across_three_ranks_match_numpy(split_variables):
    rng = np.random.default_rng(0)  # the inputs; the expectations are computed from them
    ids_by_rank = [{"a": rng.integers(0, 10, (4, 3)), "b": rng.integers(0, 4, (4,)),
                    "c": rng.integers(0, 7, (2, 2, 2))} for _ in range(3)]
    upstream_by_rank = [{k: rng.normal(size=v.shape + (DIM,)).astype(np.float32)
                         for k, v in ids.items()} for ids in ids_by_rank]
    lookups, results = run_job(ids_by_rank, upstream_by_rank, split_variables)
    full_gradients = {k: np.zeros_like(t) for k, t in TABLES.items()}
    for ids, upstream in zip(ids_by_rank, upstream_by_rank):
        for key in ids:
            np.add.at(full_gradients[key], ids[key].reshape(-1), upstream[key].reshape(-1, DIM))
    for rank, (outputs, gradient) in enumerate(results):
        for key, ids in ids_by_rank[rank].items():
            np.testing.assert_array_equal(outputs[key], TABLES[key][ids])
        expected = [full_gradients[s.key][s.row_start:s.row_end]
                    for s in lookups[rank].local_segments]
        np.testing.assert_allclose(gradient, np.concatenate(expected), rtol=1e-6, atol=1e-6)
    assert all(np.isfinite(g).all() and np.abs(g).sum() > 0 for _, g in results)


def test_rank_without_rows_and_rank_without_ids_take_part():
    plan = ShardingPlan(3, {"a": (Shard(0, 0, 10),), "b": (Shard(2, 0, 4),)})
    group = ThreadGroup(3)
    lookups = [ShardedLookup(plan, DIM, group.context(rank)) for rank in range(3)]
    assert lookups[1].num_local_rows == 0
    ids = [{"a": np.array([1, 9]), "b": np.array([3])}, {"a": np.zeros([0], np.int64),
           "b": np.zeros([0], np.int64)}, {"a": np.array([9, 9, 0]), "b": np.array([0, 0])}]

    def step(rank):
        rows = [TABLES[s.key][s.row_start:s.row_end] for s in lookups[rank].local_segments]
        shard_rows = tf.constant(np.concatenate(rows) if rows else np.zeros((0, DIM), np.float32))
        requests = [(k, tf.constant(v, tf.int64)) for k, v in ids[rank].items()]
        return {k: v.numpy() for (k, _), v in zip(requests, lookups[rank](shard_rows, requests))}

    for rank, outputs in enumerate(group.run(step)):
        for key in outputs:
            np.testing.assert_array_equal(outputs[key], TABLES[key][ids[rank][key]])
        assert outputs["a"].shape == (len(ids[rank]["a"]), DIM)


def test_single_process_lookup_and_static_shapes():
    plan = ShardingPlan(1, {"a": (Shard(0, 0, 10),)})
    lookup = ShardedLookup(plan, DIM, SingleProcessContext())
    assert lookup.local_segments == [TableSegment("a", 0, 10, 0)]

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.int64)])
    def embed(ids):
        return lookup(tf.constant(TABLES["a"]), [("a", ids)])[0]

    assert embed.get_concrete_function().structured_outputs.shape.as_list() == [None, 3, DIM]
    ids = np.array([[0, 9, 9], [3, 2, 1]])
    np.testing.assert_array_equal(embed(ids).numpy(), TABLES["a"][ids])


def test_out_of_range_ids_fail_and_plan_size_must_match_the_job():
    lookup = ShardedLookup(ShardingPlan(1, {"a": (Shard(0, 0, 10),)}), DIM, SingleProcessContext())
    with pytest.raises(tf.errors.InvalidArgumentError, match="row id >= 10 in a"):
        lookup(tf.constant(TABLES["a"]), [("a", tf.constant([10]))])
    with pytest.raises(tf.errors.InvalidArgumentError, match="negative row id in a"):
        lookup(tf.constant(TABLES["a"]), [("a", tf.constant([-1]))])
    with pytest.raises(ValueError, match="plan is for 3 workers but this job has 1"):
        ShardedLookup(PLAN, DIM, SingleProcessContext())
