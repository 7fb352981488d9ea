"""Neural-Linear Thompson sampling on a trained ranking model (LiRank §3.8).

The network is not retrained for exploration: its last hidden layer gives each example a
representation z (plus a constant 1 for the bias), and the final logit of a task is the linear
map ``logit = w . z`` with w the task's column of the tower's last Dense layer. A Bayesian
linear regression over w (`BayesianLinearRegression`; Gaussian prior, logistic working response
at the trained weights) gives a posterior N(m, S) that is updated at the end of every training
period with that period's data (`NeuralLinear.update`). At scoring time Thompson sampling draws
one w~ ~ N(m, S) per request (seeded, so a request is reproducible) and ranks with
``sigmoid(calibration(w~ . z))``: items whose z lies where the posterior is wide — new items,
rare contexts — get optimistic draws now and then, and the data to resolve them.

Supported heads: task grouping and hard sharing (`GroupedTaskHeads`, the Feed default), where
the last hidden layer of each group's tower is explicit. The isotonic calibration of the model
(§3.4), when present, is applied to the sampled logit exactly as to the trained one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.explore.bayesian_linear import BayesianLinearRegression, logistic_working_response
from lirank_tf.layers.parallel_dense import apply_stack
from lirank_tf.layers.task_towers import GroupedTaskHeads


def _find_heads(model: keras.Model) -> GroupedTaskHeads:
    heads = [layer for layer in model.layers if isinstance(layer, GroupedTaskHeads)]
    if len(heads) != 1:
        kinds = sorted({type(layer).__name__ for layer in model.layers if "heads" in layer.name})
        raise ValueError("Neural-Linear needs exactly one GroupedTaskHeads layer (model.multitask "
                         f"'grouping' or 'hard_sharing'), found {len(heads)}; head layers: {kinds}")
    return heads[0]


def _node_of(model: keras.Model, layer: keras.layers.Layer):
    """The call of ``layer`` inside ``model``'s graph.

    A layer shared by two functional models (e.g. the int8 copy of a model made by
    `lirank_tf.layers.quantized.quantize_embedding_tables`, which shares every layer but the
    tables) has one inbound node per model, and ``layer.input`` / ``layer.output`` name the
    first one. Keras 3 has no public way to ask for the node of a given model, so this reads the
    model's private node map (the only private Keras API of this package)."""
    nodes = [node for depth in model._nodes_by_depth.values() for node in depth
             if node.operation is layer]
    if len(nodes) != 1:
        raise ValueError(f"layer {layer.name!r} is called {len(nodes)} times in model "
                         f"{model.name!r}; Neural-Linear needs exactly one call")
    return nodes[0]


