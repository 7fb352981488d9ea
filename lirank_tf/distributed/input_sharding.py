"""Per-worker input: each worker reads a disjoint part of the data, the same number of steps."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from lirank_tf.distributed.context import DistributedContext, current_context


def shard_files(files: Sequence[str], context: DistributedContext | None = None) -> list[str]:
    """Files ``rank, rank + size, rank + 2 size, ...`` of ``files`` (sharding by file).

    Raises ValueError when there are fewer files than workers (some would get no data)."""
    context = context if context is not None else current_context()
    files = list(files)
    if len(files) < context.size:
        raise ValueError(f"{len(files)} files cannot be sharded by file over {context.size} "
                         "workers; write more files or shard by block with shard_dataset")
    return files[context.rank::context.size]


def shard_dataset(dataset: tf.data.Dataset,
                  context: DistributedContext | None = None) -> tf.data.Dataset:
    """Elements ``rank, rank + size, ...`` of ``dataset`` (sharding by element or block).

    Shard after ``batch(B // size)`` to shard by block: step ``s`` of worker ``r`` then reads
    global batch ``s`` rows ``[r B/size, (r+1) B/size)``. When the dataset's length is known,
    it is first cut to a multiple of ``size`` so that every worker runs the same number of
    steps (a worker with one step more would wait forever in its allreduce); with an unknown
    length, pass ``steps_per_epoch`` to ``fit``.
    """
    context = context if context is not None else current_context()
    if context.size == 1:
        return dataset
    length = int(dataset.cardinality())
    if length >= 0:
        dataset = dataset.take(length // context.size * context.size)
    # Horovod: each worker reads its own shard of the input.
    return dataset.shard(context.size, context.rank)
