"""The incremental-training regulariser and warm-start initialisation (LiRank §3.6, eq. 2-3).

With w0 the cold-start weights, w_{t-1} the previous model, H0 / H_{t-1} their diagonal
empirical Fisher (`lirank_tf.incremental.fisher`), cold weight alpha and forgetting factor
lambda_f, training on the new data D_t minimises::

    loss_{D_t}(w) + lambda_f / 2 * [ alpha     (w - w0)^T      H0      (w - w0)
                                   + (1-alpha) (w - w_{t-1})^T H_{t-1} (w - w_{t-1}) ]   (eq. 3)

from w = alpha * w0 + (1 - alpha) * w_{t-1}; alpha = 0 is eq. 2. Each bracketed term is an
`Anchor` (weights, Fisher, coefficient lambda_f * alpha or lambda_f * (1 - alpha)). The penalty
is attached to the model's variables as Keras weight regularisers, so ``model.fit`` adds it to
the loss in every step (``Model.losses``) with no change to the training loop. For an embedding
table the Fisher is sparse, and the penalty gathers only the rows with Fisher information, so
its gradient is a ``tf.IndexedSlices`` over those rows (the AdaGrad path of the optimizer).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.incremental.fisher import FisherInformation


@dataclasses.dataclass
class Anchor:
    """One quadratic term ``coefficient / 2 * sum_j F_j (w_j - anchor_j)^2``.

    ``weights`` maps ``variable.path`` to the anchor's values (a model's weights).
    """

    weights: dict[str, np.ndarray]
    fisher: FisherInformation
    coefficient: float

    def __post_init__(self) -> None:
        if isinstance(self.coefficient, bool) or not np.isfinite(self.coefficient) \
                or self.coefficient < 0:
            raise ValueError(f"coefficient must be a finite number >= 0, got {self.coefficient!r}")


def incremental_anchors(cold_weights: dict[str, np.ndarray], cold_fisher: FisherInformation,
                        previous_weights: dict[str, np.ndarray], previous_fisher: FisherInformation,
                        cold_weight: float, forgetting_factor: float) -> list[Anchor]:
    """The anchors of eq. 3; a term whose coefficient is 0 is left out.

    Args:
        cold_weights, cold_fisher: w0 and H0 of the cold-start model.
        previous_weights, previous_fisher: w_{t-1} and H_{t-1} of the previous model.
        cold_weight: float in [0, 1], alpha.
        forgetting_factor: float >= 0, lambda_f (0: no regulariser, plain warm start).
    """
    check_cold_weight(cold_weight)
    check_forgetting_factor(forgetting_factor)
    anchors = [Anchor(cold_weights, cold_fisher, forgetting_factor * cold_weight),
               Anchor(previous_weights, previous_fisher, forgetting_factor * (1.0 - cold_weight))]
    return [anchor for anchor in anchors if anchor.coefficient > 0]


def check_forgetting_factor(forgetting_factor: float) -> float:
    if isinstance(forgetting_factor, bool) or not isinstance(forgetting_factor, (int, float)) \
            or not np.isfinite(forgetting_factor) or forgetting_factor < 0:
        raise ValueError(
            f"forgetting_factor must be a finite number >= 0, got {forgetting_factor!r}")
    return float(forgetting_factor)


def check_cold_weight(cold_weight: float) -> float:
    if isinstance(cold_weight, bool) or not isinstance(cold_weight, (int, float)) \
            or not 0.0 <= cold_weight <= 1.0:
        raise ValueError(f"cold_weight must be a number in [0, 1], got {cold_weight!r}")
    return float(cold_weight)


class FisherPenalty(keras.regularizers.Regularizer):
    """The anchors' penalty on one variable ``w``::

        sum_a c_a / 2 * sum_j F_aj (w_j - w*_aj)^2            (dense Fisher)
        sum_a c_a / 2 * sum_{r in rows_a} F_ar (w_r - w*_ar)^2  (sparse: touched rows r only)

    Built by `attach_fisher_penalty`; it holds constants of one training run and is not meant
    to be serialised with a model (it is removed again by `detach_fisher_penalty`).
    """

    def __init__(self,
                 terms: list[tuple[float, np.ndarray | None, np.ndarray, np.ndarray]]) -> None:
        # (coefficient, rows or None, Fisher [rows or full], anchor values [same shape]); held in
        # (non-Keras) variables so the training graph refers to them instead of embedding copies
        def hold(value, dtype):
            return tf.Variable(np.asarray(value), dtype=dtype, trainable=False)
        self.terms = [(float(c), None if rows is None else hold(rows, tf.int64),
                       hold(fisher, tf.float32), hold(anchor, tf.float32))
                      for c, rows, fisher, anchor in terms]

    def __call__(self, x) -> tf.Tensor:
        total = tf.constant(0.0, tf.float32)
        for coefficient, rows, fisher, anchor in self.terms:
            values = tf.cast(x if rows is None else tf.gather(x, rows), tf.float32)
            total += 0.5 * coefficient * tf.reduce_sum(fisher * tf.square(values - anchor))
        return total

    def get_config(self) -> dict:
        raise NotImplementedError("FisherPenalty holds one run's anchors and is not serialisable; "
                                  "detach it (detach_fisher_penalty) before saving the model")


def _penalty_terms(variable, anchors: list[Anchor]) -> list:
    terms = []
    for anchor in anchors:
        path = variable.path
        if path not in anchor.weights:
            raise ValueError(f"anchor weights have no variable {path!r}; the runs must share "
                             "the model architecture")
        values = np.asarray(anchor.weights[path])
        if values.shape != tuple(variable.shape):
            raise ValueError(f"anchor weights of {path!r} have shape {values.shape}, the model's "
                             f"variable has {tuple(variable.shape)}")
        if path in anchor.fisher.sparse:
            rows, fisher = anchor.fisher.sparse[path]
            if len(rows):
                terms.append((anchor.coefficient, rows, fisher, values[rows]))
        elif path in anchor.fisher.dense:
            terms.append((anchor.coefficient, None, anchor.fisher.dense[path], values))
        else:
            raise ValueError(f"the Fisher information has no variable {path!r}")
    return terms


def attach_fisher_penalty(model: keras.Model, anchors: list[Anchor]) -> int:
    """Sets a `FisherPenalty` as the regulariser of every trainable variable of ``model``
    (the variables must have no regulariser of their own). Returns how many got one."""
    attached = 0
    for variable in model.trainable_variables:
        if variable.regularizer is not None and not isinstance(variable.regularizer, FisherPenalty):
            raise ValueError(f"variable {variable.path!r} already has a regulariser "
                             f"({variable.regularizer!r})")
        terms = _penalty_terms(variable, anchors)
        variable.regularizer = FisherPenalty(terms) if terms else None
        attached += bool(terms)
    return attached


def detach_fisher_penalty(model: keras.Model) -> None:
    """Removes the `FisherPenalty` regularisers set by `attach_fisher_penalty`."""
    for variable in model.trainable_variables:
        if isinstance(variable.regularizer, FisherPenalty):
            variable.regularizer = None


def fisher_penalty(model: keras.Model, anchors: list[Anchor]) -> float:
    """The value of the penalty at the model's current weights (for logs and checks)."""
    total = 0.0
    for variable in model.trainable_variables:
        terms = _penalty_terms(variable, anchors)
        if terms:
            total += float(FisherPenalty(terms)(variable))
    return total


