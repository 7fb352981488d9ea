"""Tests of lirank_tf.distributed.data_parallel in one process (the 2-worker equality with
horovodrun is in test_horovod_data_parallel.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dist_fake_contexts import RecordingContext
from hvd_toy_model import batches, build_plain_model, make_examples, make_optimizer
from layer_checks import assert_doctests_pass
from lirank_tf import distributed
from lirank_tf.distributed import data_parallel
from lirank_tf.distributed.context import SingleProcessContext
from lirank_tf.distributed.data_parallel import DistributedModel, WorkerFailureError, unwrap
from lirank_tf.distributed.model_parallel import shard_model
from lirank_tf.distributed.variables import sharded_layers


def test_single_process_training_equals_plain_keras():
    features, labels = make_examples(36, seed=1)
    plain = build_plain_model(2)
    plain.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    history = plain.fit(batches(features, labels, 12), verbose=0, shuffle=False)
    wrapped = DistributedModel(build_plain_model(2), context=SingleProcessContext())
    wrapped.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    wrapped_history = wrapped.fit(batches(features, labels, 12), verbose=0, shuffle=False)
    assert wrapped_history.history["loss"] == pytest.approx(history.history["loss"], rel=1e-6)
    for expected, got in zip(plain.weights, unwrap(wrapped).weights):
        assert expected.path == got.path
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


def test_replicated_gradients_are_allreduced_and_shard_gradients_divided_by_size():
    context = RecordingContext(rank=0, size=2)
    model = DistributedModel(shard_model(build_plain_model(1), context, broadcast_tables=False),
                             compression="fp16", sparse_as_dense=True, context=context)
    variables = model.trainable_variables
    shards = {id(layer.shard_rows) for layer in sharded_layers(unwrap(model))}
    assert len(shards) == 3
    gradients = []
    for v in variables:
        if id(v) in shards:
            gradients.append(tf.IndexedSlices(tf.ones([2, v.shape[1]]), tf.constant([0, 1]),
                                              tf.constant(v.shape)))
        elif v.path == "click/bias":
            gradients.append(None)  # e.g. a variable the loss does not reach
        else:
            gradients.append(tf.fill(v.shape, 3.0))
    synchronized = model.synchronize_gradients(gradients, variables)
    ((name, (sent, compression, sparse_as_dense)),) = context.calls
    assert (name, compression, sparse_as_dense) == ("allreduce_gradients", "fp16", True)
    replicated = [g for g, v in zip(gradients, variables) if id(v) not in shards and g is not None]
    assert len(sent) == len(replicated) and all(a is b for a, b in zip(sent, replicated))
    model.compile(optimizer=keras.optimizers.SGD(global_clipnorm=1.0), loss="mse")
    with pytest.raises(ValueError, match="global_clipnorm cannot be used with sharded tables"):
        model.synchronize_gradients(gradients, variables)
    for gradient, variable in zip(synchronized, variables):
        if id(variable) in shards:
            np.testing.assert_array_equal(gradient.values.numpy(),
                                          np.full([2, variable.shape[1]], 0.5))
        elif variable.path == "click/bias":
            assert gradient is None
        else:
            np.testing.assert_array_equal(gradient.numpy(), np.full(variable.shape, 3.0))


def test_config_keras_file_and_saved_model_round_trips(tmp_path):
    model = DistributedModel(build_plain_model(3), context=SingleProcessContext())
    config = model.get_config()
    clone = DistributedModel.from_config(config)
    assert clone.get_config()["compression"] == "none" and clone.name == model.name
    features, labels = make_examples(8, seed=2)
    inputs = {k: tf.constant(v) for k, v in features.items()}
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(reloaded, DistributedModel)
    np.testing.assert_allclose(reloaded(inputs).numpy(), model(inputs).numpy(), rtol=1e-6)
    unwrap(model).export(str(tmp_path / "saved"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(served.serve(inputs).numpy(), model(inputs).numpy(), rtol=1e-6)


def test_a_failed_collective_becomes_a_clear_worker_failure(monkeypatch):
    def failing_fit(self, *args, **kwargs):
        raise tf.errors.UnknownError(None, None, "Graph execution error:\n\nHorovod has been shut "
                                     "down. This was caused by an exception on one of the ranks")

    monkeypatch.setattr(keras.Model, "fit", failing_fit)
    model = DistributedModel(build_plain_model(1), context=RecordingContext(rank=1, size=2))
    with pytest.raises(WorkerFailureError, match=r"rank 1: a collective failed .* relaunch it "
                                                 r"with horovodrun.*Horovod has been shut down"):
        model.fit()
    single = DistributedModel(build_plain_model(1), context=SingleProcessContext())
    with pytest.raises(tf.errors.UnknownError):
        single.fit()


def test_invalid_arguments_raise_and_doctests_pass():
    with pytest.raises(ValueError, match="compression must be one of"):
        DistributedModel(build_plain_model(1), compression="gzip")
    with pytest.raises(ValueError, match="sparse_as_dense must be a bool, got 'yes'"):
        DistributedModel(build_plain_model(1), sparse_as_dense="yes")
    with pytest.raises(ValueError, match="model must be a keras.Model"):
        DistributedModel(keras.layers.Dense(1))
    assert_doctests_pass(data_parallel)


def test_wrap_model_shards_only_with_several_workers():
    plain = build_plain_model(1)
    single = distributed.wrap_model(plain, SingleProcessContext(), shard_embeddings=True)
    assert unwrap(single) is plain
    two = distributed.wrap_model(plain, RecordingContext(0, 2), shard_embeddings=True,
                                 row_wise=["item_embedding/embeddings"], compression="fp16")
    assert unwrap(two) is not plain and two.compression == "fp16"
    assert len(unwrap(two).sharding_plan.placements["item_embedding/embeddings"]) == 2