class NeuralLinear:
    """Bayesian last layers of a trained multi-task model, with Thompson-sampled scoring.

    Args:
        model: a trained Keras ranking model (grouping or hard-sharing heads).
        tasks: list of task names, default None (every head). Tasks to explore on; the other
            tasks score with their trained weights.
        prior_variance: float > 0, default 1.0. Variance of the isotropic base prior around
            the trained weights.

    Example:
        >>> explorer = NeuralLinear(model, tasks=["click", "like"])      # doctest: +SKIP
        >>> explorer.update(training_dataset)          # end of a training period
        >>> probabilities = explorer.probabilities(inputs, explorer.sample(seed=7, rows=len(batch)))

    References: LiRank §3.8; Riquelme, Tucker & Snoek 2018 (Neural Linear).
    """

    def __init__(self, model: keras.Model, tasks: Sequence[str] | None = None,
                 prior_variance: float = 1.0) -> None:
        if isinstance(prior_variance, bool) or not float(prior_variance) > 0:
            raise ValueError(f"prior_variance must be > 0, got {prior_variance!r}")
        self.model = model
        self.prior_variance = float(prior_variance)
        self.heads = _find_heads(model)
        group_of = {task: (group, index) for group, names in self.heads.task_groups.items()
                    for index, task in enumerate(names)}
        self.tasks = list(group_of) if tasks is None else list(tasks)
        unknown = [t for t in self.tasks if t not in group_of]
        if unknown or not self.tasks:
            raise ValueError(f"tasks must name heads of the model, got {list(self.tasks)}; heads: "
                             f"{sorted(group_of)}")
        self.all_tasks = list(group_of)
        self.group_of = group_of
        names = {layer.name for layer in model.layers}
        self.calibration = {t: model.get_layer(f"{t}_calibration") for t in self.all_tasks
                            if f"{t}_calibration" in names}
        outputs = [_node_of(model, self.heads).input_tensors[0]]
        self.has_calibration_ids = "calibration_buckets" in names
        if self.has_calibration_ids:
            outputs.append(_node_of(model, model.get_layer("calibration_buckets")).outputs[0])
        self.trunk = keras.Model(model.inputs, outputs, name=f"{model.name}_neural_linear_trunk")
        self.posteriors = {task: BayesianLinearRegression(self.trained_weights(task),
                                                          1.0 / self.prior_variance)
                           for task in self.tasks}
        self._compiled_representations = tf.function(self.representations, reduce_retracing=True)

    def trained_weights(self, task: str) -> np.ndarray:
        """The task's last-layer weights [kernel column; bias], shape [hidden + 1]."""
        group, index = self.group_of[task]
        final = self.heads.tower_layers[group][-1]
        kernel, bias = (np.asarray(v.numpy(), np.float64) for v in (final.kernel, final.bias))
        return np.concatenate([kernel[:, index], bias[index:index + 1]])

    def _trained_weights_tensor(self, task: str) -> tf.Tensor:
        """`trained_weights` read from the variables with TensorFlow ops (graph-safe)."""
        group, index = self.group_of[task]
        final = self.heads.tower_layers[group][-1]
        kernel = tf.convert_to_tensor(final.kernel)
        bias = tf.convert_to_tensor(final.bias)
        return tf.concat([kernel[:, index], bias[index:index + 1]], axis=0)

    def representations(self, inputs: dict) -> tuple[dict[str, tf.Tensor], tf.Tensor | None]:
        """``({task: z [batch, hidden + 1]}, calibration ids or None)``, the last column 1."""
        outputs = self.trunk(inputs, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        shared, ids = (outputs[0], outputs[1]) if self.has_calibration_ids else (outputs[0], None)
        hidden = apply_stack(self.heads.shared_layers, shared)
        by_group = {}
        for group, layers in self.heads.tower_layers.items():
            z = apply_stack(layers[:-1], hidden)
            z = tf.cast(z, tf.float32)
            by_group[group] = tf.concat([z, tf.ones_like(z[:, :1])], axis=1)
        return {task: by_group[self.group_of[task][0]] for task in self.all_tasks}, ids

    def probabilities(self, inputs: dict, weights: dict[str, np.ndarray | tf.Tensor] | None = None
                      ) -> dict[str, tf.Tensor]:
        """``{task: probability [batch]}`` with last-layer ``weights[task]`` — shape
        [hidden + 1] for every row, or [batch, hidden + 1] (one draw per row) — and the trained
        weights for tasks without one. With trained weights this equals the model's output."""
        weights = weights or {}
        features, ids = self.representations(inputs)
        results = {}
        for task in self.all_tasks:
            w = weights.get(task)
            w = self._trained_weights_tensor(task) if w is None else w
            w = tf.cast(tf.convert_to_tensor(w), tf.float32)
            z = features[task]
            logit = tf.reduce_sum(z * w, axis=-1, keepdims=True) if w.shape.rank == 2 \
                else tf.linalg.matvec(z, w)[:, None]
            if task in self.calibration:
                layer = self.calibration[task]
                logit = layer(logit, ids) if ids is not None and layer.calibration_vocab_sizes \
                    else layer(logit)
            results[task] = tf.reshape(tf.sigmoid(logit), [-1])
        return results

    def update(self, batches: Iterable[tuple[dict, dict]], decay: float | None = None) -> None:
        """Ends a training period: adds the period's data to the posterior of every task.

        ``batches``: ``(inputs, {task: labels})`` of the period (e.g. the training dataset).
        With ``decay`` (in [0, 1]) the posterior is first carried over to the retrained
        network: re-centred at its current trained weights, the evidence of earlier periods
        discounted by ``decay``. Without it the data is added to the current posterior.
        """
        if decay is not None:
            self.posteriors = {t: p.carried_over(self.trained_weights(t), 1.0 / self.prior_variance,
                                                 decay) for t, p in self.posteriors.items()}
        points = {task: self.posteriors[task].mean for task in self.tasks}
        for inputs, labels in batches:
            features, _ = self._compiled_representations(inputs)
            for task in self.tasks:
                z = features[task].numpy().astype(np.float64)
                targets, precision = logistic_working_response(
                    z, np.asarray(labels[task]).reshape(-1), points[task])
                self.posteriors[task].update(z, targets, precision)

    def sample(self, seed: int, rows: int | None = None,
               exploration_scale: float = 1.0) -> dict[str, np.ndarray]:
        """Thompson draws of the explored tasks' weights: one [hidden + 1] vector (``rows`` None)
        or one per row [rows, hidden + 1]; ``exploration_scale`` multiplies the spread."""
        rng = np.random.default_rng(seed)
        draws = {}
        for task in self.tasks:
            posterior = self.posteriors[task]
            noise = rng.standard_normal((1 if rows is None else rows, posterior.dim))
            sample = posterior.mean + exploration_scale * noise @ posterior.scale_tril().T
            draws[task] = sample[0] if rows is None else sample
        return draws

    def save_posteriors(self, directory: str | Path) -> Path:
        """Writes ``<task>_posterior.npz`` per explored task (kept from period to period)."""
        directory = Path(directory)
        for task, posterior in self.posteriors.items():
            posterior.save(directory / f"{task}_posterior.npz")
        return directory

    def load_posteriors(self, directory: str | Path) -> None:
        """Reads the posteriors written by `save_posteriors` (e.g. by the previous period's
        run); call `update` with a ``decay`` next to carry them over to this model."""
        directory = Path(directory)
        loaded = {}
        for task in self.tasks:
            path = directory / f"{task}_posterior.npz"
            if not path.exists():
                raise FileNotFoundError(f"no posterior for task {task!r}: {path} is missing")
            loaded[task] = BayesianLinearRegression.load(path)
            if loaded[task].dim != self.posteriors[task].dim:
                raise ValueError(f"the posterior of {task!r} in {path} has dimension "
                                 f"{loaded[task].dim}, the model's last layer "
                                 f"{self.posteriors[task].dim}")
        self.posteriors = loaded
