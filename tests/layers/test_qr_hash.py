"""QR hash embedding (lirank_tf.layers.qr_hash) against a NumPy + mmh3 reference."""

import keras
import mmh3
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes)
from stock_ops_check import saved_model_op_types, serve_in_plain_tensorflow

from lirank_tf.layers import qr_hash
from lirank_tf.layers.qr_hash import QRHashEmbedding, qr_hash_indices

DIM, QUOTIENTS, REMAINDERS = 3, 11, 7
TABLE_NAMES = ["quotient_table_low", "remainder_table_low", "quotient_table_high",
               "remainder_table_high"]


def fixed_table(rows, phase):
    values = np.sin(np.arange(phase, phase + rows * DIM) * 0.37) + 0.1 * (phase % 5)
    return values.reshape(rows, DIM).astype("float32")


def make_layer(**kwargs):
    """A built layer with fixed, distinct tables; returns (layer, tables by name)."""
    layer = QRHashEmbedding(DIM, QUOTIENTS, REMAINDERS, **kwargs)
    layer.build((None,))
    tables = {}
    for index, weight in enumerate(layer.weights):
        name = weight.path.split("/")[-1]
        tables[name] = fixed_table(weight.shape[0], phase=100 * index + 1)
        weight.assign(tables[name])
    return layer, tables


