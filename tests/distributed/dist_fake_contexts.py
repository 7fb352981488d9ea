"""In-process stand-ins for a Horovod job, for fast unit tests.

* ``RecordingContext(rank, size)``: rank ``rank`` of ``size`` whose collectives act as if
  every rank held the same values (averages are identities) and record their arguments.
* ``ThreadGroup(size)``: ``size`` threads, one per rank, whose ``alltoall`` and ``barrier``
  really exchange tensors between the threads (NumPy copies), so the sharded lookup's two
  all-to-alls and its backward run as in a real job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from lirank_tf.distributed.context import DistributedContext


class RecordingContext(DistributedContext):
    def __init__(self, rank: int = 0, size: int = 2) -> None:
        self.rank, self.size, self.local_rank = rank, size, rank
        self.calls: list[tuple[str, object]] = []

    def allreduce_gradients(self, gradients, compression="none", sparse_as_dense=False):
        self.calls.append(("allreduce_gradients", (list(gradients), compression, sparse_as_dense)))
        return list(gradients)

    def broadcast_variables(self, variables, root_rank=0):
        self.calls.append(("broadcast_variables", (list(variables), root_rank)))

    def average_values(self, values):
        self.calls.append(("average_values", dict(values)))
        return {k: float(v) for k, v in values.items()}

    def barrier(self):
        self.calls.append(("barrier", None))


class ThreadGroup:
    """Runs ``function(context)`` on ``size`` threads, one ``DistributedContext`` each."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._barrier = threading.Barrier(size, timeout=60)
        self._outbox: list = [None] * size
        self.alltoall_calls = [0] * size  # executed (eager) all-to-alls of each rank

    def context(self, rank: int) -> DistributedContext:
        group = self

        class ThreadContext(DistributedContext):
            def __init__(self) -> None:
                self.rank, self.size, self.local_rank = rank, group.size, rank

            def alltoall(self, tensor, splits):
                return group._alltoall(rank, tensor, splits)

            def barrier(self):
                group._barrier.wait()

        return ThreadContext()

    def _alltoall(self, rank: int, tensor, splits):
        if not tf.executing_eagerly():  # Keras infers output shapes by tracing: no exchange
            return tf.identity(tensor), tf.identity(splits)
        self.alltoall_calls[rank] += 1
        values, counts = np.asarray(tensor), np.asarray(splits)
        self._outbox[rank] = np.split(values, np.cumsum(counts)[:-1])
        self._barrier.wait()
        received = [self._outbox[source][rank] for source in range(self.size)]
        self._barrier.wait()
        return (tf.constant(np.concatenate(received, axis=0), dtype=tensor.dtype),
                tf.constant([len(r) for r in received], tf.int32))

    def run(self, function: Callable[[int], object]) -> list:
        """``[function(0), ..., function(size - 1)]``, each on its own thread."""
        results: list = [None] * self.size
        errors: list = []

        def target(rank: int) -> None:
            try:
                results[rank] = function(rank)
            except BaseException as error:  # re-raised in the caller
                errors.append(error)
                self._barrier.abort()

        threads = [threading.Thread(target=target, args=(r,)) for r in range(self.size)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results
