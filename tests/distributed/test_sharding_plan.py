"""Tests of lirank_tf.distributed.sharding_plan (pure Python: no TensorFlow needed)."""

import itertools

import numpy as np
import pytest

from lirank_tf.distributed.sharding_plan import (Shard, ShardingPlan, TableSpec, plan_sharding,
                                                 row_blocks)


def specs(rows_by_key: dict, dim: int = 1) -> list:
    return [TableSpec(key, rows, dim) for key, rows in rows_by_key.items()]


def test_greedy_placement_matches_hand_computed_plan():
    # Largest first to the least loaded worker (ties: lowest rank):
    # a=10 -> 0 [10, 0]; b=8 -> 1 [10, 8]; c=6 -> 1 [10, 14]; d=5 -> 0 [15, 14]; e=4 -> 1.
    tables = specs({"d": 5, "a": 10, "e": 4, "b": 8, "c": 6})
    plan = plan_sharding(tables, 2)
    owners = {key: shards[0].rank for key, shards in plan.placements.items()}
    assert owners == {"a": 0, "b": 1, "c": 1, "d": 0, "e": 1}
    assert plan.bytes_per_rank(tables) == [15 * 4, 18 * 4]
    assert list(plan.placements) == ["d", "a", "e", "b", "c"]  # the callers' order


def test_plan_does_not_depend_on_table_order():
    tables = specs({"x": 7, "y": 7, "z": 3, "w": 7})
    reference = dict(plan_sharding(tables, 3).placements)
    for order in itertools.permutations(tables):
        assert dict(plan_sharding(list(order), 3).placements) == reference


def test_row_blocks_match_numpy_array_split():
    for rows, world_size in [(10, 3), (37, 3), (5, 5), (2, 4), (64, 8)]:
        expected = [(int(b[0]), int(b[-1]) + 1) for b in np.array_split(np.arange(rows), world_size)
                    if len(b)]
        assert row_blocks(rows, world_size) == expected


def test_row_wise_table_is_split_over_all_workers_and_others_fill_the_gaps():
    tables = specs({"big": 10, "small": 4, "tiny": 1}, dim=2)
    plan = plan_sharding(tables, 3, row_wise=["big"])
    assert plan.placements["big"] == (Shard(0, 0, 4), Shard(1, 4, 7), Shard(2, 7, 10))
    # after the split, held rows are [4, 3, 3]: small goes to rank 1, then tiny to rank 2.
    assert plan.placements["small"] == (Shard(1, 0, 4),)
    assert plan.placements["tiny"] == (Shard(2, 0, 1),)
    assert plan.local_shards(1) == {"big": Shard(1, 4, 7), "small": Shard(1, 0, 4)}


def test_tables_above_the_memory_limit_are_split_row_wise():
    tables = specs({"huge": 100, "a": 10, "b": 10}, dim=1)
    plan = plan_sharding(tables, 2, max_bytes_per_worker=300)  # huge: 400 bytes
    assert len(plan.placements["huge"]) == 2
    assert plan.bytes_per_rank(tables) == [240, 240]


def test_plan_that_cannot_fit_raises():
    with pytest.raises(ValueError, match="max_bytes_per_worker=100"):
        plan_sharding(specs({"a": 30, "b": 30}), 2, max_bytes_per_worker=100)


def test_dict_round_trip_and_subset():
    plan = plan_sharding(specs({"a": 10, "b": 3, "c": 8}), 2, row_wise=["a"])
    assert ShardingPlan.from_dict(plan.to_dict()) == plan
    sub = plan.subset(["b"])
    assert list(sub.placements) == ["b"] and sub.world_size == 2
    with pytest.raises(ValueError, match="no table"):
        plan.subset(["missing"])


@pytest.mark.parametrize("placements, message", [
    ({"t": (Shard(0, 1, 5),)}, "start at row 0"),
    ({"t": (Shard(0, 0, 3), Shard(1, 4, 6))}, "contiguous"),
    ({"t": (Shard(0, 0, 3), Shard(0, 3, 6))}, "distinct ranks"),
    ({"t": (Shard(2, 0, 3),)}, "distinct ranks"),
    ({"t": (Shard(0, 0, 0),)}, "must not be empty"),
])
def test_invalid_plans_raise(placements, message):
    with pytest.raises(ValueError, match=message):
        ShardingPlan(2, placements)


@pytest.mark.parametrize("kwargs, message", [
    ({"world_size": 0}, "world_size must be a positive int, got 0"),
    ({"world_size": True}, "world_size must be a positive int, got True"),
    ({"world_size": 2, "row_wise": ["nope"]}, "row_wise names unknown tables"),
    ({"world_size": 2, "max_bytes_per_worker": 0}, "max_bytes_per_worker must be"),
])
def test_invalid_planner_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plan_sharding(specs({"a": 3}), **kwargs)


def test_invalid_table_specs_raise():
    with pytest.raises(ValueError, match="rows of table 'a' must be a positive int, got 0"):
        TableSpec("a", 0, 4)
    with pytest.raises(ValueError, match="key must be a non-empty str"):
        TableSpec("", 3, 4)
    with pytest.raises(ValueError, match="table keys must be unique"):
        plan_sharding(specs({"a": 3}) * 2, 2)
