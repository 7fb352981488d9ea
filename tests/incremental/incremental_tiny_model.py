"""A tiny two-task ranking model with fixed weights, and its per-example gradients in NumPy.

    h = [E[id_0], E[id_1], x]          (one embedding table looked up twice per example)
    z = tanh(h W1 + b1)
    logit_t = z w_t + c_t,   p_t = sigmoid(logit_t),   t in {click (loss weight 2), like}

Imported by the tests of lirank_tf.incremental (tests/conftest.py puts this folder on sys.path).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.config import TaskConfig

NUM_ROWS, DIM, DENSE, HIDDEN = 6, 2, 3, 4
TASKS = [TaskConfig("click", "click", loss_weight=2.0), TaskConfig("like", "like", loss_weight=1.0)]


def fixed_weights() -> dict[str, np.ndarray]:
    """Deterministic, non-symmetric weights (no random seed involved)."""
    def ramp(shape, start, stop):
        return np.linspace(start, stop, int(np.prod(shape))).reshape(shape).astype(np.float32)
    return {
        "item_embedding/embeddings": ramp((NUM_ROWS, DIM), -0.6, 0.7),
        "hidden/kernel": np.sin(np.arange(2 * DIM + DENSE)[:, None] + 0.7 * np.arange(HIDDEN)).astype(np.float32),
        "hidden/bias": ramp((HIDDEN,), -0.2, 0.3),
        "click_logit/kernel": ramp((HIDDEN, 1), -0.8, 0.9),
        "click_logit/bias": np.array([0.1], np.float32),
        "like_logit/kernel": ramp((HIDDEN, 1), 0.5, -0.4),
        "like_logit/bias": np.array([-0.3], np.float32),
    }


def build_tiny_model(weights: dict[str, np.ndarray] | None = None) -> keras.Model:
    ids = keras.Input((2,), dtype="int64", name="ids")
    dense = keras.Input((DENSE,), name="x")
    embedded = keras.layers.Embedding(NUM_ROWS, DIM, name="item_embedding")(ids)
    h = keras.layers.Concatenate()([keras.layers.Flatten()(embedded), dense])
    z = keras.layers.Dense(HIDDEN, activation="tanh", name="hidden")(h)
    outputs = {task.name: keras.layers.Activation("sigmoid", name=task.name)(
        keras.layers.Dense(1, name=f"{task.name}_logit")(z)) for task in TASKS}
    model = keras.Model({"ids": ids, "x": dense}, outputs, name="tiny")
    weights = fixed_weights() if weights is None else weights
    for variable in model.weights:
        variable.assign(weights[variable.path])
    return model


def tiny_data(n: int = 10):
    """Inputs and labels of ``n`` examples; example 1 and 6 look up the same row twice."""
    ids = np.array([[(3 * i) % NUM_ROWS, (i * i + 1) % NUM_ROWS] for i in range(n)], np.int64)
    ids[1] = [4, 4]
    if n > 6:
        ids[6] = [0, 0]
    x = np.cos(np.arange(n * DENSE).reshape(n, DENSE)).astype(np.float32)
    labels = {"click": (np.arange(n) % 3 == 0).astype(np.float32).reshape(-1, 1),
              "like": (np.arange(n) % 2 == 1).astype(np.float32).reshape(-1, 1)}
    return {"ids": ids, "x": x}, labels


def dataset(inputs, labels, batch_size: int) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch_size)


def numpy_per_example_gradients(weights, inputs, labels) -> list[dict[str, np.ndarray]]:
    """The gradient of loss_i = sum_t loss_weight_t * BCE_t(i) for every example, by hand."""
    W = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    out = []
    for i in range(len(inputs["ids"])):
        a, b = inputs["ids"][i]
        h = np.concatenate([W["item_embedding/embeddings"][a], W["item_embedding/embeddings"][b],
                            inputs["x"][i].astype(np.float64)])
        z = np.tanh(h @ W["hidden/kernel"] + W["hidden/bias"])
        grads = {"hidden/kernel": 0.0, "hidden/bias": 0.0}
        dz = np.zeros(HIDDEN)
        for task in TASKS:
            kernel, bias = W[f"{task.name}_logit/kernel"], W[f"{task.name}_logit/bias"]
            p = 1.0 / (1.0 + np.exp(-(z @ kernel + bias)))
            dlogit = task.loss_weight * (p - labels[task.name][i])        # [1]
            grads[f"{task.name}_logit/kernel"] = np.outer(z, dlogit)
            grads[f"{task.name}_logit/bias"] = dlogit
            dz += kernel[:, 0] * dlogit[0]
        da = dz * (1.0 - z ** 2)
        grads["hidden/kernel"] = np.outer(h, da)
        grads["hidden/bias"] = da
        dh = W["hidden/kernel"] @ da
        table = np.zeros((NUM_ROWS, DIM))
        table[a] += dh[:DIM]
        table[b] += dh[DIM:2 * DIM]
        grads["item_embedding/embeddings"] = table
        out.append(grads)
    return out


def numpy_fisher(weights, inputs, labels) -> dict[str, np.ndarray]:
    """Mean over examples of the squared per-example gradients."""
    grads = numpy_per_example_gradients(weights, inputs, labels)
    return {key: np.mean([g[key] ** 2 for g in grads], axis=0) for key in grads[0]}
