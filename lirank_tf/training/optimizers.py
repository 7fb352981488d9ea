"""LiRank's training recipe (§6.2): long LR warm-up scaled with batch size, global gradient
clipping, Adam for dense and AdaGrad for embedding variables in one optimizer step."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

DECAYS = ("constant", "linear", "cosine")
DEFAULT_EMBEDDING_PATTERN = r".*embedding.*"


def _check_fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_positive(name: str, value: object, integer: bool = False) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) \
            or value <= 0:
        kind = "int" if integer else "number"
        raise ValueError(f"{name} must be a positive {kind}, got {value!r}")
    return value


def scaled_warmup_fraction(batch_size: int, base_batch_size: int, base_fraction: float,
                           max_fraction: float = 0.6) -> float:
    """Warm-up fraction for ``batch_size``: doubled whenever the batch size doubles, capped.

        fraction = min(base_fraction * batch_size / base_batch_size, max_fraction)

    Example:
        >>> scaled_warmup_fraction(4096, base_batch_size=1024, base_fraction=0.1)
        0.4
        >>> scaled_warmup_fraction(16384, base_batch_size=1024, base_fraction=0.1)
        0.6

    References: LiRank §6.2 (warm-up over a doubled fraction of steps whenever the batch size
    doubles, never more than 60% of the steps).
    """
    _check_positive("batch_size", batch_size, integer=True)
    _check_positive("base_batch_size", base_batch_size, integer=True)
    _check_fraction("base_fraction", base_fraction)
    _check_fraction("max_fraction", max_fraction)
    return min(base_fraction * batch_size / base_batch_size, max_fraction)


@keras.saving.register_keras_serializable(package="lirank_tf")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak_learning_rate``, then constant, linear or cosine decay.

    With W = round(warmup_fraction * total_steps) and step counted from 0 (the optimizer's
    ``iterations`` before the update):

        lr(step) = peak * min(1, (step + 1) / W)                                for step < W
        lr(step) = peak                                               ("constant", step >= W)
        lr(step) = peak + (final - peak) * p                          ("linear")
        lr(step) = final + (peak - final) * (1 + cos(pi * p)) / 2     ("cosine")

    with p = min(1, (step - W) / max(1, total_steps - W)) and final = ``final_learning_rate``.
    The first update already uses peak / W (not 0) and step W - 1 reaches the peak.

    Args:
        peak_learning_rate: float > 0, required. Learning rate at the end of the warm-up.
        total_steps: int > 0, required. Number of training steps.
        warmup_fraction: float in [0, 1], default 0.5. Fraction of the steps spent warming up
            (LiRank: 50%; see `scaled_warmup_fraction` for the batch-size rule).
        decay: "constant" (default), "linear" or "cosine". Schedule after the warm-up.
        final_learning_rate: float >= 0, default 0.0. End value of the linear/cosine decay.

    Example:
        >>> schedule = WarmupSchedule(1.0, total_steps=10, warmup_fraction=0.5, decay="linear")
        >>> [round(float(schedule(step)), 2) for step in range(10)]
        [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2]

    References: LiRank §6.2 "Model Convergence".
    """

    def __init__(self, peak_learning_rate: float, total_steps: int, warmup_fraction: float = 0.5,
                 decay: str = "constant", final_learning_rate: float = 0.0) -> None:
        self.peak_learning_rate = float(_check_positive("peak_learning_rate", peak_learning_rate))
        self.total_steps = _check_positive("total_steps", total_steps, integer=True)
        self.warmup_fraction = _check_fraction("warmup_fraction", warmup_fraction)
        if decay not in DECAYS:
            raise ValueError(f"decay must be one of {DECAYS}, got {decay!r}")
        self.decay = decay
        if isinstance(final_learning_rate, bool) \
                or not isinstance(final_learning_rate, (int, float)) \
                or not 0 <= final_learning_rate < math.inf:
            raise ValueError(f"final_learning_rate must be a finite number >= 0, "
                             f"got {final_learning_rate!r}")
        self.final_learning_rate = float(final_learning_rate)
        self.warmup_steps = round(self.warmup_fraction * self.total_steps)

    def __call__(self, step: Any) -> Any:
        step = keras.ops.cast(step, "float32")
        peak, final = self.peak_learning_rate, self.final_learning_rate
        warmup = float(self.warmup_steps)
        progress = keras.ops.clip((step - warmup) / max(1.0, self.total_steps - warmup), 0.0, 1.0)
        if self.decay == "constant":
            after = keras.ops.full_like(step, peak)
        elif self.decay == "linear":
            after = peak + (final - peak) * progress
        else:
            after = final + (peak - final) * 0.5 * (1.0 + keras.ops.cos(math.pi * progress))
        if not self.warmup_steps:
            return after
        warming = peak * keras.ops.minimum(1.0, (step + 1.0) / warmup)
        return keras.ops.where(step < warmup, warming, after)

    def get_config(self) -> dict[str, Any]:
        return dict(peak_learning_rate=self.peak_learning_rate, total_steps=self.total_steps,
                    warmup_fraction=self.warmup_fraction, decay=self.decay,
                    final_learning_rate=self.final_learning_rate)