def reference_embedding(token, tables, seed=0, aggregation="sum", both_halves=True):
    """e(id) from mmh3: unsigned 64-bit hash -> two 32-bit halves -> QR rows."""
    unsigned = mmh3.hash64(str(token), seed)[0] % 2**64
    halves = [("low", unsigned & 0xFFFFFFFF), ("high", unsigned >> 32)]
    vectors = []
    for half, value in halves[:2 if both_halves else 1]:
        vectors.append(tables[f"quotient_table_{half}"][(value // REMAINDERS) % QUOTIENTS])
        vectors.append(tables[f"remainder_table_{half}"][value % REMAINDERS])
    combined = vectors[0].astype(np.float64)
    for vector in vectors[1:]:
        combined = combined + vector if aggregation == "sum" else combined * vector
    return combined


IDS = ["member:1234", "member:42", "hashtag:ai", "中文", "x" * 40, "actor:7"]


def test_indices_match_numpy_on_unsigned_halves():
    hashes = [mmh3.hash64(s, 9)[0] for s in IDS + [str(i) for i in range(200)]]
    quotient, remainder = qr_hash_indices(tf.constant(hashes, tf.int64), 1000, 97)
    for row, value in enumerate(hashes):
        unsigned = value % 2**64
        for half, part in enumerate([unsigned & 0xFFFFFFFF, unsigned >> 32]):
            assert quotient.numpy()[row, half] == (part // 97) % 1000
            assert remainder.numpy()[row, half] == part % 97
    assert quotient.shape == (len(hashes), 2)


def test_full_quotient_table_makes_each_half_unique():
    # With Q * R >= 2**32 the (quotient, remainder) pair identifies the 32-bit half.
    halves = tf.constant([0, 2**32 - 1, 12345, 2**31, 2**31 + 1], tf.int64)
    quotient, remainder = qr_hash_indices(halves, 2**22, 2**10)
    recovered = quotient.numpy()[:, 0] * 2**10 + remainder.numpy()[:, 0]
    np.testing.assert_array_equal(recovered, halves.numpy())


@pytest.mark.parametrize("aggregation, both_halves, seed", [
    ("sum", True, 0), ("multiply", True, 0), ("sum", False, 0), ("sum", True, 2**32 - 1)])
def test_single_ids_match_reference(aggregation, both_halves, seed):
    layer, tables = make_layer(aggregation=aggregation, use_both_halves=both_halves, seed=seed)
    got = layer(tf.constant(IDS)).numpy()
    expected = [reference_embedding(t, tables, seed, aggregation, both_halves) for t in IDS]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_integer_ids_hash_as_decimal_strings_and_padding_is_zero():
    layer, tables = make_layer()
    for dtype in (tf.int32, tf.int64):
        got = layer(tf.constant([1234, 0, -1, 987654321], dtype)).numpy()
        np.testing.assert_allclose(got[[0, 1, 3]], [reference_embedding(t, tables)
                                                     for t in (1234, 0, 987654321)], rtol=1e-6)
        np.testing.assert_array_equal(got[2], np.zeros(DIM))
    np.testing.assert_array_equal(layer(tf.constant(["1234"])).numpy(),
                                  layer(tf.constant([1234])).numpy())


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_pooled_padded_and_ragged_lists(pooling):
    layer, tables = make_layer(pooling=pooling)
    rows = [["member:1", "member:2", "member:3"], [], ["hashtag:ai"], ["a", "b"]]

    def pool(row):
        if not row:
            return np.zeros(DIM)
        vectors = np.array([reference_embedding(t, tables) for t in row])
        return vectors.sum(0) if pooling == "sum" else vectors.mean(0)

    expected = np.array([pool(row) for row in rows])
    ragged = layer(tf.ragged.constant(rows, dtype=tf.string)).numpy()
    padded = layer(tf.constant([row + [""] * (3 - len(row)) for row in rows])).numpy()
    np.testing.assert_allclose(ragged, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(padded, expected, rtol=1e-5, atol=1e-6)


def test_sequence_mode_returns_embeddings_and_mask():
    layer, tables = make_layer(output_mode="sequence", padding_value="<pad>")
    ids = [["a", "b", "<pad>"], ["<pad>", "<pad>", "<pad>"]]
    embeddings, mask = layer(tf.constant(ids))
    np.testing.assert_array_equal(mask.numpy(), [[True, True, False], [False] * 3])
    expected = np.zeros((2, 3, DIM))
    expected[0, 0], expected[0, 1] = (reference_embedding(t, tables) for t in "ab")
    np.testing.assert_allclose(embeddings.numpy(), expected, rtol=1e-6, atol=1e-7)
    ragged_embeddings, ragged_mask = layer(tf.ragged.constant([["a", "b"], []]))
    assert ragged_embeddings.shape == (2, 2, DIM)
    np.testing.assert_array_equal(ragged_mask.numpy(), [[True, True], [False, False]])


@pytest.mark.parametrize("seed", [0, 77])
def test_hashed_input_equals_hashing_inside(seed):
    """Pipeline hashes (padding "" hashed too) give the embeddings of the raw strings."""
    raw_layer, _ = make_layer(seed=seed, output_mode="sequence")
    hashed_layer = QRHashEmbedding(DIM, QUOTIENTS, REMAINDERS, seed=seed, hashed_input=True,
                                   output_mode="sequence")
    hashed_layer.build((None,))
    hashed_layer.set_weights(raw_layer.get_weights())
    ids = [["member:1", "", "x" * 20], ["", "", ""]]
    hashes = tf.constant([[mmh3.hash64(t, seed)[0] for t in row] for row in ids], tf.int64)
    for got, expected in zip(hashed_layer(hashes), raw_layer(tf.constant(ids))):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    ragged = tf.ragged.constant([[mmh3.hash64("a", seed)[0]], []], dtype=tf.int64)
    pooled = QRHashEmbedding(DIM, QUOTIENTS, REMAINDERS, seed=seed, hashed_input=True)
    pooled.build((None,))
    pooled.set_weights(raw_layer.get_weights())
    raw_pooled = QRHashEmbedding(DIM, QUOTIENTS, REMAINDERS, seed=seed)
    raw_pooled.build((None,))
    raw_pooled.set_weights(raw_layer.get_weights())
    np.testing.assert_array_equal(pooled(ragged).numpy(),
                                  raw_pooled(tf.ragged.constant([["a"], []])).numpy())


def test_hashed_input_argument_checks():
    with pytest.raises(ValueError, match="padding_value"):
        QRHashEmbedding(4, 10, 5, hashed_input=True, padding_value=0)
    with pytest.raises(ValueError, match="int64"):
        QRHashEmbedding(4, 10, 5, hashed_input=True)(tf.constant(["a"]))
    with pytest.raises(ValueError, match="int64"):
        QRHashEmbedding(4, 10, 5, hashed_input=True)(tf.constant([1], tf.int32))


def test_weight_shapes_and_no_xla():
    layer, _ = make_layer()
    assert_weight_shapes(layer, {"quotient_table_low": (QUOTIENTS, DIM),
                                 "remainder_table_low": (REMAINDERS, DIM),
                                 "quotient_table_high": (QUOTIENTS, DIM),
                                 "remainder_table_high": (REMAINDERS, DIM)})
    half_layer, _ = make_layer(use_both_halves=False)
    assert len(half_layer.weights) == 2
    assert layer.supports_jit is False


def string_model(**kwargs):
    ids = keras.Input(shape=(), dtype="string")
    embeddings = QRHashEmbedding(DIM, QUOTIENTS, REMAINDERS, **kwargs)(ids)
    return keras.Model(ids, keras.layers.Dense(2)(embeddings))


def test_gradients_reach_every_table():
    model = string_model()
    grads = assert_gradients_finite_nonzero(model, np.array(IDS))
    assert sum("table" in path for path in grads) == 4


def test_trains_with_model_fit():
    model = string_model()
    model.compile(optimizer=keras.optimizers.Adagrad(0.5), loss="mse")
    ids = tf.constant([f"member:{i}" for i in range(32)])
    targets = np.tile([[1.0, -1.0]], (32, 1)).astype("float32")
    before = model.evaluate(ids, targets, verbose=0)
    model.fit(ids, targets, epochs=3, batch_size=8, verbose=0)
    assert model.evaluate(ids, targets, verbose=0) < before


def test_config_round_trip():
    layer = QRHashEmbedding(8, 1000, 10, seed=5, aggregation="multiply", use_both_halves=False,
                            output_mode="sequence", pooling="mean", padding_value=0,
                            embeddings_initializer=keras.initializers.RandomUniform(0.9, 1.1))
    clone = assert_config_round_trip(layer)
    assert clone.padding_value == 0 and clone.aggregation == "multiply"
    assert assert_config_round_trip(QRHashEmbedding(4, 10, 5, hashed_input=True)).hashed_input


def test_save_reload_and_serve_with_stock_tensorflow_only(tmp_path):
    model = string_model()
    ids = tf.constant(IDS + ["", "member:1234"])  # Keras predict rejects NumPy unicode arrays
    assert_save_reload_equal(model, ids, tmp_path)
    export_dir = tmp_path / "saved_model"  # written by assert_save_reload_equal
    assert not any(op.startswith("Lirank") for op in saved_model_op_types(export_dir))
    served = serve_in_plain_tensorflow(export_dir, IDS + ["", "member:1234"])
    np.testing.assert_allclose(served, model.predict(ids, verbose=0), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kwargs, name", [
    ({"embedding_dim": 0}, "embedding_dim"), ({"num_quotient_buckets": -1}, "num_quotient"),
    ({"num_remainder_buckets": 2.5}, "num_remainder"), ({"seed": -1}, "seed"),
    ({"seed": 2**32}, "seed"), ({"aggregation": "mean"}, "aggregation"),
    ({"use_both_halves": 1}, "use_both_halves"), ({"output_mode": "dense"}, "output_mode"),
    ({"pooling": "max"}, "pooling"), ({"padding_value": 1.5}, "padding_value"),
    ({"hashed_input": "yes"}, "hashed_input"),
    ({"padding_value": True}, "padding_value"),
])
def test_invalid_arguments_raise(kwargs, name):
    arguments = {"embedding_dim": 4, "num_quotient_buckets": 10, "num_remainder_buckets": 5}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=name):
        QRHashEmbedding(**arguments)


def test_padding_value_of_the_wrong_type_raises_at_call():
    with pytest.raises(ValueError, match="padding_value"):
        QRHashEmbedding(4, 10, 5, padding_value="")(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="padding_value"):
        QRHashEmbedding(4, 10, 5, padding_value=0)(tf.constant(["a"]))
    with pytest.raises(ValueError, match="dtype"):
        QRHashEmbedding(4, 10, 5)(tf.constant([1.5]))


def test_docstring_examples_run():
    assert_doctests_pass(qr_hash)


@pytest.mark.parametrize("output_mode", ["pooled", "sequence"])
def test_inference_looks_each_distinct_id_up_once_with_the_same_values(output_mode):
    """At inference the layer embeds the distinct hashes of a batch and gathers them back
    (a request repeats its member's ids on each of its rows); the values are those of the
    row-by-row lookup (training=True) and of the mmh3 reference, repeats or not."""
    layer, tables = make_layer(output_mode=output_mode)
    rng = np.random.default_rng(5)
    pool = ["member:1", "member:2", "hashtag:ai", "中文", ""]
    rows = [[pool[i] for i in rng.integers(0, len(pool), 4)] for _ in range(30)]
    ids = tf.constant(rows)
    inference, training = layer(ids, training=False), layer(ids, training=True)
    if output_mode == "sequence":
        np.testing.assert_array_equal(inference[1], training[1])
        inference, training = inference[0], training[0]
        expected = np.array([[reference_embedding(t, tables) if t else np.zeros(DIM)
                              for t in row] for row in rows])
    else:
        expected = np.array([sum((reference_embedding(t, tables) for t in row if t),
                                 np.zeros(DIM)) for row in rows])
    np.testing.assert_array_equal(inference.numpy(), training.numpy())
    np.testing.assert_allclose(inference.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert inference.shape == training.shape
    # the inference graph looks up one row per distinct hash: count them through a probe
    looked_up = []
    original = layer.embed_hashes
    layer.embed_hashes = lambda hashes: (looked_up.append(int(tf.size(hashes))),
                                         original(hashes))[1]
    try:
        layer(ids, training=False)
    finally:
        del layer.embed_hashes
    assert looked_up == [len({t for row in rows for t in row})]
