"""Tests of lirank_tf.training.optimizers against hand-written NumPy schedules and updates."""

import doctest
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.training import optimizers as optimizers_module
from lirank_tf.training.optimizers import (DenseSparseOptimizer, WarmupSchedule,
                                           clip_by_global_norm, deduplicate_indexed_slices,
                                           make_training_optimizer, scaled_warmup_fraction)

ADAM_B1, ADAM_B2, EPS, ADAGRAD_INIT = 0.9, 0.999, 1e-7, 0.1  # Keras defaults


def reference_lr(step, peak, total, fraction, decay, final):
    warmup = round(fraction * total)
    if step < warmup:
        return peak * min(1.0, (step + 1) / warmup)
    if decay == "constant":
        return peak
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if decay == "linear":
        return peak + (final - peak) * progress
    return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize("decay", ["constant", "linear", "cosine"])
@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.6, 1.0])
def test_warmup_schedule_matches_reference(decay, fraction):
    schedule = WarmupSchedule(0.1, total_steps=20, warmup_fraction=fraction, decay=decay,
                              final_learning_rate=0.01)
    for step in range(26):
        assert float(schedule(step)) == pytest.approx(
            reference_lr(step, 0.1, 20, fraction, decay, 0.01), rel=1e-5), step


def test_warmup_is_linear_and_reaches_peak():
    schedule = WarmupSchedule(2.0, total_steps=100, warmup_fraction=0.5)
    values = np.array([float(schedule(step)) for step in range(100)])
    np.testing.assert_allclose(values[:50], 2.0 * np.arange(1, 51) / 50, rtol=1e-6)
    np.testing.assert_allclose(values[50:], 2.0)


def test_scaled_warmup_fraction_doubles_with_batch_size_up_to_the_cap():
    fractions = [scaled_warmup_fraction(512 * 2 ** i, base_batch_size=512, base_fraction=0.05)
                 for i in range(6)]
    np.testing.assert_allclose(fractions, [0.05, 0.1, 0.2, 0.4, 0.6, 0.6])
    assert scaled_warmup_fraction(256, 512, 0.5, max_fraction=0.5) == 0.25


@pytest.mark.parametrize("kwargs, name", [
    ({"peak_learning_rate": 0.0}, "peak_learning_rate"), ({"total_steps": 0}, "total_steps"),
    ({"total_steps": 10.5}, "total_steps"), ({"warmup_fraction": 1.5}, "warmup_fraction"),
    ({"warmup_fraction": -0.1}, "warmup_fraction"), ({"decay": "step"}, "decay"),
    ({"final_learning_rate": -1.0}, "final_learning_rate"),
])
def test_schedule_invalid_arguments(kwargs, name):
    arguments = {"peak_learning_rate": 1.0, "total_steps": 10, **kwargs}
    with pytest.raises(ValueError, match=name):
        WarmupSchedule(**arguments)


@pytest.mark.parametrize("args, name", [
    ((0, 512, 0.1), "batch_size"), ((512, -1, 0.1), "base_batch_size"),
    ((512, 512, 2.0), "base_fraction")])
def test_scaled_warmup_invalid_arguments(args, name):
    with pytest.raises(ValueError, match=name):
        scaled_warmup_fraction(*args)


def test_schedule_config_round_trip_and_serialization():
    schedule = WarmupSchedule(0.3, 50, warmup_fraction=0.2, decay="cosine",
                              final_learning_rate=0.05)
    clone = WarmupSchedule.from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert float(revived(30)) == pytest.approx(float(schedule(30)))


# A tiny ranker: ids (batch, 3) -> item_embedding (6 x 2) -> flatten -> head (6 -> 1).
IDS = np.array([[0, 2, 2], [5, 0, 1], [2, 2, 3], [4, 1, 0]], "int32")  # repeated ids
TARGETS = np.array([[1.0], [-1.0], [0.5], [2.0]], "float32")
TABLE = (0.3 * np.sin(np.arange(12) * 1.1)).reshape(6, 2).astype("float32")
KERNEL = (0.5 * np.cos(np.arange(6) * 0.7)).reshape(6, 1).astype("float32")
BIAS = np.array([0.1], "float32")


def tiny_model():
    ids = keras.Input((3,), dtype="int32")
    rows = keras.layers.Embedding(6, 2, name="item_embedding")(ids)
    out = keras.layers.Dense(1, name="head")(keras.layers.Flatten()(rows))
    model = keras.Model(ids, out)
    model.set_weights([TABLE, KERNEL, BIAS])
    return model