def deduplicate_indexed_slices(grad: Any) -> Any:
    """Sums the rows of a ``tf.IndexedSlices`` gradient that share an index; others unchanged.

    An embedding looked up twice in a batch gets two slices for one row. Keras 3's AdaGrad
    squares slices before scattering them into its accumulator, which for duplicates adds
    g1^2 + g2^2 instead of (g1 + g2)^2; summing first makes the sparse update equal to the
    dense one (as TF1's optimizers did).
    """
    if not isinstance(grad, tf.IndexedSlices):
        return grad
    unique, positions = tf.unique(grad.indices)
    values = tf.math.unsorted_segment_sum(grad.values, positions, tf.size(unique))
    return tf.IndexedSlices(values, unique, grad.dense_shape)


def clip_by_global_norm(grads: Sequence[Any], clipnorm: float) -> list[Any]:
    """Scales all gradients by min(1, clipnorm / global_norm), global_norm over all of them.

    ``tf.IndexedSlices`` must be deduplicated (`deduplicate_indexed_slices`) so that their
    values' norm is the norm of the rows they update; they stay IndexedSlices. ``None``
    gradients (variables the loss does not reach) are passed through.
    """
    squares = [tf.reduce_sum(tf.square(tf.cast(
        grad.values if isinstance(grad, tf.IndexedSlices) else grad, tf.float32)))
        for grad in grads if grad is not None]
    if not squares:
        return list(grads)
    norm = tf.sqrt(tf.add_n(squares))
    scale = tf.minimum(1.0, clipnorm / tf.maximum(norm, 1e-12))

    def scaled(grad: Any) -> Any:
        if grad is None:
            return None
        if isinstance(grad, tf.IndexedSlices):
            return tf.IndexedSlices(grad.values * tf.cast(scale, grad.values.dtype),
                                    grad.indices, grad.dense_shape)
        return grad * tf.cast(scale, grad.dtype)

    return [scaled(grad) for grad in grads]


