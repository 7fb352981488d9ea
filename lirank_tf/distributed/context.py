"""Who am I in the job, and the few collectives lirank-tf needs (Horovod, or no-ops alone).

``init()`` starts Horovod when the process was launched by ``horovodrun`` (or ``mpirun``)
and returns a ``HorovodContext``; a plain ``python`` run (or a job of size 1) gets a
``SingleProcessContext`` whose collectives are identities, so the same training code runs
unchanged under both launchers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import tensorflow as tf

# Set by horovodrun (Gloo or MPI) and by mpirun (Open MPI, MPICH/PMI) for every worker.
_LAUNCHER_ENV = ("HOROVOD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
_COMPRESSIONS = ("none", "fp16")


class DistributedContext:
    """A process's place in the job (``rank`` of ``size``) and the collectives it uses.

    The base implementations are those of a job of one process (identities)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_chief(self) -> bool:
        """True on rank 0, the worker that writes logs, exports and shared checkpoint files."""
        return self.rank == 0

    def verbose(self, verbose: int | str = "auto") -> int | str:
        """``verbose`` for ``model.fit`` on the chief, 0 (no progress bar) on other ranks."""
        return verbose if self.is_chief else 0  # Horovod: logs and progress bar on rank 0 only

    def alltoall(self, tensor: tf.Tensor, splits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Sends ``tensor[sum(splits[:k]):sum(splits[:k+1])]`` to rank k; returns the
        concatenation of what every rank sent here (in rank order) and its splits."""
        return tensor, splits

    def allreduce_gradients(self, gradients: Sequence, compression: str = "none",
                            sparse_as_dense: bool = False) -> list:
        """The average of ``gradients`` (tensors or ``tf.IndexedSlices``) over all ranks."""
        return list(gradients)

    def broadcast_variables(self, variables: Sequence, root_rank: int = 0) -> None:
        """Overwrites ``variables`` on every rank with their values on ``root_rank``."""

    def average_values(self, values: Mapping[str, float]) -> dict[str, float]:
        """The average over ranks of each (scalar) entry of ``values``."""
        return {key: float(value) for key, value in values.items()}

    def barrier(self) -> None:
        """Returns when every rank has called it."""


class SingleProcessContext(DistributedContext):
    """Rank 0 of 1: every collective is the identity."""

    def __repr__(self) -> str:
        return "SingleProcessContext()"


class HorovodContext(DistributedContext):
    """A worker of a Horovod job; collectives are ``horovod.tensorflow`` ops."""

    def __init__(self) -> None:
        import horovod.tensorflow as hvd  # optional dependency: only under horovodrun

        self._hvd = hvd
        self.rank, self.size, self.local_rank = hvd.rank(), hvd.size(), hvd.local_rank()
        self._barriers = 0

    def __repr__(self) -> str:
        return f"HorovodContext(rank={self.rank}, size={self.size})"

    def alltoall(self, tensor, splits):
        return self._hvd.alltoall(tensor, splits=splits)

    def allreduce_gradients(self, gradients, compression="none", sparse_as_dense=False):
        check_compression(compression)
        if not gradients:
            return []
        if sparse_as_dense:
            gradients = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                         for g in gradients]
        else:
            # Horovod allgathers the (row ids, rows) of sparse gradients in one group, which
            # requires one dtype for all row ids; Keras makes int32 or int64 ones per table.
            gradients = [_int64_rows(g) for g in gradients]
        codec = self._hvd.Compression.fp16 if compression == "fp16" else self._hvd.Compression.none
        # Horovod 0.28.1's grouped_allreduce pairs the allgathered sparse gradients with the
        # first entries of its input list: sparse ones go first, the order is restored after.
        sparse = [i for i, g in enumerate(gradients) if isinstance(g, tf.IndexedSlices)]
        order = sparse + sorted(set(range(len(gradients))) - set(sparse))
        # Horovod: one fused allreduce of all gradients, averaged over workers.
        reduced = self._hvd.grouped_allreduce([gradients[i] for i in order], op=self._hvd.Average,
                                              compression=codec)
        result = [None] * len(gradients)
        for position, index in enumerate(order):
            result[index] = reduced[position]
        return result

    def broadcast_variables(self, variables, root_rank=0):
        for index, variable in enumerate(variables):
            value = self._hvd.broadcast(tf.convert_to_tensor(variable), root_rank,
                                        name=f"lirank_broadcast_{index}")
            variable.assign(value)

    def average_values(self, values):
        averaged = {}
        for key in sorted(values):  # the same order on every rank
            tensor = tf.constant(float(values[key]), tf.float64)
            averaged[key] = float(self._hvd.allreduce(tensor, op=self._hvd.Average,
                                                      name=f"lirank_average_{key}"))
        return averaged

    def barrier(self):
        self._barriers += 1
        self._hvd.allreduce(tf.zeros([]), op=self._hvd.Sum, name=f"lirank_barrier_{self._barriers}")


_current: DistributedContext = SingleProcessContext()


def launched_by_horovod() -> bool:
    """True when this process was started by horovodrun or mpirun."""
    return any(name in os.environ for name in _LAUNCHER_ENV)


def init(use_horovod: bool | None = None) -> DistributedContext:
    """Starts Horovod if this is a multi-process job; returns (and remembers) the context.

    Args:
        use_horovod: None (default): when launched by horovodrun / mpirun; True: always
            (``hvd.init()`` fails outside a launcher with Gloo-only builds); False: never.

    Returns:
        ``HorovodContext`` for a job of two or more workers, else ``SingleProcessContext``.
    """
    global _current
    if use_horovod is None:
        use_horovod = launched_by_horovod()
    if not use_horovod:
        _current = SingleProcessContext()
        return _current
    try:
        import horovod.tensorflow as hvd
    except ImportError as error:
        raise RuntimeError("this process was launched by horovodrun/mpirun but horovod is not "
                           "installed; install the pinned build with "
                           "`pip install -c constraints.txt horovod`") from error
    # Horovod: initialise (rendezvous with the other workers).
    hvd.init()
    _current = HorovodContext() if hvd.size() > 1 else SingleProcessContext()
    return _current


def current_context() -> DistributedContext:
    """The context of the last ``init()`` (a ``SingleProcessContext`` before any)."""
    return _current


def set_context(context: DistributedContext) -> None:
    """Makes ``context`` current (for tests and for code that builds its own context)."""
    global _current
    if not isinstance(context, DistributedContext):
        raise ValueError(f"context must be a DistributedContext, got {context!r}")
    _current = context


def check_compression(compression: str) -> str:
    """Returns ``compression`` if it is a supported gradient compression, else raises."""
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be one of {_COMPRESSIONS}, got {compression!r}")
    return compression


def _int64_rows(gradient):
    if isinstance(gradient, tf.IndexedSlices) and gradient.indices.dtype != tf.int64:
        return tf.IndexedSlices(gradient.values, tf.cast(gradient.indices, tf.int64),
                                gradient.dense_shape)
    return gradient
