"""One all-to-all exchange for the lookups of several sharded embedding layers (LiRank Fig. 7:
every worker's ids of *all* tables go out in one all-to-all, the rows come back in one).

A ``ShardedEmbeddingGroup`` stands for several calls of sharded layers of one table width
(``shard_model`` builds one per width from the calls that read model inputs). It runs each
member's own ``call`` twice, so that the members keep their plain layers' semantics
(hashing, padding, pooling) without re-implementing them:

    1. record:  the member's lookups are answered with zeros while their ids are recorded
                (that branch is unused: traced graphs prune it, and TensorFlow's common
                subexpression elimination merges the hashing it shares with step 3);
    2. fetch:   one ``ShardedLookup`` over the tables of all members (one exchange);
    3. replay:  the member's lookups are answered with the fetched rows, in order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from lirank_tf.distributed.context import DistributedContext, current_context
from lirank_tf.distributed.sharded_layers import ShardedTables
from lirank_tf.distributed.sharded_lookup import ShardedLookup
from lirank_tf.distributed.sharding_plan import ShardingPlan


@contextlib.contextmanager
def _answering(member: ShardedTables, rows_source: Callable):
    member.rows_source = rows_source
    try:
        yield
    finally:
        member.rows_source = None


@keras.saving.register_keras_serializable(package="lirank_tf")
class ShardedEmbeddingGroup(keras.layers.Layer):
    """Calls of several sharded embedding layers of one width, with one exchange of ids and
    one of rows for all their tables (instead of one per layer).

        outputs[i] = members[calls[i]](inputs[i])

    Args:
        members: list of sharded layers (``ShardedEmbedding``, ``ShardedQRHashEmbedding``)
            whose tables all have the same width.
        calls: list of ints, the member index of each input (a member may be called on
            several inputs, e.g. one table shared by viewer and actor ids).
        context: ``DistributedContext`` or None (default): ``current_context()``.

    Example:
        >>> from lirank_tf.distributed.sharded_layers import ShardedEmbedding
        >>> from lirank_tf.distributed.sharding_plan import TableSpec, plan_sharding
        >>> plan = plan_sharding([TableSpec("a/embeddings", 10, 4),
        ...                       TableSpec("b/embeddings", 7, 4)], world_size=1)
        >>> a = ShardedEmbedding(10, 4, sharding_plan=plan, name="a")
        >>> b = ShardedEmbedding(7, 4, sharding_plan=plan, name="b")
        >>> group = ShardedEmbeddingGroup([a, b], calls=[0, 1, 0])
        >>> [tuple(o.shape) for o in group([tf.constant([1, 2]), tf.constant([[6]]),
        ...                                 tf.constant([9])])]
        [(2, 4), (1, 1, 4), (1, 4)]

    References: LiRank §4.1, §A.4 and Fig. 7.
    """

    def __init__(self, members: Sequence[ShardedTables], calls: Sequence[int],
                 context: DistributedContext | None = None, **kwargs):
        super().__init__(**kwargs)
        members = [keras.saving.deserialize_keras_object(m) if isinstance(m, dict) else m
                   for m in members]
        if not members or not all(isinstance(m, ShardedTables) for m in members):
            raise ValueError(f"members must be a non-empty list of sharded embedding layers, "
                             f"got {members!r}")
        widths = sorted({m.table_dim for m in members})
        if len(widths) != 1:
            raise ValueError(f"members must have tables of one width, got widths {widths}")
        if not calls or any(isinstance(c, bool) or not isinstance(c, int)
                            or not 0 <= c < len(members) for c in calls):
            raise ValueError(f"calls must be a non-empty list of member indices in "
                             f"[0, {len(members)}), got {calls!r}")
        self.members, self.calls = list(members), list(calls)
        context = context if context is not None else current_context()
        placements = {}
        for member in members:
            placements.update(member.sharding_plan.placements)
        self._lookup = ShardedLookup(ShardingPlan(context.size, placements), widths[0], context)
        self.supports_jit = False  # Horovod ops have no XLA kernels
        self.autocast = False

    def build(self, input_shape=None) -> None:
        for member in self.members:
            if not member.built:
                member.build(None)

    def call(self, inputs):
        if len(inputs) != len(self.calls):
            raise ValueError(f"the group expects {len(self.calls)} inputs, got {len(inputs)}")
        requests, lookups_per_call = [], []
        for member_index, x in zip(self.calls, inputs):
            member, recorded = self.members[member_index], []

            def record(indices, member=member, recorded=recorded):
                recorded.append(list(indices))
                requests.extend((member.table_keys[name], ids) for name, ids in indices.items())
                return {name: tf.ensure_shape(
                    tf.zeros(tf.concat([tf.shape(ids), [self._lookup.dim]], 0)),
                    tf.TensorShape(ids.shape).concatenate([self._lookup.dim]))
                        for name, ids in indices.items()}

            with _answering(member, record):
                member.call(x)
            lookups_per_call.append(recorded)
        rows = iter(self._lookup([m.shard_rows.value for m in self.members], requests))
        outputs = []
        for member_index, x, recorded in zip(self.calls, inputs, lookups_per_call):
            answers = iter([{name: next(rows) for name in names} for names in recorded])
            with _answering(self.members[member_index], lambda indices: next(answers)):
                outputs.append(self.members[member_index].call(x))
        return outputs

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"members": [keras.saving.serialize_keras_object(m) for m in self.members],
                       "calls": self.calls})
        return config