@keras.saving.register_keras_serializable(package="lirank_tf")
class DenseSparseOptimizer(keras.optimizers.MultiOptimizer):
    """One optimizer step: AdaGrad for embedding variables, Adam for all the others.

    A variable is an embedding variable when ``re.fullmatch(embedding_pattern, variable.path)``
    matches (default: its path contains "embedding", e.g. ``viewer_embedding/quotient_table_0``
    or ``embedding/embeddings``). With ``global_clipnorm`` every gradient is first scaled by
    min(1, global_clipnorm / ||all gradients||) over dense AND embedding gradients together
    (`clip_by_global_norm`), then each group goes to its optimizer. Sparse (IndexedSlices)
    embedding gradients are first summed per row (`deduplicate_indexed_slices`), so the
    result equals the dense-gradient update. ``iterations`` counts steps; each inner
    optimizer also counts its own (they drive their learning-rate schedules).

    Args:
        dense_optimizer: Keras optimizer or None, default None (``Adam(1e-3)``). For dense
            variables; give it a `WarmupSchedule`.
        sparse_optimizer: Keras optimizer or None, default None (``Adagrad(0.05)``). For
            embedding variables.
        embedding_pattern: str, default ".*embedding.*". Regex (full match on the variable
            path) selecting the embedding variables.
        global_clipnorm: float > 0 or None, default None. Global gradient-norm clipping.
        loss_scale_factor: float or None, default None. Passed to both inner optimizers.
        name: str, default "dense_sparse_optimizer".

    Example:
        >>> model = keras.Sequential([keras.Input((2,), dtype="int32"),
        ...                           keras.layers.Embedding(10, 4, name="viewer_embedding"),
        ...                           keras.layers.Flatten(), keras.layers.Dense(1, name="head")],
        ...                          name="ranker")
        >>> optimizer = DenseSparseOptimizer(global_clipnorm=1.0)
        >>> model.compile(optimizer=optimizer, loss="mse")
        >>> [(v.path, optimizer.is_embedding_variable(v)) for v in model.trainable_variables]
        [('ranker/viewer_embedding/embeddings', True), ('ranker/head/kernel', False),
         ('ranker/head/bias', False)]

    References: LiRank §6.2 (Adam for dense, AdaGrad for sparse parameters; gradient clipping).
    """

    def __init__(self, dense_optimizer: keras.optimizers.Optimizer | None = None,
                 sparse_optimizer: keras.optimizers.Optimizer | None = None,
                 embedding_pattern: str = DEFAULT_EMBEDDING_PATTERN,
                 global_clipnorm: float | None = None, loss_scale_factor: float | None = None,
                 name: str = "dense_sparse_optimizer") -> None:
        dense_optimizer = dense_optimizer or keras.optimizers.Adam(1e-3)
        sparse_optimizer = sparse_optimizer or keras.optimizers.Adagrad(0.05)
        for arg, value in (("dense_optimizer", dense_optimizer),
                           ("sparse_optimizer", sparse_optimizer)):
            if not isinstance(value, keras.optimizers.Optimizer) \
                    or isinstance(value, keras.optimizers.MultiOptimizer):
                raise ValueError(f"{arg} must be a single Keras optimizer, got {value!r}")
        if dense_optimizer is sparse_optimizer:
            raise ValueError("dense_optimizer and sparse_optimizer must be different objects")
        if not isinstance(embedding_pattern, str):
            raise ValueError(f"embedding_pattern must be a regex string, got {embedding_pattern!r}")
        try:
            re.compile(embedding_pattern)
        except re.error as error:
            raise ValueError(f"embedding_pattern is not a valid regex: {embedding_pattern!r} "
                             f"({error})") from error
        if global_clipnorm is not None:
            _check_positive("global_clipnorm", global_clipnorm)
        optimizer_map = keras.optimizers.OptimizerMap(default_optimizer=dense_optimizer)
        optimizer_map[embedding_pattern] = sparse_optimizer
        super().__init__(optimizer_map, loss_scale_factor=loss_scale_factor, name=name)
        self.dense_optimizer = dense_optimizer
        self.sparse_optimizer = sparse_optimizer
        self.embedding_pattern = embedding_pattern
        self.dense_sparse_clipnorm = None if global_clipnorm is None else float(global_clipnorm)

    def is_embedding_variable(self, variable: keras.Variable) -> bool:
        """Whether ``variable`` is updated by the sparse (AdaGrad) optimizer."""
        return re.fullmatch(self.embedding_pattern, variable.path) is not None

    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Any] | None = None) -> Any:
        grads = [deduplicate_indexed_slices(grad) for grad in grads]
        if self.dense_sparse_clipnorm is not None and grads:
            grads = clip_by_global_norm(grads, self.dense_sparse_clipnorm)
        return super().apply(grads, trainable_variables)

    def get_config(self) -> dict[str, Any]:
        serialize = keras.saving.serialize_keras_object
        return dict(dense_optimizer=serialize(self.dense_optimizer),
                    sparse_optimizer=serialize(self.sparse_optimizer),
                    embedding_pattern=self.embedding_pattern,
                    global_clipnorm=self.dense_sparse_clipnorm,
                    loss_scale_factor=self.loss_scale_factor, name=self.name)

    @classmethod
    def from_config(cls, config: dict[str, Any],
                    custom_objects: Any = None) -> "DenseSparseOptimizer":
        config = dict(config)
        for key in ("dense_optimizer", "sparse_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key],
                                                                custom_objects=custom_objects)
        return cls(**config)