def numpy_grads(table, kernel, bias):
    """Gradients of mean((flatten(table[ids]) @ kernel + bias - targets)^2), by hand."""
    features = table[IDS].reshape(len(IDS), -1)
    d_out = 2.0 * (features @ kernel + bias - TARGETS) / len(IDS)
    d_table = np.zeros_like(table)
    for b in range(len(IDS)):
        for j, row in enumerate(IDS[b]):
            d_table[row] += d_out[b, 0] * kernel[2 * j:2 * j + 2, 0]
    return d_table, features.T @ d_out, d_out.sum(0)


def tf_step(model, optimizer):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(IDS) - TARGETS))
    grads = tape.gradient(loss, model.trainable_variables)
    assert isinstance(grads[0], tf.IndexedSlices)  # the embedding gradient is sparse
    optimizer.apply(grads, model.trainable_variables)


@pytest.mark.parametrize("clipnorm", [None, 0.05])
def test_adam_dense_adagrad_sparse_updates_match_numpy(clipnorm):
    model = tiny_model()
    dense_lr, sparse_lr = WarmupSchedule(0.1, total_steps=10, warmup_fraction=0.3), 0.2
    optimizer = DenseSparseOptimizer(keras.optimizers.Adam(dense_lr),
                                     keras.optimizers.Adagrad(sparse_lr), global_clipnorm=clipnorm)
    table, kernel, bias = TABLE.astype("float64"), KERNEL.astype("float64"), BIAS.astype("float64")
    accumulator = np.full_like(table, ADAGRAD_INIT)
    moments = {"kernel": [np.zeros_like(kernel), np.zeros_like(kernel)],
               "bias": [np.zeros_like(bias), np.zeros_like(bias)]}
    clipped_any = False
    for step in range(3):
        grads = list(numpy_grads(table, kernel, bias))
        if clipnorm is not None:
            norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
            clipped_any |= norm > clipnorm
            grads = [g * min(1.0, clipnorm / norm) for g in grads]
        d_table, d_kernel, d_bias = grads
        accumulator += d_table ** 2
        table = table - sparse_lr * d_table / np.sqrt(accumulator + EPS)
        lr = reference_lr(step, 0.1, 10, 0.3, "constant", 0.0)
        alpha = lr * math.sqrt(1 - ADAM_B2 ** (step + 1)) / (1 - ADAM_B1 ** (step + 1))
        updated = []
        for name, value, grad in (("kernel", kernel, d_kernel), ("bias", bias, d_bias)):
            m, v = moments[name]
            m += (grad - m) * (1 - ADAM_B1)
            v += (grad ** 2 - v) * (1 - ADAM_B2)
            updated.append(value - m * alpha / (np.sqrt(v) + EPS))
        kernel, bias = updated
        tf_step(model, optimizer)
        actual = [keras.ops.convert_to_numpy(w) for w in model.weights]
        for got, want in zip(actual, (table, kernel, bias)):
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    assert clipped_any == (clipnorm is not None)
    assert int(optimizer.iterations) == 3
    adagrad, adam = optimizer.sparse_optimizer, optimizer.dense_optimizer
    assert int(adagrad.iterations) == 3 and int(adam.iterations) == 3


def test_adam_for_the_embedding_rows_matches_numpy():
    """``training.sparse_optimizer: adam``: the rows follow Adam's update at the sparse rate,
    the dense weights Adam at the dense rate."""
    model = tiny_model()
    optimizer = make_training_optimizer(0.1, total_steps=10, sparse_learning_rate=0.05,
                                        sparse_optimizer="adam", warmup_fraction=0.0,
                                        global_clipnorm=None)
    assert isinstance(optimizer.sparse_optimizer, keras.optimizers.Adam)
    weights = [w.astype("float64") for w in (TABLE, KERNEL, BIAS)]
    moments = [[np.zeros_like(w), np.zeros_like(w)] for w in weights]
    for step in range(3):
        grads = numpy_grads(*weights)
        for k, (lr, grad) in enumerate(zip((0.05, 0.1, 0.1), grads)):
            m, v = moments[k]
            m += (grad - m) * (1 - ADAM_B1)
            v += (grad ** 2 - v) * (1 - ADAM_B2)
            alpha = lr * math.sqrt(1 - ADAM_B2 ** (step + 1)) / (1 - ADAM_B1 ** (step + 1))
            weights[k] = weights[k] - m * alpha / (np.sqrt(v) + EPS)
        tf_step(model, optimizer)
        for got, want in zip(model.weights, weights):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, rtol=2e-5,
                                       atol=1e-6)
    with pytest.raises(ValueError, match="sparse_optimizer: expected one of"):
        make_training_optimizer(0.1, total_steps=10, sparse_optimizer="sgd")


