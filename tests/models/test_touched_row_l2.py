"""TouchedRowL2: the L2 penalty of the embedding rows a batch looks up, against NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.layers.qr_hash import QRHashEmbedding, qr_hash_indices
from lirank_tf.models.regularization import TouchedRowL2


def test_single_ids_penalty_is_l2_times_the_batch_mean_of_squared_norms():
    vectors = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0], [0.0, 0.0, 0.0]], "float32")
    layer = TouchedRowL2(0.1)
    out = layer(vectors)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), vectors)   # identity
    expected = 0.1 * np.mean(np.sum(vectors ** 2, axis=-1))
    assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-6)


def test_id_lists_weigh_each_row_by_one_over_the_real_length():
    steps = np.arange(2 * 3 * 2, dtype="float32").reshape(2, 3, 2) / 10.0
    mask = np.array([[True, True, False], [False, False, False]])
    steps[~mask] = 0.0                     # padding steps come out of the lookup as zeros
    layer = TouchedRowL2(2.0)
    layer(steps, mask)
    first = np.sum(steps[0, :2] ** 2) / 2  # two real steps
    expected = 2.0 * np.mean([first, 0.0])  # an empty list adds nothing
    assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-6)


def test_only_the_rows_the_batch_touches_get_a_gradient_on_a_qr_table():
    """Through a QR-hash lookup the penalty's gradient is 2 l2 / B * e(id) on each looked-up
    row (summed over repeats) and zero on every other row."""
    table = QRHashEmbedding(embedding_dim=4, num_quotient_buckets=3, num_remainder_buckets=11,
                            hashed_input=True, output_mode="sequence",
                            embeddings_initializer=keras.initializers.RandomNormal(seed=1))
    hashes = tf.constant([123456789, 987654321, 123456789], tf.int64)
    table(hashes)
    penalty = TouchedRowL2(0.5)
    with tf.GradientTape() as tape:
        vectors, _ = table(hashes)
        penalty(vectors)
        loss = penalty.losses[0]
    remainder = table.remainder_tables[0]
    grad = tf.convert_to_tensor(tape.gradient(loss, remainder)).numpy()
    e = vectors.numpy()
    _, remainder_index = qr_hash_indices(hashes, 3, 11)
    rows = remainder_index[:, 0].numpy()
    expected = np.zeros_like(grad)
    for b, row in enumerate(rows):
        expected[row] += 2 * 0.5 / len(rows) * e[b]
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-8)
    untouched = sorted(set(range(11)) - set(rows.tolist()))
    assert untouched and not np.any(grad[untouched])


@pytest.mark.parametrize("l2", [-0.1, float("nan"), True, "0.1"])
def test_bad_l2_is_named(l2):
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        TouchedRowL2(l2)


def test_an_id_list_without_mask_is_refused():
    with pytest.raises(ValueError, match="need a mask"):
        TouchedRowL2(0.1)(np.zeros((2, 3, 4), "float32"))


def test_in_a_functional_model_the_penalty_is_in_the_training_loss_and_round_trips(tmp_path):
    ids = keras.Input((), dtype="int64", name="ids")
    table = QRHashEmbedding(embedding_dim=2, num_quotient_buckets=1, num_remainder_buckets=8,
                            hashed_input=True, output_mode="sequence",
                            embeddings_initializer="ones", name="u_embedding")
    vectors, _ = table(ids)
    vectors = TouchedRowL2(0.25, name="u_l2")(vectors)
    model = keras.Model(ids, keras.layers.Dense(1, kernel_initializer="zeros")(vectors))
    batch = np.array([5, 9, 11, 0], "int64")   # 0: padding (zeros, no penalty)
    model(batch)
    # all-ones tables: a real id's vector is 4 rows of ones summed -> [4, 4], norm^2 32
    assert float(model.losses[0]) == pytest.approx(0.25 * 32 * 3 / 4)
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("u_l2").get_config()["l2"] == 0.25
    loaded(batch)
    assert float(loaded.losses[0]) == pytest.approx(float(model.losses[0]))


def test_doctests():
    import doctest

    from lirank_tf.models import regularization
    assert doctest.testmod(regularization).failed == 0
