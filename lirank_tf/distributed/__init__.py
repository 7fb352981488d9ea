"""Horovod synchronous training and model-parallel embeddings (LiRank §4.1, §A.4, Fig. 7).

The same training code runs under ``python train.py`` (one process: every call below is a
no-op or the identity) and under ``horovodrun -np N python train.py``::

    from lirank_tf import distributed

    context = distributed.init()                          # Horovod: initialise
    files = distributed.shard_files(files)                # by file, or after .batch(B // N):
    dataset = distributed.shard_dataset(dataset)          #   by block (same step count on all)
    model = distributed.wrap_model(build_model(config),   # DistributedModel: allreduce of
                                   shard_embeddings=True)  #   dense grads; tables sharded
    model.compile(optimizer=keras.optimizers.Adam(        # Horovod: scale the learning rate
        distributed.WorldSizeWarmup(lr, context.size, warmup_steps)), loss=...)
    if distributed.latest_checkpoint(run / "checkpoints"):  # resume: every worker restores
        step = distributed.restore_checkpoint(model, run / "checkpoints")  # (skip step batches)
    model.fit(dataset, verbose=context.verbose(1),        # progress bar on rank 0 only
              callbacks=distributed.callbacks(checkpoint_dir=run / "checkpoints",
                                              checkpoint_every_steps=1000)
                        + distributed.chief_only([TensorBoard(...)]))
    # Export: a single-process plain model restored from the sharded checkpoint:
    plain = build_model(config); distributed.restore_checkpoint(plain, run / "checkpoints")

Parts:

* ``context``: ``init``, ``current_context``; ``DistributedContext`` (rank, size, is_chief,
  collectives) with ``HorovodContext`` and ``SingleProcessContext``.
* ``data_parallel``: ``DistributedModel`` (``train_step`` with gradient averaging, fp16
  compression option), ``unwrap``, ``WorkerFailureError``.
* ``sharding_plan``: ``plan_sharding`` (table-wise, memory-balanced; row-wise option).
* ``sharded_lookup`` / ``sharded_layers`` / ``sharded_group`` / ``model_parallel``: the two
  all-to-alls, the sharded twins of ``keras.layers.Embedding`` and ``QRHashEmbedding``, one
  fused exchange for all tables of one width, ``shard_model``.
* ``sharded_checkpoint``: per-worker checkpoints that restore onto any number of workers.
* ``callbacks``: ``BroadcastInitialState``, ``MetricAverage``, ``ShardedCheckpoint``,
  ``StepWatchdog``. ``learning_rate``: ``scale_learning_rate``, ``WorldSizeWarmup``.
* ``input_sharding``: ``shard_files``, ``shard_dataset``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import keras

from lirank_tf.distributed.callbacks import (BroadcastInitialState, MetricAverage,
                                             ShardedCheckpoint, StepWatchdog)
from lirank_tf.distributed.context import (DistributedContext, HorovodContext,
                                           SingleProcessContext, current_context, init,
                                           launched_by_horovod)
from lirank_tf.distributed.data_parallel import DistributedModel, WorkerFailureError, unwrap
from lirank_tf.distributed.input_sharding import shard_dataset, shard_files
from lirank_tf.distributed.learning_rate import WorldSizeWarmup, scale_learning_rate
from lirank_tf.distributed.model_parallel import shard_model
from lirank_tf.distributed.sharded_checkpoint import (latest_checkpoint, restore_checkpoint,
                                                      save_checkpoint)
from lirank_tf.distributed.sharded_group import ShardedEmbeddingGroup
from lirank_tf.distributed.sharded_layers import ShardedEmbedding, ShardedQRHashEmbedding
from lirank_tf.distributed.sharding_plan import ShardingPlan, TableSpec, plan_sharding


def wrap_model(model: keras.Model, context: DistributedContext | None = None, *,
               shard_embeddings: bool = False, row_wise: Iterable[str] = (),
               max_bytes_per_worker: int | None = None, compression: str = "none",
               sparse_as_dense: bool = False) -> DistributedModel:
    """``model`` ready for ``compile`` and ``fit`` on all workers.

    Args:
        model: keras.Model; a built functional model when ``shard_embeddings``.
        context: ``DistributedContext`` or None (default): ``current_context()``.
        shard_embeddings: bool, default False: replace the embedding layers by sharded
            twins (``shard_model``) when there are two or more workers; otherwise (and in
            a single process) every variable is data-parallel.
        row_wise, max_bytes_per_worker: passed to ``plan_sharding``.
        compression, sparse_as_dense: passed to ``DistributedModel``.
    """
    context = context if context is not None else current_context()
    if shard_embeddings and context.size > 1:
        model = shard_model(model, context, row_wise=row_wise,
                            max_bytes_per_worker=max_bytes_per_worker)
    return DistributedModel(model, compression=compression, sparse_as_dense=sparse_as_dense,
                            context=context)


def callbacks(context: DistributedContext | None = None, *,
              checkpoint_dir: str | Path | None = None,
              checkpoint_every_steps: int | None = None, keep_checkpoints: int | None = 2,
              step_timeout_seconds: float | None = None) -> list[keras.callbacks.Callback]:
    """The callbacks every worker needs, in order: broadcast of rank 0's initial state,
    metric averaging, then (optional) sharded checkpoints and a step watchdog.

    Put restoring callbacks (e.g. ``BackupAndRestore``) anywhere: the broadcast runs at the
    first batch, after them; put callbacks that read epoch logs after these.
    """
    context = context if context is not None else current_context()
    result: list[keras.callbacks.Callback] = [BroadcastInitialState(context),
                                              MetricAverage(context)]
    if checkpoint_dir is not None:
        result.append(ShardedCheckpoint(checkpoint_dir, checkpoint_every_steps,
                                        keep=keep_checkpoints, context=context))
    if step_timeout_seconds is not None:
        result.append(StepWatchdog(step_timeout_seconds, context=context))
    return result


def chief_only(callbacks: Sequence[keras.callbacks.Callback],
               context: DistributedContext | None = None) -> list[keras.callbacks.Callback]:
    """``callbacks`` on rank 0, none elsewhere (logs, TensorBoard, ``ModelCheckpoint`` of a
    data-parallel model): Horovod: only rank 0 writes logs and checkpoints."""
    context = context if context is not None else current_context()
    return list(callbacks) if context.is_chief else []  # Horovod: rank 0 only


__all__ = [
    "BroadcastInitialState", "DistributedContext", "DistributedModel", "HorovodContext",
    "MetricAverage", "ShardedCheckpoint", "ShardedEmbedding", "ShardedEmbeddingGroup",
    "ShardedQRHashEmbedding",
    "ShardingPlan", "SingleProcessContext", "StepWatchdog", "TableSpec", "WorkerFailureError",
    "WorldSizeWarmup", "callbacks", "chief_only", "current_context", "init",
    "latest_checkpoint", "launched_by_horovod", "plan_sharding", "restore_checkpoint",
    "save_checkpoint", "scale_learning_rate", "shard_dataset", "shard_files", "shard_model",
    "unwrap", "wrap_model",
]
