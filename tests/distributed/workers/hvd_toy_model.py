"""A tiny Feed-like model and data for the distributed tests (workers and test processes).

    user id  -> Embedding(37, 4)                          (one id per example)
    item ids -> Embedding(29, 4), sequence [B, 3, 4] -> mean over the 3 items
    queries  -> QRHashEmbedding(Q=13, R=5, dim 4), string id lists with "" padding, mean
    dense [B, 3]
    -> concat -> Dense(8, relu) -> Dense(1, sigmoid)

Five tables of the embedding layers: user (37 rows), item (29), and the QR tables
quotient_low/high (13 rows), remainder_low/high (5 rows).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.layers.qr_hash import QRHashEmbedding

NUM_USERS, NUM_ITEMS, ITEMS_PER_EXAMPLE, QUERIES_PER_EXAMPLE = 37, 29, 3, 4
QUERY_VOCABULARY = [f"query:{i}" for i in range(40)]
LEARNING_RATE, MOMENTUM = 0.5, 0.9


def build_plain_model(seed: int) -> keras.Model:
    """The plain (single-process) model; weights drawn from ``seed``."""
    keras.utils.set_random_seed(seed)
    user = keras.Input((), dtype="int64", name="user")
    items = keras.Input((ITEMS_PER_EXAMPLE,), dtype="int64", name="items")
    queries = keras.Input((QUERIES_PER_EXAMPLE,), dtype="string", name="queries")
    dense = keras.Input((3,), dtype="float32", name="dense")
    init = keras.initializers.RandomUniform(-0.5, 0.5)
    user_vector = keras.layers.Embedding(NUM_USERS, 4, embeddings_initializer=init,
                                         name="user_embedding")(user)
    item_vectors = keras.layers.Embedding(NUM_ITEMS, 4, embeddings_initializer=init,
                                          name="item_embedding")(items)
    item_vector = keras.layers.GlobalAveragePooling1D(name="item_mean")(item_vectors)
    query_vector = QRHashEmbedding(embedding_dim=4, num_quotient_buckets=13,
                                   num_remainder_buckets=5, pooling="mean",
                                   embeddings_initializer=init, name="query_embedding")(queries)
    x = keras.layers.Concatenate(name="concat")([user_vector, item_vector, query_vector, dense])
    x = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    output = keras.layers.Dense(1, activation="sigmoid", name="click")(x)
    return keras.Model({"user": user, "items": items, "queries": queries, "dense": dense},
                       output, name="toy_feed")


def make_optimizer() -> keras.optimizers.Optimizer:
    # SGD with momentum: sensitive to the gradient scale (unlike Adam), and has a slot.
    return keras.optimizers.SGD(LEARNING_RATE, momentum=MOMENTUM)


def make_examples(count: int, seed: int) -> tuple[dict, np.ndarray]:
    """``count`` examples with a learnable click label (the data, not an expectation)."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, NUM_USERS, count)
    items = rng.integers(0, NUM_ITEMS, (count, ITEMS_PER_EXAMPLE))
    queries = rng.choice(QUERY_VOCABULARY, (count, QUERIES_PER_EXAMPLE))
    queries[rng.random((count, QUERIES_PER_EXAMPLE)) < 0.3] = ""  # padding
    dense = rng.normal(size=(count, 3)).astype("float32")
    logits = dense[:, 0] + np.where(users % 2 == 0, 1.0, -1.0) + 0.5 * (items[:, 0] % 3 - 1)
    labels = (rng.random(count) < 1 / (1 + np.exp(-logits))).astype("float32")[:, None]
    features = {"user": users.astype("int64"), "items": items.astype("int64"),
                "queries": queries.astype(object), "dense": dense}
    return features, labels


def batches(features: dict, labels: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Consecutive batches, in order (no shuffling)."""
    return tf.data.Dataset.from_tensor_slices((features, labels)).batch(batch_size,
                                                                        drop_remainder=True)
