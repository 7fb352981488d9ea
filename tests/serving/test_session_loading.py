"""Exports serve in a TF1 session, as TensorFlow Serving loads them (its C++ loader restores
the MetaGraph from the saver_def, not the TF2 object graph): every variable is restored and
every signature gives the outputs of ``tf.saved_model.load``, for fp32 and int8 exports.
The explore and root-object exports are checked in tests/explore and tests/wide."""

import dataclasses
import shutil

import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import build_serving_parts, keras_scores, make_records
from session_loading import assert_session_matches_tf2

from lirank_tf.config import ExportConfig
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.data.records import (records_to_candidates_request, records_to_examples,
                                    records_to_request)
from lirank_tf.serving import export as export_module
from lirank_tf.serving import export_serving_model
from lirank_tf.serving.session import (ServingLoadError, SessionExport, check_serving_load,
                                       variable_handles)
from lirank_tf.serving.warmup import WARMUP_FILE, prediction_log, read_warmup_requests


def requests_of(config, records) -> dict[str, dict]:
    fields = raw_fields(config)
    history = config.features.history
    member = records[0]
    candidates = [dict(r, **{history.item_field: member[history.item_field],
                             history.action_field: member[history.action_field]})
                  for r in records[1:]]
    return {"serving_default": records_to_request(records, fields),
            "serve_examples": {"examples": np.array(records_to_examples(records, fields),
                                                    dtype=object)},
            "serve_candidates": records_to_candidates_request(member, candidates, fields,
                                                              history)}


def test_the_amortized_export_serves_in_a_session_as_in_tf2(amortized_export):
    config, transform, model, export_dir = amortized_export
    records = make_records(config, 40, seed=3)
    requests = requests_of(config, records)
    assert_session_matches_tf2(export_dir, requests)
    # and the session's scores are the Keras model's
    session = SessionExport(export_dir)
    try:
        served = session.run("serving_default", requests["serving_default"])
    finally:
        session.close()
    expected = keras_scores(config, transform, model, requests["serving_default"])
    for name, value in expected.items():
        np.testing.assert_allclose(served[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_each_variable_has_one_handle_in_the_graph(amortized_export):
    """One restored handle per model variable (Keras 3's variable wrapper had added a second,
    never restored, handle per variable, which the signatures read)."""
    _, _, model, export_dir = amortized_export
    shared_names = sorted(variable_handles(export_dir).values())
    assert len(shared_names) == len(set(shared_names)) == len(model.variables)


@pytest.mark.parametrize("amortized", [False, True])
def test_the_int8_export_serves_in_a_session_as_in_tf2(tmp_path, amortized):
    config, transform, model = build_serving_parts(amortized=amortized)
    int8 = dataclasses.replace(config, export=ExportConfig(quantize="int8"))
    export_dir = export_serving_model(int8, transform, model, tmp_path / "int8")
    requests = requests_of(config, make_records(config, 25, seed=4))
    if not amortized:
        del requests["serve_candidates"]
    assert_session_matches_tf2(export_dir, requests)


def test_the_warmup_requests_replay_in_a_session(amortized_export):
    """TF Serving replays assets.extra/tf_serving_warmup_requests through the session while
    loading, and a failing request fails the load: each one runs there and gives the outputs
    of tf.saved_model.load."""
    _, _, _, export_dir = amortized_export
    requests = read_warmup_requests(export_dir)
    assert {name for name, _ in requests} == {"serving_default", "serve_examples",
                                             "serve_candidates"}
    rounds: list[dict] = []   # each signature's requests (1 and 100 rows), one per round
    for name, inputs in requests:
        free = next((r for r in rounds if name not in r), None)
        if free is None:
            rounds.append(free := {})
        free[name] = inputs
    assert len(rounds) == 2
    for round_requests in rounds:
        assert_session_matches_tf2(export_dir, round_requests)


def test_check_serving_load_replays_every_warmup_request(amortized_export):
    _, _, _, export_dir = amortized_export
    replayed, seconds = check_serving_load(export_dir)
    assert replayed == len(read_warmup_requests(export_dir)) == 6 and seconds > 0


def test_check_serving_load_names_a_variable_tf_serving_would_not_restore(tmp_path, monkeypatch):
    """The Keras 3 variables tracked themselves (the bug `backing_variables` fixed): loads in
    TF2, fails in a TF1 session, and the check names a variable."""
    config, transform, model = build_serving_parts(amortized=False)
    monkeypatch.setattr(export_module, "backing_variables", lambda m: list(m.variables))
    export_dir = export_serving_model(config, transform, model, tmp_path / "keras_variables")
    tf_loaded = tf.saved_model.load(str(export_dir))
    assert "serving_default" in tf_loaded.signatures
    with pytest.raises(ServingLoadError, match=r"variable\(s\) are not restored .* e\.g\. '"):
        check_serving_load(export_dir)


def test_check_serving_load_names_the_failing_warmup_request(amortized_export, tmp_path):
    """A warm-up request that fails in the session (here one row too few in one feature)
    fails TF Serving's load: the check names the request, its signature and the reason."""
    _, _, _, export_dir = amortized_export
    copy = tmp_path / "export"
    shutil.copytree(export_dir, copy)
    requests = read_warmup_requests(copy)
    index, inputs = next((i, inputs) for i, (name, inputs) in enumerate(requests)
                         if name == "serving_default" and len(next(iter(inputs.values()))) > 1)
    first = sorted(inputs)[0]
    requests[index] = ("serving_default", dict(inputs, **{first: inputs[first][:-1]}))
    with tf.io.TFRecordWriter(str(copy / WARMUP_FILE)) as writer:
        for name, request in requests:
            writer.write(prediction_log(name, request))
    with pytest.raises(ServingLoadError, match=rf"warm-up request {index} \(serving_default, "
                                               r"\d+ rows\) "
                                               r"fails in a TF1 session.*: \S") as error:
        check_serving_load(copy)
    assert f"feature {first} must have one row per candidate" in str(error.value)
