"""Helpers of the model tests: tiny simulated data, transformed in memory, short training,
and the serving-export check.

Import with ``from model_test_data import ...`` (tests/conftest.py puts test folders on
sys.path). The data are transformed once into tensors, so training does not rebuild the
Avro input pipeline (that is tested in tests/pipeline and tests/data).
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import fastavro
import keras
import numpy as np
import tensorflow as tf

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.serving import export_serving_model
from lirank_tf.data.records import records_to_request
from lirank_tf.tasks import MultiTask
from lirank_tf.training.pipeline import raw_dataset
from lirank_tf.training.trainer import fit_transformation
from lirank_tf.transform import TransformationModel


def with_files(config: ExperimentConfig, manifest: dict) -> ExperimentConfig:
    return config.replace(data=config.data.replace(
        train=manifest["train"], valid=manifest["valid"], test=manifest["test"]))


def transformed(config: ExperimentConfig, files: list[str],
                transform: TransformationModel) -> tuple[dict, dict]:
    """All records of ``files`` as model inputs and ``{task: labels [n, 1]}``, in file order."""
    raw, labels = next(iter(raw_dataset(config, files, shuffle=False, batch_size=1_000_000)))
    inputs, labels = tf.function(transform.map_fn())(raw, labels)   # as the training pipeline
    return inputs, {task: tf.reshape(tf.cast(value, tf.float32), [-1, 1])
                    for task, value in labels.items()}


def prepared(config: ExperimentConfig,
             manifest: dict) -> tuple[ExperimentConfig, TransformationModel, dict, dict]:
    """``(config with the files, fitted transform, train inputs, train labels)``."""
    config = with_files(config, manifest)
    transform = fit_transformation(config, manifest["train"])
    inputs, labels = transformed(config, manifest["train"], transform)
    return config, transform, inputs, labels


def compile_for(model: keras.Model, config: ExperimentConfig, learning_rate: float = 3e-3,
                run_eagerly: bool = False) -> keras.Model:
    """Compiles with the tasks' losses and metrics; ``run_eagerly`` for single steps (no
    tracing, which costs far more than one step of a tiny batch)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), run_eagerly=run_eagerly,
                  **MultiTask.from_config(config.tasks).compile_kwargs())
    return model


def train(model: keras.Model, config: ExperimentConfig, inputs: dict, labels: dict,
          epochs: int = 3, batch_size: int = 128) -> dict:
    """Compiles and fits ``model`` on the in-memory data; returns the ``fit`` history."""
    compile_for(model, config)
    return model.fit(inputs, labels, epochs=epochs, batch_size=batch_size, shuffle=True,
                     verbose=0).history


def scores(model: keras.Model, inputs: dict) -> dict[str, np.ndarray]:
    """The model's outputs in inference mode, eagerly (no ``predict`` tracing)."""
    return {name: np.asarray(value) for name, value in model(inputs, training=False).items()}


def first_records(path: str, count: int) -> list[dict]:
    with open(path, "rb") as handle:
        return list(islice(fastavro.reader(handle), count))


def assert_export_matches_keras(config: ExperimentConfig, transform: TransformationModel,
                                model: keras.Model, records: list[dict], directory: Path) -> dict:
    """Exports with ``export_serving_model``, reloads, and compares the ``serving_default``
    outputs on ``records`` with the Keras model on the transformed request; returns them."""
    request = records_to_request(records, raw_fields(config))
    tensors = {name: tf.constant(value) for name, value in request.items()}
    outputs = model(transform(tensors), training=False)
    expected = {t.name: np.asarray(outputs[t.name]).reshape(-1) for t in config.tasks}
    expected["score"] = sum(t.score_weight * expected[t.name] for t in config.tasks)
    export_dir = export_serving_model(config, transform, model, Path(directory) / "export")
    served = tf.saved_model.load(str(export_dir)).signatures["serving_default"](**tensors)
    assert sorted(served) == sorted(expected), (sorted(served), sorted(expected))
    for name, values in expected.items():
        np.testing.assert_allclose(served[name].numpy(), values, rtol=1e-5, atol=1e-6, err_msg=name)
    return expected


def layers_of(model: keras.Model, layer_type: type) -> list[keras.layers.Layer]:
    """The top-level layers of ``model`` of exactly ``layer_type``."""
    return [layer for layer in model.layers if type(layer) is layer_type]