SPARSE_OPTIMIZERS = {"adagrad": keras.optimizers.Adagrad, "adam": keras.optimizers.Adam}


def make_sparse_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """The embedding rows' optimizer: "adagrad" (LiRank §6.2's choice for models with many
    sparse features) or "adam", at the constant ``learning_rate``."""
    if name not in SPARSE_OPTIMIZERS:
        raise ValueError(f"sparse_optimizer: expected one of {sorted(SPARSE_OPTIMIZERS)}, "
                         f"got {name!r}")
    return SPARSE_OPTIMIZERS[name](
        learning_rate=float(_check_positive("sparse_learning_rate", learning_rate)))


def make_training_optimizer(
    learning_rate: float,
    total_steps: int,
    *,
    sparse_learning_rate: float = 0.05,
    sparse_optimizer: str = "adagrad",
    warmup_fraction: float = 0.5,
    batch_size: int | None = None,
    base_batch_size: int | None = None,
    max_warmup_fraction: float = 0.6,
    decay: str = "constant",
    global_clipnorm: float | None = 1.0,
    embedding_pattern: str = DEFAULT_EMBEDDING_PATTERN,
) -> DenseSparseOptimizer:
    """The §6.2 recipe in one call: Adam on a warm-up schedule + AdaGrad, global clipping.

    With ``batch_size`` and ``base_batch_size`` the warm-up fraction is
    ``scaled_warmup_fraction(batch_size, base_batch_size, warmup_fraction,
    max_warmup_fraction)``, else ``warmup_fraction``. AdaGrad runs at the constant
    ``sparse_learning_rate`` (its per-coordinate accumulators already damp early steps).

    Example:
        >>> optimizer = make_training_optimizer(3e-3, total_steps=1000, warmup_fraction=0.1,
        ...                                     batch_size=4096, base_batch_size=1024)
        >>> round(float(optimizer.dense_optimizer.learning_rate), 9)  # step 0: 3e-3 / 400
        7.5e-06
    """
    if (batch_size is None) != (base_batch_size is None):
        raise ValueError("batch_size and base_batch_size must be given together, got "
                         f"batch_size={batch_size!r}, base_batch_size={base_batch_size!r}")
    fraction = _check_fraction("warmup_fraction", warmup_fraction)
    if batch_size is not None:
        fraction = scaled_warmup_fraction(batch_size, base_batch_size, warmup_fraction,
                                          max_warmup_fraction)
    schedule = WarmupSchedule(learning_rate, total_steps, warmup_fraction=fraction, decay=decay)
    dense = keras.optimizers.Adam(learning_rate=schedule)
    sparse = make_sparse_optimizer(sparse_optimizer, sparse_learning_rate)
    return DenseSparseOptimizer(dense, sparse, embedding_pattern=embedding_pattern,
                                global_clipnorm=global_clipnorm)
