"""Diagonal empirical Fisher information of a ranking model over its data (LiRank §3.6).

The incremental-training regulariser needs diag(H) of the loss Hessian at the trained weights;
as in the paper it is approximated by the diagonal of the *empirical Fisher*, the mean over the
N training examples of the squared per-example gradient::

    F_j = (1/N) sum_i (d loss_i / d w_j)^2,   loss_i = sum_t loss_weight_t * BCE(y_it, p_it)

Method (exact, vectorised): for a batch of B examples the forward pass runs once in inference
mode (batch norm uses its moving statistics, so example i's loss depends on example i only).
``tf.vectorized_map`` (pfor) then computes the B per-example backward passes at once — each is
``tape.gradient(losses, variables, output_gradients=one_hot(i))`` — and squares them; no loop
over examples. Dense variables give a [B, *shape] stack of squared gradients. Embedding tables
give sparse gradients (``tf.IndexedSlices`` over the rows looked up in the batch): the slices of
each example are summed per row first (a row looked up twice by one example — e.g. viewer and
actor in one member table, or colliding QR-hash rows — gets the square of the summed gradient,
not the sum of squares), and only the touched rows are accumulated and stored. The memory of
the sparse part grows as B^2 x (lookups per example), hence the small default batch
(``DEFAULT_FISHER_BATCH_SIZE`` = 8).
Auxiliary losses added with ``add_loss`` (e.g. the MoE load-balancing loss) are not part of
the likelihood and are left out.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.config import TaskConfig

DEFAULT_FISHER_BATCH_SIZE = 8


@dataclasses.dataclass
class FisherInformation:
    """Diagonal empirical Fisher of every trainable variable, keyed by ``variable.path``.

    ``dense[path]`` has the variable's shape; ``sparse[path] = (rows, values)`` holds only the
    rows of an embedding table that some example looked up (``values[k]`` is row
    ``rows[k]``); untouched rows have zero Fisher information. ``num_examples`` is N.
    """

    dense: dict[str, np.ndarray]
    sparse: dict[str, tuple[np.ndarray, np.ndarray]]
    num_examples: int

    def paths(self) -> list[str]:
        return sorted(set(self.dense) | set(self.sparse))

    def full(self, path: str, shape: Sequence[int]) -> np.ndarray:
        """The Fisher of ``path`` as a dense array of ``shape`` (zeros at untouched rows)."""
        if path in self.dense:
            return self.dense[path]
        if path not in self.sparse:
            raise KeyError(f"no Fisher information for variable {path!r}")
        rows, values = self.sparse[path]
        full = np.zeros(shape, dtype=values.dtype)
        full[rows] = values
        return full

    def save(self, path: str | Path) -> Path:
        """Writes ``.npz`` arrays ``dense/<var>``, ``rows/<var>``, ``values/<var>``."""
        arrays = {"num_examples": np.array(self.num_examples)}
        arrays.update({f"dense/{k}": v for k, v in self.dense.items()})
        for key, (rows, values) in self.sparse.items():
            arrays[f"rows/{key}"] = rows
            arrays[f"values/{key}"] = values
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "FisherInformation":
        with np.load(path) as data:
            dense = {k[len("dense/"):]: data[k] for k in data.files if k.startswith("dense/")}
            sparse = {k[len("rows/"):]: (data[k], data["values/" + k[len("rows/"):]])
                      for k in data.files if k.startswith("rows/")}
            return cls(dense=dense, sparse=sparse, num_examples=int(data["num_examples"]))


def per_example_loss_fn(model: keras.Model, tasks: Sequence[TaskConfig]
                        ) -> Callable[[dict, dict], tf.Tensor]:
    """``(inputs, labels) -> [batch]`` training loss of each example (model in inference mode)."""
    if not tasks:
        raise ValueError("tasks: at least one task is required")

    def losses(inputs: dict, labels: dict) -> tf.Tensor:
        outputs = model(inputs, training=False)
        per_task = []
        for task in tasks:
            truth = tf.reshape(tf.cast(labels[task.name], tf.float32), [-1, 1])
            predicted = tf.reshape(tf.cast(outputs[task.name], tf.float32), [-1, 1])
            per_task.append(task.loss_weight * keras.losses.binary_crossentropy(truth, predicted))
        return tf.add_n(per_task)

    return losses


class _SquaredGradients:
    """Per batch: sum over its examples of the squared per-example gradients."""

    def __init__(self, model: keras.Model, tasks: Sequence[TaskConfig], element_spec=None) -> None:
        self.variables = list(model.trainable_variables)
        self.loss_fn = per_example_loss_fn(model, tasks)
        self.sparse: list[bool] | None = None   # known after tracing: which gradients are slices
        # one trace for every batch size (the trace, with its pfor conversion, is the slow part)
        self.step = tf.function(self._step, input_signature=element_spec)

    def _step(self, inputs: dict, labels: dict) -> list:
        with tf.GradientTape(persistent=True) as tape:
            losses = self.loss_fn(inputs, labels)
        count = tf.shape(losses)[0]
        kinds: list[bool] = []

        def gradients_of_example(i):
            grads = tape.gradient(losses, self.variables,
                                  output_gradients=tf.one_hot(i, count, dtype=losses.dtype))
            kinds.clear()
            out = []
            for variable, grad in zip(self.variables, grads):
                kinds.append(isinstance(grad, tf.IndexedSlices))
                if kinds[-1]:
                    out.append((grad.values, tf.cast(grad.indices, tf.int64)))
                else:
                    out.append(tf.zeros(variable.shape, variable.dtype) if grad is None else grad)
            return out

        stacked = tf.vectorized_map(gradients_of_example, tf.range(count),
                                    fallback_to_while_loop=False)
        self.sparse = list(kinds)
        results = []
        for value, is_sparse in zip(stacked, kinds):
            if not is_sparse:
                results.append(tf.reduce_sum(tf.square(value), axis=0))
                continue
            # value: slices [B, S, ...] of each example over the S lookups of the batch (zero
            # outside the example's own lookups), indices [B, S] (the same for every example)
            slices, indices = value
            rows, slot_to_row = tf.unique(indices[0])
            per_row = tf.math.unsorted_segment_sum(tf.experimental.numpy.swapaxes(slices, 0, 1),
                                                   slot_to_row, tf.size(rows))  # [U, B, ...]
            results.append((rows, tf.reduce_sum(tf.square(per_row), axis=1)))
        return results


def _relaxed_batch(element_spec):
    """``element_spec`` with an unknown batch dimension (None when it is not a spec nest)."""
    try:
        return tf.nest.map_structure(
            lambda spec: tf.TensorSpec([None, *spec.shape[1:]], spec.dtype), element_spec)
    except (AttributeError, TypeError, ValueError):
        return None


def empirical_fisher(model: keras.Model, dataset: tf.data.Dataset, tasks: Sequence[TaskConfig],
                     max_examples: int | None = None) -> FisherInformation:
    """The diagonal empirical Fisher of ``model`` over ``dataset``.

    Args:
        model: Keras model with one probability output ``[batch, 1]`` per task name.
        dataset: ``(inputs, {task: labels})`` batches (the model's transformed inputs);
            small batches (8 in `compute_run_fisher`) keep the per-example memory small (see
            the module docstring).
        tasks: the config's tasks (names and loss weights).
        max_examples: int > 0 or None (default: all). Stop after about this many examples
            (whole batches), an unbiased estimate from a prefix of the data.

    Returns: a `FisherInformation` with N = the number of examples used.
    """
    if max_examples is not None and (isinstance(max_examples, bool) or max_examples < 1):
        raise ValueError(f"max_examples must be a positive int or None, got {max_examples!r}")
    squared = _SquaredGradients(model, tasks, _relaxed_batch(dataset.element_spec))
    totals = [np.zeros(v.shape, np.float64) for v in squared.variables]
    touched = [np.zeros(v.shape[0] if len(v.shape) else 1, bool) for v in squared.variables]
    count = 0
    for inputs, labels in dataset:
        results = squared.step(inputs, labels)
        for k, result in enumerate(results):
            if squared.sparse[k]:
                rows, values = (np.asarray(r) for r in result)
                totals[k][rows] += values
                touched[k][rows] = True
            else:
                totals[k] += np.asarray(result, np.float64)
        count += int(tf.shape(next(iter(labels.values())))[0])
        if max_examples is not None and count >= max_examples:
            break
    if count == 0:
        raise ValueError("dataset: no examples to compute the Fisher information from")
    dense, sparse = {}, {}
    for k, variable in enumerate(squared.variables):
        mean = (totals[k] / count).astype(np.float32)
        if squared.sparse[k]:
            rows = np.flatnonzero(touched[k]).astype(np.int64)
            sparse[variable.path] = (rows, mean[rows])
        else:
            dense[variable.path] = mean
    return FisherInformation(dense=dense, sparse=sparse, num_examples=count)