def model_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """``{variable.path: values}`` of every weight (trainable or not) of ``model``."""
    return {variable.path: np.asarray(variable.numpy()) for variable in model.weights}


def set_warm_start_weights(model: keras.Model, cold_weights: dict[str, np.ndarray],
                           previous_weights: dict[str, np.ndarray], cold_weight: float) -> None:
    """w = alpha * w0 + (1 - alpha) * w_{t-1} for every floating-point weight of ``model``
    (trainable ones and batch-norm statistics); other weights (e.g. seed-generator states)
    are copied from the previous model."""
    alpha = check_cold_weight(cold_weight)
    for variable in model.weights:
        path = variable.path
        for name, weights in (("cold-start", cold_weights), ("previous", previous_weights)):
            if path not in weights:
                raise ValueError(f"the {name} model has no weight {path!r}; the runs must share "
                                 "the model architecture")
            if np.shape(weights[path]) != tuple(variable.shape):
                raise ValueError(f"the {name} model's {path!r} has shape "
                                 f"{np.shape(weights[path])}, expected {tuple(variable.shape)}")
        previous = np.asarray(previous_weights[path])
        if np.issubdtype(previous.dtype, np.floating):
            value = alpha * np.asarray(cold_weights[path], np.float64) \
                + (1.0 - alpha) * previous.astype(np.float64)
            variable.assign(value.astype(previous.dtype))
        else:
            variable.assign(previous)
