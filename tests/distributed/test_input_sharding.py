"""Tests of lirank_tf.distributed.input_sharding."""

import numpy as np
import pytest
import tensorflow as tf

from dist_fake_contexts import RecordingContext
from lirank_tf.distributed.context import SingleProcessContext
from lirank_tf.distributed.input_sharding import shard_dataset, shard_files


def test_files_are_split_disjointly_and_completely():
    files = [f"part-{i}.avro" for i in range(7)]
    shards = [shard_files(files, RecordingContext(rank, 3)) for rank in range(3)]
    assert shards[1] == ["part-1.avro", "part-4.avro"]
    assert sorted(sum(shards, [])) == sorted(files)
    with pytest.raises(ValueError, match="2 files cannot be sharded by file over 3 workers"):
        shard_files(files[:2], RecordingContext(0, 3))


def test_blocks_of_each_global_batch_and_equal_step_counts():
    rows = np.arange(50)
    local = tf.data.Dataset.from_tensor_slices(rows).batch(4)  # 13 batches, the last partial
    shards = [[b.numpy().tolist() for b in shard_dataset(local, RecordingContext(rank, 3))]
              for rank in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]  # 13 cut to 12: no rank runs a 5th step
    # global step s = local batches 3s, 3s+1, 3s+2: rank r reads rows [12 s + 4 r, 12 s + 4 r + 4)
    for rank in range(3):
        for step in range(4):
            assert shards[rank][step] == list(range(12 * step + 4 * rank, 12 * step + 4 * rank + 4))


def test_unknown_length_is_sharded_without_cutting_and_one_worker_gets_everything():
    unknown = tf.data.Dataset.range(10).filter(lambda x: x >= 0)
    assert [int(x) for x in shard_dataset(unknown, RecordingContext(1, 2))] == [1, 3, 5, 7, 9]
    dataset = tf.data.Dataset.range(5)
    assert shard_dataset(dataset, SingleProcessContext()) is dataset
