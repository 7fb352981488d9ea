"""Tests of lirank_tf.distributed.sharded_checkpoint in one process: ranks of a job are
simulated by saving each rank's model in turn (rank 0, which marks the checkpoint complete,
last); the horovodrun tests re-shard real 2 -> 3 -> 1 worker checkpoints."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from dist_fake_contexts import RecordingContext
from hvd_toy_model import batches, build_plain_model, make_examples, make_optimizer
from lirank_tf.distributed.context import SingleProcessContext
from lirank_tf.distributed.model_parallel import shard_model
from lirank_tf.distributed.sharded_checkpoint import (completed_checkpoints, latest_checkpoint,
                                                      restore_checkpoint, save_checkpoint)
from lirank_tf.distributed.variables import sharded_layers


def weights_by_path(model: keras.Model) -> dict:
    return {v.path: v.numpy() for v in model.weights}


def sharded_models(plain: keras.Model, world_size: int) -> list:
    return [shard_model(plain, RecordingContext(rank, world_size), broadcast_tables=False)
            for rank in range(world_size)]


def save_all_ranks(models: list, root, step: int):
    for rank in reversed(range(len(models))):  # rank 0 last: it writes the manifest
        path = save_checkpoint(models[rank], root, step=step,
                               context=RecordingContext(rank, len(models)))
    return path


def test_two_rank_checkpoint_restores_into_three_ranks_and_into_the_plain_model(tmp_path):
    source = build_plain_model(1)
    path = save_all_ranks(sharded_models(source, 2), tmp_path, step=7)
    assert path.name == "step-00000007" and latest_checkpoint(tmp_path) == path
    expected = weights_by_path(source)
    for rank, model in enumerate(sharded_models(build_plain_model(2), 3)):
        assert restore_checkpoint(model, tmp_path, RecordingContext(rank, 3)) == 7
        for layer in sharded_layers(model):
            for s in layer.table_segments():
                rows = layer.shard_rows.numpy()[s.local_offset:][:s.row_end - s.row_start]
                np.testing.assert_array_equal(rows, expected[s.key][s.row_start:s.row_end])
        np.testing.assert_array_equal(model.get_layer("hidden").kernel.numpy(),
                                      expected["hidden/kernel"])
    plain = build_plain_model(3)
    restore_checkpoint(plain, path)
    for key, value in weights_by_path(plain).items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)


def test_optimizer_state_of_tables_and_dense_layers_round_trips(tmp_path):
    features, labels = make_examples(24, seed=3)
    trained = shard_model(build_plain_model(1), SingleProcessContext())
    trained.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    trained.fit(batches(features, labels, 8), verbose=0, shuffle=False)
    save_checkpoint(trained, tmp_path)
    restored = build_plain_model(5)  # plain twin: its table slots get the sharded rows' slots
    restored.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    assert restore_checkpoint(restored, tmp_path) == 3
    assert int(restored.optimizer.iterations.numpy()) == 3
    momentum = {v.name: v.numpy() for v in restored.optimizer.variables}
    sharded_momentum = {v.name: v.numpy() for v in trained.optimizer.variables}
    np.testing.assert_array_equal(momentum["hidden_kernel_momentum"],
                                  sharded_momentum["hidden_kernel_momentum"])
    (user,) = [layer for layer in sharded_layers(trained) if layer.name == "user_embedding"]
    (segment,) = user.table_segments()
    assert np.abs(momentum["user_embedding_embeddings_momentum"]).sum() > 0
    np.testing.assert_array_equal(momentum["user_embedding_embeddings_momentum"],
                                  sharded_momentum["user_embedding_shard_rows_momentum"])
    # Both continue identically (the plain model is the single-process twin).
    more, more_labels = make_examples(8, seed=4)
    for model in (trained, restored):
        model.fit(batches(more, more_labels, 8), verbose=0, shuffle=False)
    np.testing.assert_allclose(restored.get_layer("user_embedding").embeddings.numpy(),
                               user.shard_rows.numpy(), rtol=1e-6, atol=1e-7)


def test_incomplete_or_mismatched_checkpoints_raise(tmp_path):
    models = sharded_models(build_plain_model(1), 2)
    with pytest.raises(ValueError, match="no complete checkpoint"):
        restore_checkpoint(build_plain_model(1), tmp_path)
    path = save_checkpoint(models[0], tmp_path / "only_rank0", step=1,
                           context=RecordingContext(0, 2))
    with pytest.raises(ValueError, match=r"incomplete: \['tables-rank00001.npz'\] are missing"):
        restore_checkpoint(build_plain_model(1), path)
    path = save_all_ranks(models, tmp_path / "full", step=1)
    with np.load(path / "tables-rank00001.npz") as data:
        arrays = dict(data)
    index = json.loads(str(arrays["index"]))
    arrays["index"] = np.array(json.dumps(index[1:]))  # drop one saved piece
    np.savez(path / "tables-rank00001.npz", **arrays)
    with pytest.raises(ValueError, match=f"of table '{index[0]['key']}'.*incomplete"):
        restore_checkpoint(build_plain_model(1), path)
    other = save_all_ranks(models, tmp_path / "other", step=1)
    inputs = keras.Input((), dtype="int64", name="user")
    wrong = keras.Model(inputs, keras.layers.Embedding(5, 4, name="user_embedding")(inputs))
    with pytest.raises(ValueError, match="has 5 rows in the model but"):
        restore_checkpoint(wrong, other)
    dense = keras.Model(inputs, keras.layers.Dense(2, name="extra")(
        keras.layers.Embedding(37, 4, name="user_embedding")(inputs)))
    with pytest.raises(ValueError, match=r"missing \['weight/extra/bias', 'weight/extra/kernel'\]"):
        restore_checkpoint(dense, other)


def test_other_optimizer_slots_are_reported(tmp_path):
    features, labels = make_examples(8, seed=3)
    model = build_plain_model(1)
    model.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    model.fit(batches(features, labels, 8), verbose=0, shuffle=False)
    save_checkpoint(model, tmp_path)
    adam = build_plain_model(1)
    adam.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    with pytest.raises(ValueError, match="no optimizer slot 'slot/velocity'"):
        restore_checkpoint(adam, tmp_path)


def test_keep_prunes_old_checkpoints_and_resaving_a_step_is_safe(tmp_path):
    model = build_plain_model(1)
    for step in (1, 2, 3):
        save_checkpoint(model, tmp_path, step=step, keep=2)
    assert [p.name for p in completed_checkpoints(tmp_path)] == ["step-00000002", "step-00000003"]
    model.get_layer("hidden").kernel.assign(tf.zeros_like(model.get_layer("hidden").kernel))
    save_checkpoint(model, tmp_path, step=3)
    restored = build_plain_model(2)
    restore_checkpoint(restored, tmp_path)
    assert not restored.get_layer("hidden").kernel.numpy().any()
