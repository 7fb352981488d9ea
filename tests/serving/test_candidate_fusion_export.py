"""A Feed model trained with ``model.options.transact.candidate_fusion: append`` exports the
amortized path: ``serve_candidates`` (the member's history encoded once for N candidates)
gives the per-candidate scores of the trained Keras model.

Tolerance: rtol 1e-5, atol 1e-6 (float32; the two paths differ only in the order of the
reductions of the batched matmuls)."""

import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import (keras_scores, make_records, small_config, spread_tables,
                                 unit_statistics)

from lirank_tf.data.raw_features import raw_fields
from lirank_tf.layers import AmortizedHistoryEncoder
from lirank_tf.models import build_model
from lirank_tf.serving import export_serving_model
from lirank_tf.data.records import records_to_candidates_request, records_to_request
from lirank_tf.tasks.ranking import MultiTask
from lirank_tf.transform import TransformationModel


def labelled_batches(config, transform, count: int, batch: int) -> tf.data.Dataset:
    """Transformed records with labels that depend on the history length (so the history
    encoder gets a signal) and alternate across tasks."""
    records = make_records(config, count, seed=11)
    inputs = transform({k: tf.constant(v) for k, v in
                        records_to_request(records, raw_fields(config)).items()})
    lengths = np.array([len(r[config.features.history.item_field]) for r in records])
    labels = {task.name: ((lengths + index) % 3 == 0).astype("float32")[:, None]
              for index, task in enumerate(config.tasks)}
    return tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch)


@pytest.fixture(scope="module")
def trained_export(tmp_path_factory):
    config = small_config("append")
    transform = TransformationModel(config.features, unit_statistics(config))
    model = build_model(config)
    spread_tables(model)
    (encoder,) = [l for l in model.layers if isinstance(l, AmortizedHistoryEncoder)]
    before = [w.numpy().copy() for w in encoder.trainable_weights]
    model.compile(optimizer="adam", **MultiTask.from_config(config.tasks).compile_kwargs())
    history = model.fit(labelled_batches(config, transform, 96, 16), epochs=1, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    changed = [not np.allclose(b, w.numpy()) for b, w in zip(before, encoder.trainable_weights)]
    assert sum(changed) > len(changed) // 2, "training did not move the history encoder"
    export_dir = export_serving_model(config, transform, model,
                                      tmp_path_factory.mktemp("fusion") / "export")
    return config, transform, model, tf.saved_model.load(str(export_dir))


@pytest.mark.parametrize("count, seed", [(1, 20), (10, 21), (57, 22)])
def test_amortized_scores_equal_the_per_candidate_scores(trained_export, count, seed):
    config, transform, model, loaded = trained_export
    assert "serve_candidates" in loaded.signatures
    history = config.features.history
    records = make_records(config, count + 1, seed=seed)
    member, candidates = records[0], records[1:]
    for candidate in candidates:   # the per-candidate path repeats the member's features
        for name in ("viewer_id", history.item_field, history.action_field):
            candidate[name] = member[name]
    per_candidate = records_to_request(candidates, raw_fields(config))
    expected = keras_scores(config, transform, model, per_candidate)
    request = records_to_candidates_request(member, candidates, raw_fields(config), history)
    once = loaded.signatures["serve_candidates"](
        **{k: tf.constant(v) for k, v in request.items()})
    for name in expected:
        assert once[name].shape == (count,)
        np.testing.assert_allclose(once[name].numpy(), expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    if count > 1:
        assert np.std(expected["score"]) > 0   # the candidates are told apart
