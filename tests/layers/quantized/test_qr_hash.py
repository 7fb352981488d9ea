"""QuantizedQRHashEmbedding (lirank_tf.layers.quantized.qr_hash) vs a NumPy + mmh3 reference."""

import keras
import mmh3
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import assert_config_round_trip, assert_doctests_pass, assert_save_reload_equal
from stock_ops_check import saved_model_op_types, serve_in_plain_tensorflow

from lirank_tf.layers.quantized import qr_hash
from lirank_tf.layers.qr_hash import QRHashEmbedding
from lirank_tf.layers.quantized.qr_hash import QuantizedQRHashEmbedding

DIM, QUOTIENTS, REMAINDERS = 5, 13, 6
IDS = ["member:1", "member:22", "hashtag:ai", "", "中文", "actor:9" * 5]


def float_layer(**kwargs):
    layer = QRHashEmbedding(DIM, QUOTIENTS, REMAINDERS, name="ids", **kwargs)
    layer.build((None,))
    rng = np.random.default_rng(5)
    for weight in layer.weights:  # normal tables, each row with its own offset
        rows = weight.shape[0]
        weight.assign((rng.normal(size=(rows, DIM)) + rng.normal(size=(rows, 1))).astype("float32"))
    return layer


def reference_rows(table, index):
    """Row ``index`` of a table after middle-max quantization, computed row by row."""
    row = table[index].astype(np.float64)
    scale = np.float32((row.max() - row.min()) / 255)
    middle = np.float32((row.max() * 128 + row.min() * 127) / 255)
    ints = np.clip(np.rint((row - middle) / scale), -128, 127)
    return float(middle) + ints * float(scale), float(scale)


def reference(layer, token, aggregation="sum"):
    tables = {w.path.split("/")[-1]: w.numpy() for w in layer.weights}
    unsigned = mmh3.hash64(token, layer.seed)[0] % 2**64
    vectors, scales = [], []
    for half, value in (("low", unsigned & 0xFFFFFFFF), ("high", unsigned >> 32)):
        for kind, index in (("quotient", (value // REMAINDERS) % QUOTIENTS),
                            ("remainder", value % REMAINDERS)):
            vector, scale = reference_rows(tables[f"{kind}_table_{half}"], index)
            vectors.append(vector)
            scales.append(scale)
    combined = vectors[0]
    for vector in vectors[1:]:
        combined = combined + vector if aggregation == "sum" else combined * vector
    return combined, sum(scales) / 2


@pytest.mark.parametrize("aggregation", ["sum", "multiply"])
def test_matches_reference_and_stays_close_to_the_float_layer(aggregation):
    source = float_layer(aggregation=aggregation, seed=3)
    quantized = QuantizedQRHashEmbedding.from_layer(source)
    got = quantized(tf.constant(IDS)).numpy()
    for row, token in enumerate(IDS):
        if not token:
            np.testing.assert_array_equal(got[row], np.zeros(DIM))
            continue
        expected, error_bound = reference(source, token, aggregation)
        np.testing.assert_allclose(got[row], expected, rtol=1e-5, atol=1e-5)
        if aggregation == "sum":
            float_row = source(tf.constant([token])).numpy()[0]
            assert np.all(np.abs(got[row] - float_row) <= error_bound + 1e-5)


def test_pooling_sequence_and_hashed_input_follow_the_float_layer_config():
    source = float_layer(output_mode="sequence", hashed_input=True)
    quantized = QuantizedQRHashEmbedding.from_layer(source)
    assert quantized.get_config() == source.get_config()
    hashes = tf.constant([[mmh3.hash64(t)[0] for t in ("a", "", "b")]], tf.int64)
    embeddings, mask = quantized(hashes)
    np.testing.assert_array_equal(mask.numpy(), [[True, False, True]])
    np.testing.assert_array_equal(embeddings.numpy()[0, 1], np.zeros(DIM))


def test_weights_are_int8_and_not_trainable():
    quantized = QuantizedQRHashEmbedding.from_layer(float_layer(use_both_halves=False))
    assert quantized.trainable_weights == []
    shapes = {w.path.split("/")[-1]: (w.dtype, tuple(w.shape)) for w in quantized.weights}
    assert shapes == {
        "quotient_table_low_values": ("int8", (QUOTIENTS, DIM)),
        "quotient_table_low_middle": ("float32", (QUOTIENTS,)),
        "quotient_table_low_scale": ("float32", (QUOTIENTS,)),
        "remainder_table_low_values": ("int8", (REMAINDERS, DIM)),
        "remainder_table_low_middle": ("float32", (REMAINDERS,)),
        "remainder_table_low_scale": ("float32", (REMAINDERS,))}


def test_save_reload_and_serve_with_stock_tensorflow_only(tmp_path):
    ids = keras.Input(shape=(), dtype="string")
    model = keras.Model(ids, QuantizedQRHashEmbedding.from_layer(float_layer())(ids))
    batch = tf.constant(IDS)
    assert_save_reload_equal(model, batch, tmp_path, atol=0)
    assert not any(op.startswith("Lirank") for op in saved_model_op_types(tmp_path / "saved_model"))
    np.testing.assert_allclose(serve_in_plain_tensorflow(tmp_path / "saved_model", IDS),
                               model.predict(batch, verbose=0), rtol=1e-6, atol=1e-6)


def test_invalid_sources_raise():
    with pytest.raises(ValueError, match="built, float QRHashEmbedding"):
        QuantizedQRHashEmbedding.from_layer(QRHashEmbedding(DIM, QUOTIENTS, REMAINDERS))
    with pytest.raises(ValueError, match="built, float QRHashEmbedding"):
        QuantizedQRHashEmbedding.from_layer(keras.layers.Dense(2))
    target = QuantizedQRHashEmbedding(DIM, QUOTIENTS, REMAINDERS)
    with pytest.raises(ValueError, match="use_both_halves"):
        target.set_tables_from(float_layer(use_both_halves=False))
    with pytest.raises(ValueError, match="shape"):
        QuantizedQRHashEmbedding(DIM, QUOTIENTS + 1, REMAINDERS).set_tables_from(float_layer())
    with pytest.raises(ValueError, match="embedding_dim"):
        QuantizedQRHashEmbedding(0, QUOTIENTS, REMAINDERS)


def test_config_round_trip():
    assert_config_round_trip(QuantizedQRHashEmbedding(DIM, QUOTIENTS, REMAINDERS, seed=9,
                                                      pooling="mean"))


def test_docstring_examples_run():
    assert_doctests_pass(qr_hash)
