"""The int8 export (LiRank §3.13): loads with TensorFlow only, serves exactly the middle-max
dequantised tables, stays within a stated tolerance of fp32, and is >= 70 % smaller in
embedding bytes."""

import dataclasses
import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import build_serving_parts, keras_scores, make_records

from lirank_tf.config import ExportConfig
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.serving import export_serving_model
from lirank_tf.layers.quantized import embedding_table_bytes, quantize_embedding_tables
from lirank_tf.serving.export import saved_model_variables_bytes
from lirank_tf.data.records import records_to_request
from lirank_tf.tasks import MultiTask

# |p_int8 - p_fp32| for any task, with tables of spread N(0, 0.3) (trained-like; a fresh
# model's N(0, 0.02) tables would give differences 15x smaller)
PROBABILITY_TOLERANCE = 0.02


def middle_max_float16(table):
    """Dequantised middle-max rows with float16 middle and scale (see tests/layers/quantized/test_int8_qr_hash.py)."""
    table = table.astype(np.float64)
    low, high = table.min(1), table.max(1)
    middle = ((high * 128 + low * 127) / 255).astype(np.float16).astype(np.float64)
    needed = np.maximum((high - middle) / 127, (middle - low) / 128)
    scale = needed.astype(np.float16)
    short = scale.astype(np.float64) < needed
    scale[short] = np.nextafter(scale[short], np.float16(np.inf))
    scale = scale.astype(np.float64)
    ints = np.rint((table - middle[:, None]) / np.where(scale == 0, 1, scale)[:, None])
    return (middle.astype(np.float32)[:, None]
            + ints.astype(np.float32) * scale.astype(np.float32)[:, None])


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("quantized_export")
    config, transform, model = build_serving_parts(amortized=False)
    model.compile(optimizer=keras.optimizers.Adam(),
                  **MultiTask.from_config(config.tasks).compile_kwargs())
    model.optimizer.build(model.trainable_variables)  # optimizer state, as after training
    fp32_dir = export_serving_model(config, transform, model, root / "fp32")
    int8_config = dataclasses.replace(config, export=ExportConfig(quantize="int8"))
    int8_dir = export_serving_model(int8_config, transform, model, root / "int8")
    return config, transform, model, fp32_dir, int8_dir, root


def dequantized_twin(model):
    """The float model with every QR table replaced by its dequantised reference."""
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    for weight in twin.weights:
        if "_table_" in weight.path:
            weight.assign(middle_max_float16(weight.numpy()))
    return twin


def test_int8_export_scores_in_a_fresh_tensorflow_only_process(exports):
    config, transform, model, fp32_dir, int8_dir, root = exports
    records = make_records(config, 200, seed=3)
    records[0]["history_item_ids"], records[0]["history_action_types"] = [], []
    request = records_to_request(records, raw_fields(config))
    np.savez(root / "request.npz", **request)
    script = textwrap.dedent(f"""
        import json, sys, numpy as np, tensorflow as tf
        request = dict(np.load({str(root / 'request.npz')!r}, allow_pickle=True))
        variables = {{}}
        for name, path in (("fp32", {str(fp32_dir)!r}), ("int8", {str(int8_dir)!r})):
            loaded = tf.saved_model.load(path)
            out = loaded.signatures["serving_default"](
                **{{k: tf.constant(v) for k, v in request.items()}})
            np.savez({str(root)!r} + f"/{{name}}_scores.npz",
                     **{{k: v.numpy() for k, v in out.items()}})
            variables[name] = sorted({{v.dtype.name for v in loaded.model_variables
                                      if "_table_" in v.name}})
        print(json.dumps({{"variables": variables,
                          "modules": sorted(m for m in sys.modules if m.startswith("lirank"))}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["modules"] == []
    assert report["variables"] == {"fp32": ["float32"], "int8": ["float16", "int8"]}

    fp32 = np.load(root / "fp32_scores.npz")
    int8 = np.load(root / "int8_scores.npz")
    expected_fp32 = keras_scores(config, transform, model, request)
    expected_int8 = keras_scores(config, transform, dequantized_twin(model), request)
    for name in expected_fp32:
        np.testing.assert_allclose(fp32[name], expected_fp32[name], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(int8[name], expected_int8[name], rtol=1e-5, atol=1e-5,
                                   err_msg=name)
    for task in config.tasks:
        difference = np.abs(int8[task.name] - fp32[task.name])
        assert difference.max() <= PROBABILITY_TOLERANCE, (task.name, difference.max())
        assert difference.max() > 0, task.name  # the tables really are quantized


def test_embedding_bytes_are_at_least_70_percent_smaller(exports):
    config, _, model, fp32_dir, int8_dir, _ = exports
    table_rows = sum(2 * (t.num_quotient_buckets + t.num_remainder_buckets) * t.dim
                     for t in config.features.tables)
    row_count = sum(2 * (t.num_quotient_buckets + t.num_remainder_buckets)
                    for t in config.features.tables)
    float_bytes = embedding_table_bytes(model)
    int8_bytes = embedding_table_bytes(quantize_embedding_tables(model))
    assert float_bytes == 4 * table_rows
    assert int8_bytes == table_rows + 2 * 2 * row_count  # int8 values + float16 middle, scale
    assert 1 - int8_bytes / float_bytes >= 0.70
    # the variables on disk shrink by the table savings (other weights are unchanged)
    saved = saved_model_variables_bytes(fp32_dir) - saved_model_variables_bytes(int8_dir)
    assert saved >= 0.95 * (float_bytes - int8_bytes), (saved, float_bytes - int8_bytes)


def test_exports_hold_the_model_weights_not_the_optimizer_state(exports):
    _, _, model, fp32_dir, int8_dir, _ = exports
    assert len(model.optimizer.variables) > len(model.trainable_variables)
    model_bytes = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in model.variables)
    assert model_bytes <= saved_model_variables_bytes(fp32_dir) < model_bytes + 200_000
    for export_dir in (fp32_dir, int8_dir):
        keys = tf.train.load_checkpoint(str(export_dir / "variables" / "variables")) \
            .get_variable_to_shape_map()
        assert not [key for key in keys if "optimizer" in key]


def test_float32_row_parameters_give_a_smaller_saving_for_30_wide_rows(exports):
    _, _, model, _, _, _ = exports
    saving = 1 - embedding_table_bytes(quantize_embedding_tables(model, "float32")) \
        / embedding_table_bytes(model)
    assert 0.66 < saving < 0.70  # 1 - (30 + 8) / 120 = 68 %


def test_quantized_copy_shares_the_other_layers(exports):
    _, _, model, _, _, _ = exports
    quantized = quantize_embedding_tables(model)
    float_layers = {layer.name: layer for layer in model.layers}
    for layer in quantized.layers:
        if layer.weights and "embedding" not in layer.name:
            assert layer is float_layers[layer.name], layer.name


def test_invalid_quantize_mode_and_a_model_without_tables_raise(exports, tmp_path):
    config, transform, model, _, _, _ = exports
    with pytest.raises(ValueError, match="quantize must be one of"):
        export_serving_model(config, transform, model, tmp_path / "x", quantize="int4")
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match="no float QRHashEmbedding"):
        quantize_embedding_tables(keras.Model(inputs, keras.layers.Dense(1)(inputs)))
