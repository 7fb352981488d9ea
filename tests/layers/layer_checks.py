"""Shared checks for Keras layer tests: config, gradients, `.keras` and SavedModel round trips.

Import from a test module with ``from layer_checks import ...`` (tests/conftest.py puts every
tests/ folder on sys.path). Every check raises AssertionError with a readable message.
"""

from __future__ import annotations

import doctest
import types
from pathlib import Path
from typing import Any, Callable, Sequence

import keras
import numpy as np
import tensorflow as tf


def as_list(inputs: Any) -> list:
    """Returns ``inputs`` as a list of arrays (a single array becomes a one-element list)."""
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def functional_model(layer_fn: Callable[..., Any], inputs: Any) -> keras.Model:
    """Wraps ``layer_fn`` (a layer or any callable of Keras tensors) in a functional model.

    ``inputs`` are example arrays: one `keras.Input` is made per array, with its shape minus
    the batch dimension and its dtype, and ``layer_fn`` is called with them positionally.
    """
    arrays = as_list(inputs)
    symbolic = [keras.Input(shape=np.shape(a)[1:], dtype=str(np.asarray(a).dtype)) for a in arrays]
    outputs = layer_fn(*symbolic)
    return keras.Model(symbolic if isinstance(inputs, (list, tuple)) else symbolic[0], outputs)


def assert_config_round_trip(layer: keras.layers.Layer) -> keras.layers.Layer:
    """``from_config(get_config())`` must rebuild a layer with an identical config."""
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config, (clone.get_config(), config)
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("lirank_tf>"), serialized["registered_name"]
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is type(layer)
    assert revived.get_config() == config
    return clone


def assert_gradients_finite_nonzero(
    model: keras.Model,
    inputs: Any,
    skip: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """Gradients of ``sum(output^2)`` w.r.t. every trainable weight: finite, and non-zero.

    Weights whose path contains one of ``skip`` are only checked for finiteness (for weights
    that a given input legitimately cannot reach). Returns the gradients by weight path.
    """
    arrays = [tf.convert_to_tensor(a) for a in as_list(inputs)]
    with tf.GradientTape() as tape:
        outputs = model(arrays if isinstance(inputs, (list, tuple)) else arrays[0], training=True)
        loss = tf.add_n([tf.reduce_sum(tf.square(tf.cast(o, tf.float32)))
                         for o in tf.nest.flatten(outputs)])
    weights = model.trainable_weights
    assert weights, "model has no trainable weights"
    grads = tape.gradient(loss, weights)
    result = {}
    for weight, grad in zip(weights, grads):
        assert grad is not None, f"no gradient reaches {weight.path}"
        value = tf.convert_to_tensor(grad).numpy()
        assert np.all(np.isfinite(value)), f"non-finite gradient for {weight.path}"
        if not any(part in weight.path for part in skip):
            assert np.any(value != 0), f"all-zero gradient for {weight.path}"
        result[weight.path] = value
    return result


def assert_keras_file_round_trip(
    model: keras.Model, inputs: Any, directory: Path, atol: float = 1e-6
) -> keras.Model:
    """Saving to ``.keras`` and loading (no custom_objects) must give equal predictions."""
    path = Path(directory) / "model.keras"
    expected = model.predict(inputs, verbose=0)
    model.save(path)
    loaded = keras.saving.load_model(path)
    actual = loaded.predict(inputs, verbose=0)
    for exp, act in zip(tf.nest.flatten(expected), tf.nest.flatten(actual)):
        np.testing.assert_allclose(act, exp, rtol=1e-6, atol=atol)
    return loaded


def assert_saved_model_round_trip(
    model: keras.Model, inputs: Any, directory: Path, atol: float = 1e-6
) -> None:
    """``model.export`` + ``tf.saved_model.load(...).serve`` must give the model's outputs."""
    path = str(Path(directory) / "saved_model")
    expected = model.predict(inputs, verbose=0)
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)
    served = reloaded.serve(inputs)
    for exp, act in zip(tf.nest.flatten(expected), tf.nest.flatten(served)):
        np.testing.assert_allclose(np.asarray(act), exp, rtol=1e-6, atol=atol)


def assert_save_reload_equal(model: keras.Model, inputs: Any, directory: Path,
                             atol: float = 1e-6) -> None:
    """Both round trips: `.keras` save/load and SavedModel export/serve."""
    assert_keras_file_round_trip(model, inputs, directory, atol=atol)
    assert_saved_model_round_trip(model, inputs, directory, atol=atol)


def assert_doctests_pass(module: types.ModuleType) -> None:
    """Runs the module's docstring examples; fails if any fails or if there are none."""
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{module.__name__} has no doctest examples"
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module.__name__}"


def assert_weight_shapes(layer: keras.layers.Layer, expected: dict[str, tuple]) -> None:
    """The layer's weights, by path below the layer's own, must have exactly these shapes.

    E.g. ``{"down_kernel": (8, 2), ...}`` or, for nested layers, ``{"cross_0/bias": (8,)}``.
    """
    prefix = layer.path + "/"
    actual = {w.path[len(prefix):] if w.path.startswith(prefix) else w.path: tuple(w.shape)
              for w in layer.weights}
    assert actual == expected, f"weights {actual} != expected {expected}"
