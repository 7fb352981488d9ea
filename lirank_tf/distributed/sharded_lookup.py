"""Lookups into embedding tables sharded over workers: ids all-to-all out, rows all-to-all back.

For a batch on worker ``r`` (LiRank §A.4, Fig. 7)::

    ids of every table  -> unique rows -> owner of each row (from the sharding plan)
    all-to-all #1       : worker r sends each owner the local row numbers it needs
    owner               : rows = gather(shard_rows, requested)
    all-to-all #2       : the owner sends the rows back to the worker that asked
    worker r            : rows of the unique ids -> rows of every id (duplicates re-expanded)

Backward, the gradient of every returned row goes back to its owner through the inverse
all-to-all (``exchange_rows``' custom gradient), so the owner's ``shard_rows`` variable gets
the row gradients of all workers' examples and no allreduce of embedding gradients is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from lirank_tf.distributed.context import DistributedContext
from lirank_tf.distributed.sharding_plan import ShardingPlan


@dataclasses.dataclass(frozen=True)
class TableSegment:
    """Rows ``[row_start, row_end)`` of table ``key`` stored at ``local_offset`` of a worker's
    ``shard_rows`` variable (also used for whole, unsharded tables: offset 0)."""

    key: str
    row_start: int
    row_end: int
    local_offset: int = 0


def exchange_rows(context: DistributedContext, rows: tf.Tensor, splits: tf.Tensor) -> tf.Tensor:
    """All-to-all of ``rows`` (``splits[k]`` rows to rank k) whose gradient is the inverse
    all-to-all: the gradient of each received row returns to the rank that sent it."""

    @tf.custom_gradient
    def _exchange(values):
        received, received_splits = context.alltoall(values, splits)

        def _backward(upstream):
            # Horovod: row gradients travel back to their owners (inverse all-to-all).
            gradient, _ = context.alltoall(tf.convert_to_tensor(upstream), received_splits)
            return gradient

        return received, _backward

    return _exchange(rows)


class ShardedLookup:
    """Routes lookups of the tables of ``plan`` through the two all-to-alls.

    Args:
        plan: ``ShardingPlan`` of the tables this lookup serves (all of width ``dim``).
        dim: int, the width of every table.
        context: the ``DistributedContext``; ``plan.world_size`` must equal its size.
    """

    def __init__(self, plan: ShardingPlan, dim: int, context: DistributedContext) -> None:
        if plan.world_size != context.size:
            raise ValueError(f"the sharding plan is for {plan.world_size} workers but this job "
                             f"has {context.size}; plan again with world_size={context.size}")
        self.plan, self.dim, self.context = plan, dim, context
        self.table_base: dict[str, int] = {}
        starts, ranks, offsets = [], [], []
        local_rows = [0] * plan.world_size  # rows placed so far on each worker, in table order
        self.local_segments: list[TableSegment] = []
        base = 0
        for key, shards in plan.placements.items():
            self.table_base[key] = base
            for shard in shards:
                starts.append(base + shard.row_start)
                ranks.append(shard.rank)
                offsets.append(local_rows[shard.rank])
                if shard.rank == context.rank:
                    self.local_segments.append(TableSegment(key, shard.row_start, shard.row_end,
                                                            local_rows[shard.rank]))
                local_rows[shard.rank] += shard.rows
            base += plan.rows(key)
        self.num_local_rows = local_rows[context.rank]
        self._shard_starts = np.asarray(starts, np.int64)
        self._shard_ranks = np.asarray(ranks, np.int32)
        self._shard_offsets = np.asarray(offsets, np.int64)

    def route(self, global_rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``(owner rank, row in the owner's shard_rows)`` of each row of the layer-wide row
        space (table ``key`` occupies ``[table_base[key], table_base[key] + rows)``)."""
        shard = tf.searchsorted(tf.constant(self._shard_starts), global_rows, side="right") - 1
        owner = tf.gather(tf.constant(self._shard_ranks), shard)
        local_row = (global_rows - tf.gather(tf.constant(self._shard_starts), shard)
                     + tf.gather(tf.constant(self._shard_offsets), shard))
        return owner, local_row

    def __call__(self, shard_rows: tf.Tensor | Sequence[tf.Tensor],
                 requests: Sequence[tuple[str, tf.Tensor]]) -> list[tf.Tensor]:
        """Rows ``[..., dim]`` of every request ``(key, ids)`` (int ids of any shape, in
        ``[0, rows of key)``; a key may appear in several requests), in request order.

        ``shard_rows`` holds this worker's rows of the plan's tables in plan order: one
        tensor, or several whose concatenation it would be (one variable per layer of a
        fused group; the owner then gathers from each, nothing is concatenated).
        Collective: every worker must call it."""
        flat = []
        for key, ids in requests:
            ids = tf.reshape(tf.cast(ids, tf.int64), [-1])
            rows = self.plan.rows(key)
            with tf.control_dependencies([
                    tf.debugging.assert_non_negative(ids, message=f"negative row id in {key}"),
                    tf.debugging.assert_less(ids, tf.constant(rows, tf.int64),
                                             message=f"row id >= {rows} in {key}")]):
                flat.append(ids + self.table_base[key])
        unique_rows, position = tf.unique(tf.concat(flat, axis=0))
        owner, local_row = self.route(unique_rows)
        order = tf.argsort(owner, stable=True)
        send_splits = tf.math.bincount(owner, minlength=self.context.size,
                                       maxlength=self.context.size, dtype=tf.int32)
        # Horovod: all-to-all of the ids; each owner receives the rows it must look up.
        requested, received_splits = self.context.alltoall(tf.gather(local_row, order), send_splits)
        found = gather_local_rows(shard_rows, requested)  # the owner's lookup
        # Horovod: all-to-all of the rows back to the workers that asked for them.
        returned = exchange_rows(self.context, found, received_splits)
        values = tf.gather(tf.gather(returned, tf.math.invert_permutation(order)), position)
        outputs = []
        sizes = tf.stack([tf.size(ids) for ids in flat])
        for (_, ids), piece in zip(requests, tf.split(values, sizes, num=len(requests))):
            shape = tf.concat([tf.shape(ids, out_type=tf.int32), [self.dim]], axis=0)
            static_shape = tf.TensorShape(ids.shape).concatenate([self.dim])
            outputs.append(tf.ensure_shape(tf.reshape(piece, shape), static_shape))
        return outputs


def gather_local_rows(shard_rows: tf.Tensor | Sequence[tf.Tensor], rows: tf.Tensor) -> tf.Tensor:
    """``concat(shard_rows)[rows]`` without concatenating (each part may be a variable)."""
    if not isinstance(shard_rows, (list, tuple)):
        return tf.gather(shard_rows, rows)
    if len(shard_rows) == 1:
        return tf.gather(shard_rows[0], rows)
    starts = np.cumsum([0] + [int(part.shape[0]) for part in shard_rows[:-1]]).astype(np.int64)
    part = tf.cast(tf.searchsorted(tf.constant(starts), rows, side="right") - 1, tf.int32)
    local = rows - tf.gather(tf.constant(starts), part)
    positions = tf.dynamic_partition(tf.range(tf.size(rows)), part, len(shard_rows))
    pieces = tf.dynamic_partition(local, part, len(shard_rows))
    return tf.dynamic_stitch(positions, [tf.gather(rows_of_part, piece)
                                         for rows_of_part, piece in zip(shard_rows, pieces)])
