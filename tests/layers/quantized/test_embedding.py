"""QuantizedEmbedding (lirank_tf.layers.quantized.embedding) vs a NumPy dequantization."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_save_reload_equal, assert_weight_shapes, functional_model)
from quantization_reference import hard_tables, reference_middle_max
from stock_ops_check import saved_model_op_types

from lirank_tf.layers.quantized import embedding
from lirank_tf.layers.quantized.embedding import QuantizedEmbedding
from lirank_tf.layers.quantized.tables import dequantize_table, quantize_table


def quantized_layer():
    table = hard_tables()["normal"][:50, :8]
    return QuantizedEmbedding.from_table(table), table


def test_layer_lookup_matches_numpy_dequantization():
    layer, table = quantized_layer()
    ids = np.array([[0, 49, 7], [3, 3, 20]])
    values, middle, scale = reference_middle_max(table)
    expected = middle[ids][..., None] + values[ids] * scale[ids][..., None]
    np.testing.assert_allclose(layer(ids).numpy(), expected, rtol=1e-6, atol=1e-6)
    assert np.abs(layer(ids).numpy() - table[ids]).max() <= scale.max() / 2 + 1e-6


def test_layer_weights_are_int8_and_not_trainable():
    layer, _ = quantized_layer()
    assert layer.trainable_weights == []
    assert layer.quantized_values.dtype == "int8"
    assert_weight_shapes(layer, {"quantized_values": (50, 8), "middle": (50,), "scale": (50,)})


def test_from_embedding_quantizes_a_keras_embedding():
    embedding = keras.layers.Embedding(20, 6)
    embedding.build((None,))
    layer = QuantizedEmbedding.from_embedding(embedding)
    table = keras.ops.convert_to_numpy(embedding.embeddings)
    np.testing.assert_allclose(layer(np.arange(20)).numpy(),
                               dequantize_table(*quantize_table(table)), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="embedding"):
        QuantizedEmbedding.from_embedding(keras.layers.Dense(3))


@pytest.mark.parametrize("kwargs, match", [({"input_dim": 0, "output_dim": 2}, "input_dim"),
                                           ({"input_dim": 3, "output_dim": 1.0}, "output_dim")])
def test_invalid_layer_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QuantizedEmbedding(**kwargs)


def test_set_table_checks_the_shape():
    with pytest.raises(ValueError, match="shape"):
        QuantizedEmbedding(4, 3).set_table(np.zeros((3, 4), "float32"))


def test_config_round_trip():
    assert_config_round_trip(QuantizedEmbedding(10, 4))


def test_save_reload_keeps_the_quantized_table(tmp_path):
    layer, _ = quantized_layer()
    ids = np.array([[1, 2], [49, 0], [5, 5]], dtype="int32")
    model = functional_model(layer, ids)
    assert_save_reload_equal(model, ids, tmp_path, atol=0)
    assert not {op for op in saved_model_op_types(tmp_path / "saved_model")
                if op.startswith("Lirank")}
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(reloaded.layers[-1].quantized_values.numpy(),
                                  layer.quantized_values.numpy())


def test_layer_works_in_graph_mode():
    layer, table = quantized_layer()
    lookup = tf.function(layer, input_signature=[tf.TensorSpec([None], tf.int64)])
    np.testing.assert_allclose(lookup(tf.constant([4, 9], tf.int64)).numpy(),
                               layer(np.array([4, 9])).numpy())


def test_docstring_examples_run():
    assert_doctests_pass(embedding)
