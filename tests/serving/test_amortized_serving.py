"""Amortized history scoring in the export: ``serve_candidates`` (history once, N candidates)
gives the scores of the per-candidate path (history repeated on every row)."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import build_serving_parts, keras_scores, make_records, small_config

from lirank_tf.data.raw_features import raw_fields
from lirank_tf.layers.amortized_history import AmortizedHistoryEncoder
from lirank_tf.layers.transact import TransActEncoder
from lirank_tf.models import build_model
from lirank_tf.serving.amortized import has_amortized_history, with_amortized_history
from lirank_tf.serving.export import ServingModule
from lirank_tf.data.records import records_to_candidates_request, records_to_request


@pytest.fixture(scope="module")
def serving(amortized_export):
    config, transform, model, export_dir = amortized_export
    return config, transform, model, export_dir, tf.saved_model.load(str(export_dir))


def member_and_candidates(config, count, seed):
    """One member (history and viewer) and ``count`` candidate records of that member."""
    records = make_records(config, count + 1, seed=seed)
    member, candidates = records[0], records[1:]
    history = config.features.history
    for candidate in candidates:  # every candidate row carries the member's own features
        for name in ("viewer_id", history.item_field, history.action_field):
            candidate[name] = member[name]
    return member, candidates


def tensors(request):
    return {k: tf.constant(v) for k, v in request.items()}


@pytest.mark.parametrize("count, seed", [(1, 0), (7, 1), (60, 2)])
def test_candidates_signature_equals_the_per_candidate_path(serving, count, seed):
    config, transform, model, _, loaded = serving
    member, candidates = member_and_candidates(config, count, seed)
    per_candidate = records_to_request(candidates, raw_fields(config))
    amortized = records_to_candidates_request(member, candidates, raw_fields(config),
                                              config.features.history)
    assert amortized["history_item_ids"].shape[0] == 1
    assert per_candidate["history_item_ids"].shape[0] == count
    once = loaded.signatures["serve_candidates"](**tensors(amortized))
    repeated = loaded.signatures["serving_default"](**tensors(per_candidate))
    expected = keras_scores(config, transform, model, per_candidate)
    for name in expected:
        np.testing.assert_allclose(once[name].numpy(), repeated[name].numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
        np.testing.assert_allclose(once[name].numpy(), expected[name], rtol=1e-5, atol=1e-6)
    assert np.std(once["score"].numpy()) > 0 or count == 1  # candidates are told apart


def row_by_row_scores(config, transform, model, records):
    """The reference without any sharing between rows: each record scored on its own."""
    scores = [keras_scores(config, transform, model, records_to_request([r], raw_fields(config)))
              for r in records]
    return {name: np.concatenate([s[name] for s in scores]) for name in scores[0]}


@pytest.mark.parametrize("members", [1, 3])
def test_serving_default_rows_of_one_or_several_members_equal_the_keras_model(serving, members):
    """serving_default encodes each distinct history of a request once: a request of one
    member's 20 candidates, and one whose rows interleave 3 members (and a row with an empty
    history), score as the Keras model scores every row on its own."""
    config, transform, model, _, loaded = serving
    groups = [member_and_candidates(config, 20 // members + 1, seed=20 + m)[1]
              for m in range(members)]
    records = [group[i] for i in range(len(groups[0])) for group in groups][:20]
    if members > 1:
        history = config.features.history
        records[-1] = dict(records[-1], **{history.item_field: [], history.action_field: []})
    request = records_to_request(records, raw_fields(config))
    served = loaded.signatures["serving_default"](**tensors(request))
    expected = row_by_row_scores(config, transform, model, records)
    for name in expected:
        np.testing.assert_allclose(served[name].numpy(), expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_member_features_may_be_sent_once(serving):
    config, _, _, _, loaded = serving
    member, candidates = member_and_candidates(config, 9, seed=4)
    request = tensors(records_to_candidates_request(member, candidates, raw_fields(config),
                                                    config.features.history))
    single_viewer = {**request, "viewer_id": request["viewer_id"][:1]}
    np.testing.assert_array_equal(
        loaded.signatures["serve_candidates"](**single_viewer)["score"].numpy(),
        loaded.signatures["serve_candidates"](**request)["score"].numpy())


def test_zero_candidates_give_empty_outputs(serving):
    config, _, _, _, loaded = serving
    member, candidates = member_and_candidates(config, 3, seed=5)
    request = tensors(records_to_candidates_request(member, candidates, raw_fields(config),
                                                    config.features.history))
    empty = {k: v if k.startswith("history_") else v[:0] for k, v in request.items()}
    assert loaded.signatures["serve_candidates"](**empty)["score"].shape == (0,)


def test_candidates_signature_in_a_fresh_tensorflow_only_process(serving, tmp_path):
    config, transform, model, export_dir, _ = serving
    member, candidates = member_and_candidates(config, 25, seed=6)
    request = records_to_candidates_request(member, candidates, raw_fields(config),
                                            config.features.history)
    np.savez(tmp_path / "request.npz", **request)
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        request = dict(np.load({str(tmp_path / 'request.npz')!r}, allow_pickle=True))
        serve = tf.saved_model.load({str(export_dir)!r}).signatures["serve_candidates"]
        out = serve(**{{k: tf.constant(v) for k, v in request.items()}})
        np.save({str(tmp_path / 'score.npy')!r}, out["score"].numpy())
        print("modules", sorted(m for m in sys.modules if m.startswith("lirank")))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "modules []" in done.stdout
    expected = keras_scores(config, transform, model,
                            records_to_request(candidates, raw_fields(config)))["score"]
    np.testing.assert_allclose(np.load(tmp_path / "score.npy"), expected, rtol=1e-5, atol=1e-6)


def test_only_models_with_the_amortized_encoder_get_the_signature():
    config, transform, transact_model = build_serving_parts(amortized=False)
    assert not has_amortized_history(transact_model)
    assert sorted(ServingModule(config, transform, transact_model).signatures()) == \
        ["serve_examples", "serving_default"]
    amortized = with_amortized_history(transact_model)
    assert sorted(ServingModule(config, transform, amortized).signatures()) == \
        ["serve_candidates", "serve_examples", "serving_default"]


def test_with_amortized_history_swaps_only_the_history_encoder():
    transact_model = build_model(small_config())
    amortized = with_amortized_history(transact_model)
    (transact,) = [l for l in transact_model.layers if isinstance(l, TransActEncoder)]
    (encoder,) = [l for l in amortized.layers if isinstance(l, AmortizedHistoryEncoder)]
    assert encoder.get_config() == transact.get_config()
    assert [l.name for l in amortized.layers] == [l.name for l in transact_model.layers]
    assert sorted(amortized.input) == sorted(transact_model.input)
    assert sorted(amortized.output) == sorted(transact_model.output)


def test_with_amortized_history_needs_a_transact_model():
    with pytest.raises(ValueError, match="no TransActEncoder"):
        with_amortized_history(build_model(small_config(history_encoder=False)))


def test_the_amortized_model_trains(serving):
    """The multi-task loss of the amortized model sends finite, non-zero gradients to every
    weight of its history encoder."""
    config, transform, _, _, _ = serving
    assert config.model.options["transact"]["candidate_fusion"] == "append"
    model = build_model(config)
    records = make_records(config, 32, seed=9)
    inputs = transform(tensors(records_to_request(records, raw_fields(config))))
    labels = np.array([[i % 2] for i in range(32)], np.float32)
    (encoder,) = [l for l in model.layers if isinstance(l, AmortizedHistoryEncoder)]
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        loss = tf.add_n([tf.reduce_mean(keras.losses.binary_crossentropy(labels, outputs[t.name]))
                         for t in config.tasks])
    gradients = tape.gradient(loss, encoder.trainable_weights)
    for weight, gradient in zip(encoder.trainable_weights, gradients):
        assert gradient is not None and np.all(np.isfinite(gradient)), weight.path
        if not weight.path.endswith("key_bias"):  # softmax removes a key bias
            assert np.any(np.asarray(gradient) != 0), weight.path
