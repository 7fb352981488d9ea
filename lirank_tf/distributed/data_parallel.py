"""Synchronous data-parallel training with Horovod for Keras 3 (``horovod.tensorflow.keras``
does not work with Keras 3, so the bridge is built on ``horovod.tensorflow``).

``DistributedModel(model)`` is a Keras model that calls ``model`` and overrides
``train_step``: each worker computes the gradients of its local batch, the gradients of
replicated variables are averaged over workers with one fused ``grouped_allreduce``, and the
gradients of model-parallel table shards (already summed over workers by the all-to-all
backward) are divided by the number of workers. Every worker then applies the same update,
so with local batches of ``B / N`` examples the model follows single-process training with
batch ``B``. Weights and variables are those of ``model``: export ``model`` (or
``unwrap(distributed_model)``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lirank_tf.distributed.context import (DistributedContext, check_compression,
                                           current_context)
from lirank_tf.distributed.variables import model_parallel_variables


class WorkerFailureError(RuntimeError):
    """Another worker of the Horovod job stopped or failed; this one cannot continue."""


def _scale_gradient(gradient, factor: float):
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
    return gradient * factor


@keras.saving.register_keras_serializable(package="lirank_tf")
class DistributedModel(keras.Model):
    """Trains ``model`` on all workers of a Horovod job (a no-op wrapper in a single process).

        g_replicated = (1/N) sum_workers g_local          (grouped allreduce, optional fp16)
        g_shard      = (1/N) sum_workers g_rows_from_worker  (rows came back by all-to-all)

    Args:
        model: keras.Model to train (plain, or the output of ``shard_model``).
        compression: ``"none"`` (default) or ``"fp16"``: gradients are sent as float16.
        sparse_as_dense: bool, default False. True: gradients of replicated embedding tables
            (``tf.IndexedSlices``) are densified and allreduced (bytes = table size);
            False: they are allgathered as (row ids, rows).
        context: ``DistributedContext`` or None (default): ``current_context()``.

    Example:
        >>> inputs = keras.Input((3,))
        >>> plain = keras.Model(inputs, keras.layers.Dense(1)(inputs))
        >>> model = DistributedModel(plain)
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> tuple(model.predict(tf.ones([2, 3]), verbose=0).shape)
        (2, 1)

    References: LiRank §4.1 (Horovod synchronous training; dense layers data-parallel).
    """

    def __init__(self, model: keras.Model, compression: str = "none",
                 sparse_as_dense: bool = False, context: DistributedContext | None = None,
                 **kwargs):
        kwargs.setdefault("name", f"distributed_{getattr(model, 'name', 'model')}")
        super().__init__(**kwargs)
        if not isinstance(model, keras.Model):
            raise ValueError(f"model must be a keras.Model, got {model!r}")
        if not isinstance(sparse_as_dense, bool):
            raise ValueError(f"sparse_as_dense must be a bool, got {sparse_as_dense!r}")
        self.wrapped_model = model
        self.compression = check_compression(compression)
        self.sparse_as_dense = sparse_as_dense
        self.distributed_context = context if context is not None else current_context()
        self.supports_jit = False  # Horovod ops have no XLA kernels
        if model.built:
            self.built = True

    def call(self, inputs, training=None):
        return self.wrapped_model(inputs, training=training)

    def synchronize_gradients(self, gradients: list, variables: list) -> list:
        """Gradients of the mean loss over all workers (see the class formula)."""
        context = self.distributed_context
        if context.size == 1:
            return list(gradients)
        local = {id(v) for v in model_parallel_variables(self.wrapped_model)}
        if local and getattr(getattr(self, "optimizer", None), "global_clipnorm", None):
            raise ValueError("global_clipnorm cannot be used with sharded tables: each worker "
                             "would clip by a different norm and the replicas would diverge; "
                             "use clipnorm (per variable) or clipvalue")
        replicated = [i for i, (g, v) in enumerate(zip(gradients, variables))
                      if g is not None and id(v) not in local]
        # Horovod: average the gradients of replicated variables over workers.
        averaged = context.allreduce_gradients([gradients[i] for i in replicated],
                                               self.compression, self.sparse_as_dense)
        synchronized = list(gradients)
        for i, gradient in zip(replicated, averaged):
            synchronized[i] = gradient
        # Table shards: the all-to-all backward already summed every worker's row gradients
        # on the owner; no allreduce, only the 1/N of the mean.
        for i, variable in enumerate(variables):
            if id(variable) in local and synchronized[i] is not None:
                synchronized[i] = _scale_gradient(synchronized[i], 1.0 / context.size)
        return synchronized

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = self.synchronize_gradients(tape.gradient(scaled_loss, variables), variables)
        self.optimizer.apply(gradients, variables)
        batch_size = tf.shape(tf.nest.flatten(x)[0])[0]
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=batch_size)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def fit(self, *args, **kwargs):
        try:
            return super().fit(*args, **kwargs)
        except tf.errors.OpError as error:
            if self.distributed_context.size > 1 and "horovod" in str(error).lower():
                raise WorkerFailureError(self._failure_message(error, kwargs.get("callbacks")))\
                    from error
            raise

    def _failure_message(self, error: tf.errors.OpError, callbacks) -> str:
        saved = [c.last_saved for c in callbacks or [] if getattr(c, "last_saved", None)]
        resume = (f"the last checkpoint saved by this run is {saved[-1]}" if saved else
                  "with lirank_tf.distributed.ShardedCheckpoint in the callbacks, training "
                  "resumes from the last checkpoint")
        lines = [line for line in error.message.splitlines() if "shut down" in line]
        cause = lines[0].split(". ")[0] if lines else error.message.strip().splitlines()[-1]
        return (f"rank {self.distributed_context.rank}: a collective failed because another "
                "worker of this Horovod job stopped or failed (see its log). The job cannot "
                f"continue without it: relaunch it with horovodrun; {resume}. "
                f"Horovod: {cause[:300]}")

    def get_config(self) -> dict:
        return {"model": keras.saving.serialize_keras_object(self.wrapped_model),
                "compression": self.compression, "sparse_as_dense": self.sparse_as_dense,
                "name": self.name}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "DistributedModel":
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"),
                                                      custom_objects=custom_objects)
        return cls(model, **config)


def unwrap(model: keras.Model) -> keras.Model:
    """The model that ``model`` trains (``model`` itself if it is not a DistributedModel)."""
    return model.wrapped_model if isinstance(model, DistributedModel) else model