def test_variables_are_routed_by_path():
    model = tiny_model()
    optimizer = DenseSparseOptimizer()
    optimizer.build(model.trainable_variables)
    routed = {v.path: optimizer.is_embedding_variable(v) for v in model.trainable_variables}
    assert routed == {"item_embedding/embeddings": True, "head/kernel": False,
                      "head/bias": False}
    # Adagrad holds one accumulator (for the table); Adam two moments each for kernel and bias.
    slots = lambda opt: sorted(tuple(v.shape) for v in opt.variables if len(v.shape))  # noqa: E731
    assert slots(optimizer.sparse_optimizer) == [(6, 2)]
    assert slots(optimizer.dense_optimizer) == [(1,), (1,), (6, 1), (6, 1)]
    custom = DenseSparseOptimizer(embedding_pattern=r".*head/bias")
    assert [custom.is_embedding_variable(v) for v in model.trainable_variables] == [
        False, False, True]


def test_deduplicate_indexed_slices_sums_repeated_rows():
    grad = tf.IndexedSlices(tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
                            tf.constant([2, 0, 2]), tf.constant([4, 2]))
    deduped = deduplicate_indexed_slices(grad)
    np.testing.assert_allclose(tf.convert_to_tensor(deduped).numpy(),
                               tf.convert_to_tensor(grad).numpy())
    assert sorted(deduped.indices.numpy().tolist()) == [0, 2]


def test_fit_with_recipe_optimizer_and_keras_save_load(tmp_path):
    model = tiny_model()
    optimizer = make_training_optimizer(0.05, total_steps=8, sparse_learning_rate=0.1,
                                        warmup_fraction=0.25, batch_size=8, base_batch_size=4,
                                        decay="linear", global_clipnorm=1.0)
    model.compile(optimizer=optimizer, loss="mse")
    history = model.fit(np.tile(IDS, (2, 1)), np.tile(TARGETS, (2, 1)), batch_size=8, epochs=8,
                        verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert int(optimizer.iterations) == 8
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, DenseSparseOptimizer)
    assert int(loaded.optimizer.iterations) == 8
    for saved, restored in zip(optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(restored),
                                   keras.ops.convert_to_numpy(saved))
    schedule = loaded.optimizer.dense_optimizer.get_config()["learning_rate"]
    assert schedule["config"]["warmup_fraction"] == 0.5  # 0.25 doubled for the doubled batch


def test_optimizer_config_round_trip():
    optimizer = make_training_optimizer(1e-3, total_steps=100, global_clipnorm=2.0,
                                        embedding_pattern=r".*_table_\d+")
    clone = DenseSparseOptimizer.from_config(optimizer.get_config())
    assert clone.embedding_pattern == r".*_table_\d+" and clone.dense_sparse_clipnorm == 2.0
    assert isinstance(clone.dense_optimizer, keras.optimizers.Adam)
    assert isinstance(clone.sparse_optimizer, keras.optimizers.Adagrad)
    assert clone.get_config() == optimizer.get_config()


@pytest.mark.parametrize("kwargs, name", [
    ({"dense_optimizer": "adam"}, "dense_optimizer"),
    ({"sparse_optimizer": object()}, "sparse_optimizer"),
    ({"embedding_pattern": "(["}, "embedding_pattern"),
    ({"embedding_pattern": 3}, "embedding_pattern"),
    ({"global_clipnorm": 0.0}, "global_clipnorm"), ({"global_clipnorm": "1"}, "global_clipnorm"),
])
def test_optimizer_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DenseSparseOptimizer(**kwargs)


def test_same_inner_optimizer_twice_is_rejected():
    adam = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="different objects"):
        DenseSparseOptimizer(adam, adam)


@pytest.mark.parametrize("kwargs, name", [
    ({"batch_size": 1024}, "base_batch_size"), ({"sparse_learning_rate": 0.0},
                                                "sparse_learning_rate"),
    ({"warmup_fraction": 2.0}, "warmup_fraction")])
def test_recipe_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_training_optimizer(1e-3, total_steps=10, **kwargs)


def test_doctests():
    result = doctest.testmod(optimizers_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_clip_by_global_norm_matches_numpy_and_keeps_none():
    dense = tf.constant([[3.0, 0.0], [0.0, 4.0]])
    sparse = tf.IndexedSlices(tf.constant([[12.0, 0.0]]), tf.constant([1]), tf.constant([3, 2]))
    clipped = clip_by_global_norm([dense, None, sparse], 6.5)  # global norm sqrt(9+16+144) = 13
    assert clipped[1] is None and isinstance(clipped[2], tf.IndexedSlices)
    np.testing.assert_allclose(clipped[0].numpy(), dense.numpy() * 0.5)
    np.testing.assert_allclose(clipped[2].values.numpy(), [[6.0, 0.0]])
    unclipped = clip_by_global_norm([dense], 100.0)
    np.testing.assert_allclose(unclipped[0].numpy(), dense.numpy())
