"""Platt scaling after training: each head's slope and bias fitted on the validation files.

A model built with ``model.platt_scaling`` has a `lirank_tf.layers.PlattScaling` layer on each
head's logit (``<task>_platt``) that ``model.fit`` leaves at the identity. Once training is
over (and early stopping restored the best epoch's weights), `calibrate_model` reads the
logits those layers receive on the validation batches, fits

    p = sigmoid(slope * logit + bias)

per task by log loss (`fit_platt`: Newton's method on the two numbers, float64) and writes
them into the layers. At the fit, the mean probability on the validation records equals their
label rate (O/E = 1 there) and the log loss can only go down. A fit whose slope is not
positive (a head ranking worse than chance) or that does not converge leaves the identity,
with the reason in the record.

Why: a model stopped on AUC - log loss is still over-confident on data later than its
training data. On MovieLens-100K's global time split, dcnv2 seeds 0-2, the fitted slopes were
0.76-0.81 and the test log loss fell from 0.6190 to 0.6130 (O/E 1.070 -> 1.021), AUC unchanged
(benchmarks/own_data.py has the numbers).

    >>> import numpy as np
    >>> fit = fit_platt(np.array([-2.0, -1.0, 0.5, 1.0, 2.0, 3.0]), np.array([0, 1, 0, 1, 1, 1]))
    >>> fit["converged"], fit["slope"] > 0, fit["logloss_after"] <= fit["logloss_before"]
    (True, True, True)
"""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.models.calibration import platt_layer_name

MAX_ITERATIONS = 100
TOLERANCE = 1e-10


def _sigmoid(scores: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * scores))      # no overflow for any score


def _log_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    # log(1 + e^z) - y z, written to stay finite for any z
    return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> dict:
    """The slope and bias minimising the log loss of ``sigmoid(slope * logits + bias)`` on
    ``labels`` (in [0, 1]). Returns ``{"slope", "bias", "logloss_before", "logloss_after",
    "records", "converged", "reason"}``; the identity (slope 1, bias 0) with a ``reason`` when
    the labels are all equal, the fit does not converge or its slope is not positive (the log
    losses are None when there is no record or a logit is not finite)."""
    z = np.asarray(logits, np.float64).reshape(-1)
    y = np.asarray(labels, np.float64).reshape(-1)
    if z.shape != y.shape:
        raise ValueError(f"logits and labels differ in length: {z.size} vs {y.size}")
    finite = bool(np.all(np.isfinite(z)))
    # None, not NaN, when there is no loss to report: the record goes into run.json
    before = _log_loss(z, y) if z.size and finite else None
    identity = {"slope": 1.0, "bias": 0.0, "logloss_before": before, "logloss_after": before,
                "records": int(z.size), "converged": False}
    if not z.size or not finite:
        return {**identity, "reason": "no records" if not z.size else "non-finite logits"}
    if y.min() == y.max():
        return {**identity, "reason": f"every label is {y[0]:g}: nothing to fit"}
    features = np.stack([z, np.ones_like(z)], axis=1)
    weights = np.array([1.0, 0.0])
    loss = before
    for _ in range(MAX_ITERATIONS):
        scores = features @ weights
        probabilities = _sigmoid(scores)
        gradient = features.T @ (probabilities - y) / z.size
        hessian = (features * (probabilities * (1.0 - probabilities))[:, None]).T @ features
        hessian = hessian / z.size + 1e-12 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        # halve the Newton step until the loss does not rise (the loss is convex: this ends)
        for _ in range(50):
            candidate = weights - step
            candidate_loss = _log_loss(features @ candidate, y)
            if candidate_loss <= loss + 1e-15:
                break
            step = step / 2
        else:
            break
        weights, loss = candidate, candidate_loss
        if np.max(np.abs(step)) < TOLERANCE:
            break
    slope, bias = float(weights[0]), float(weights[1])
    gradient = features.T @ (_sigmoid(features @ weights) - y) / z.size
    if not np.max(np.abs(gradient)) < 1e-6 or not all(map(math.isfinite, (slope, bias))):
        return {**identity, "reason": "the fit did not converge"}
    if slope <= 0:
        return {**identity, "reason": f"fitted slope {slope:.3g} <= 0: the head ranks the "
                                      "validation records no better than chance"}
    return {"slope": slope, "bias": bias, "logloss_before": before, "logloss_after": loss,
            "records": int(z.size), "converged": True, "reason": ""}


def platt_layers(model: keras.Model, tasks: Sequence[str]) -> dict[str, keras.layers.Layer]:
    """``{task: its PlattScaling layer}``; ValueError when the model lacks one."""
    layers = {}
    for task in tasks:
        try:
            layers[task] = model.get_layer(platt_layer_name(task))
        except ValueError:
            raise ValueError(f"the model has no Platt scaling layer {platt_layer_name(task)!r}"
                             " (model.platt_scaling: true builds one per task)") from None
    return layers


def validation_logits(model: keras.Model, dataset: tf.data.Dataset,
                      tasks: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The logits the Platt layers of ``tasks`` receive, and the labels, over ``dataset``
    (``(inputs, {task: labels})`` batches)."""
    layers = platt_layers(model, tasks)
    probe = keras.Model(model.input, {task: layers[task].input for task in tasks})
    predict = tf.function(lambda inputs: probe(inputs, training=False))
    logits: dict[str, list] = {task: [] for task in tasks}
    labels: dict[str, list] = {task: [] for task in tasks}
    for inputs, targets in dataset:
        outputs = predict(inputs)
        for task in tasks:
            logits[task].append(np.asarray(outputs[task], np.float64).reshape(-1))
            labels[task].append(np.asarray(targets[task], np.float64).reshape(-1))
    return ({task: np.concatenate(v) if v else np.zeros(0) for task, v in logits.items()},
            {task: np.concatenate(v) if v else np.zeros(0) for task, v in labels.items()})


def calibrate_model(model: keras.Model, dataset: tf.data.Dataset,
                    tasks: Sequence[str]) -> dict[str, dict]:
    """Fits every task's Platt layer on ``dataset`` (the validation batches) and writes the
    slope and bias into it; returns ``{task: fit_platt record}``."""
    layers = platt_layers(model, tasks)
    logits, labels = validation_logits(model, dataset, tasks)
    records = {}
    for task in tasks:
        record = fit_platt(logits[task], labels[task])
        layers[task].set_weights([np.array(record["slope"], np.float32),
                                  np.array(record["bias"], np.float32)])
        records[task] = record
    return records


def calibration_lines(records: dict[str, dict]) -> list[str]:
    """One printed line per task: the fitted numbers and the validation log loss."""
    lines = []
    for task, record in records.items():
        if record.get("converged"):
            lines.append(f"Platt scaling ({task}), fitted on {record['records']} validation "
                         f"records: slope {record['slope']:.3f}, bias {record['bias']:+.3f}; "
                         f"val log loss {record['logloss_before']:.4f} -> "
                         f"{record['logloss_after']:.4f}")
        else:
            lines.append(f"Platt scaling ({task}): left at the identity ({record['reason']})")
    return lines
