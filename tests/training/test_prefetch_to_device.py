"""prefetch_to_device (lirank_tf.training.pipeline, LiRank §4.4) on the CPU device: same batches
in the same order, on the named device, and training on them is unchanged."""

import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.training.pipeline import prefetch_to_device

ROWS, BATCH = 10, 4


def batches() -> tf.data.Dataset:
    """Model-input-like batches: float and int64 features, a string id, labels."""
    def example(i):
        features = {"numeric": tf.cast(tf.stack([i, 2 * i, i * i]), tf.float32) / 10.0,
                    "ids": tf.stack([i, i + 100]),
                    "name": tf.strings.as_string(i)}
        return features, tf.cast(i % 2, tf.float32)
    return tf.data.Dataset.range(ROWS).map(example).batch(BATCH)


def as_numpy(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in dataset]


def assert_same_batches(actual, expected):
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        tf.nest.map_structure(np.testing.assert_array_equal, got, want)


@pytest.mark.parametrize("buffer_size", [1, 2, 3])
def test_cpu_device_gives_the_same_batches_in_order_on_that_device(buffer_size):
    prefetched = prefetch_to_device(batches(), device="/cpu:0", buffer_size=buffer_size)
    assert prefetched.element_spec == batches().element_spec
    assert_same_batches(as_numpy(prefetched), as_numpy(batches()))
    for features, labels in prefetched:
        for tensor in (*features.values(), labels):
            assert tensor.device.endswith("device:CPU:0"), tensor.device


def test_without_a_gpu_the_default_is_a_plain_prefetch():
    if tf.config.list_logical_devices("GPU"):
        pytest.skip("a GPU is present: the default device is the GPU")
    prefetched = prefetch_to_device(batches())
    assert int(prefetched.cardinality()) == int(batches().cardinality()) == 3
    assert_same_batches(as_numpy(prefetched), as_numpy(batches()))


def test_keras_fit_on_prefetched_batches_trains_as_without_prefetch():
    def model_batches():
        return batches().map(lambda features, labels: (
            {"numeric": features["numeric"], "ids": features["ids"]}, labels))

    def fit(dataset):
        keras.utils.set_random_seed(3)
        inputs = {"numeric": keras.Input((3,), name="numeric"),
                  "ids": keras.Input((2,), dtype="int64", name="ids")}
        embedded = keras.layers.Flatten()(keras.layers.Embedding(200, 2)(inputs["ids"]))
        hidden = keras.layers.Concatenate()([inputs["numeric"], embedded])
        model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
        model.compile(keras.optimizers.SGD(0.5), "binary_crossentropy")
        steps = []
        counter = keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: steps.append(0),
            on_train_batch_end=lambda batch, logs: steps.__setitem__(-1, steps[-1] + 1))
        initial = model.get_weights()
        model.fit(dataset, epochs=2, verbose=0, callbacks=[counter])
        return initial, model.get_weights(), steps

    initial, expected_weights, expected_steps = fit(model_batches())
    _, weights, steps = fit(prefetch_to_device(model_batches(), device="/cpu:0"))
    assert expected_steps == steps == [3, 3]
    for got, want in zip(weights, expected_weights):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert not np.allclose(weights[-2], initial[-2])  # it did train


def test_device_prefetch_keeps_the_cardinality():
    assert int(prefetch_to_device(batches(), device="/cpu:0").cardinality()) == 3
    endless = prefetch_to_device(batches().repeat(), device="/cpu:0")
    assert int(endless.cardinality()) == tf.data.INFINITE_CARDINALITY
    assert len(list(endless.take(7))) == 7
    unknown = batches().filter(lambda features, labels: True)
    assert int(prefetch_to_device(unknown, device="/cpu:0").cardinality()) == \
        tf.data.UNKNOWN_CARDINALITY
    assert_same_batches(as_numpy(prefetch_to_device(unknown, device="/cpu:0")),
                        as_numpy(batches()))


def test_keras_knows_the_epoch_length_of_device_prefetched_batches():
    """Known cardinality: Keras stops each epoch after the last batch instead of running out
    of data (its "Your input ran out of data" warning)."""
    inputs = keras.Input((3,), name="numeric")
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    model.compile("sgd", "binary_crossentropy")
    data = prefetch_to_device(batches().map(lambda f, y: (f["numeric"], y)), device="/cpu:0")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)   # the warning would fail the fit
        model.fit(data, epochs=2, shuffle=False, verbose=0)


@pytest.mark.parametrize("device", ["/cpu:0", "cpu:0", "/device:CPU:0", "/CPU:0"])
def test_device_names_are_accepted_in_their_usual_spellings(device):
    prefetched = prefetch_to_device(batches(), device=device)
    assert_same_batches(as_numpy(prefetched), as_numpy(batches()))


def test_an_absent_device_fails_naming_it_and_the_devices_present():
    if tf.config.list_logical_devices("GPU"):
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match=r"device: '/gpu:0' is not a device of this process; "
                                         r"devices: \['/device:CPU:0'"):
        prefetch_to_device(batches(), device="/gpu:0")
    with pytest.raises(ValueError, match="device: '/cpu:7' is not a device"):
        prefetch_to_device(batches(), device="/cpu:7")
    with pytest.raises(ValueError, match="device: cannot parse 'gpu zero'"):
        prefetch_to_device(batches(), device="gpu zero")
    with pytest.raises(ValueError, match="device must be a device name such as '/gpu:0', got 0"):
        prefetch_to_device(batches(), device=0)


@pytest.mark.parametrize("buffer_size", [0, -3, 1.5, True, "2"])
def test_bad_buffer_sizes_fail_naming_the_value(buffer_size):
    with pytest.raises(ValueError, match=rf"buffer_size must be an int >= 1 or "
                                         rf"tf.data.AUTOTUNE, got {re.escape(repr(buffer_size))}"):
        prefetch_to_device(batches(), device="/cpu:0", buffer_size=buffer_size)


def test_autotune_buffer_size():
    prefetched = prefetch_to_device(batches(), device="/cpu:0", buffer_size=tf.data.AUTOTUNE)
    assert_same_batches(as_numpy(prefetched), as_numpy(batches()))
