"""Warm-up requests (lirank_tf.serving.warmup): TF Serving's assets.extra file in the export,
holding PredictionLogs of real rows for every signature, and load_export replaying them."""

import logging

import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import WARMUP_SEED, build_serving_parts, keras_scores, make_records

from lirank_tf.data.raw_features import raw_fields
from lirank_tf.serving import export_serving_model, load_export
from lirank_tf.data.records import (records_to_candidates_request, records_to_examples,
                                    records_to_request)
from lirank_tf.serving.warmup import (WARMUP_FILE, parse_prediction_log, prediction_log,
                                      read_warmup_requests, signature_inputs,
                                      write_warmup_requests)


def expected_requests(config, records):
    """{(signature, rows): inputs} the warm-up file must hold (rows: 1 and 100)."""
    fields, history = raw_fields(config), config.features.history
    expected = {}
    for size in (1, 100):
        rows = records[:size]
        expected[("serving_default", size)] = records_to_request(rows, fields)
        expected[("serve_candidates", size)] = records_to_candidates_request(rows[0], rows,
                                                                             fields, history)
        expected[("serve_examples", size)] = {
            "examples": np.array(records_to_examples(rows, fields), dtype=object)}
    return expected


def rows_of(inputs):
    return max(len(value) for value in inputs.values())


def assert_inputs_equal(got, expected, context):
    assert sorted(got) == sorted(expected), context
    for name, value in expected.items():
        if value.dtype == object:  # strings come back as bytes
            value = np.vectorize(lambda v: v.encode() if isinstance(v, str) else v,
                                 otypes=[object])(value) if value.size else value
        assert got[name].shape == value.shape, (context, name)
        np.testing.assert_array_equal(got[name], value, err_msg=f"{context} {name}")


def test_the_warmup_file_holds_the_rows_for_every_signature_and_batch_size(amortized_export):
    config, _, _, export_dir = amortized_export
    records = make_records(config, 100, seed=WARMUP_SEED)
    logged = read_warmup_requests(export_dir)
    got = {(signature, rows_of(inputs)): inputs for signature, inputs in logged}
    expected = expected_requests(config, records)
    assert len(logged) == len(expected) and sorted(got) == sorted(expected)
    for key, inputs in expected.items():
        assert_inputs_equal(got[key], inputs, key)


def test_tf_serving_parses_the_warmup_file(amortized_export):
    """The records are tensorflow.serving.PredictionLog protos (parsed with
    tensorflow-serving-api's own classes when it is installed)."""
    prediction_log_pb2 = pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    config, _, _, export_dir = amortized_export
    expected = expected_requests(config, make_records(config, 100, seed=WARMUP_SEED))
    records = list(tf.data.TFRecordDataset(str(export_dir / WARMUP_FILE)))
    assert len(records) == len(expected)
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        key = (request.model_spec.signature_name, rows_of(inputs))
        assert_inputs_equal(inputs, expected[key], key)


def test_every_signature_runs_its_warmup_requests(amortized_export):
    _, _, _, export_dir = amortized_export
    assert sorted(signature_inputs(export_dir)) == ["serve_candidates", "serve_examples",
                                                    "serving_default"]
    loaded = tf.saved_model.load(str(export_dir))
    for signature, inputs in read_warmup_requests(export_dir):
        outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        assert np.all(np.isfinite(outputs["score"].numpy())), signature


def test_load_export_warms_up_and_serves_the_keras_scores(amortized_export):
    config, transform, model, export_dir = amortized_export
    loaded = load_export(export_dir)
    records = make_records(config, 30, seed=3)
    request = records_to_request(records, raw_fields(config))
    served = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in request.items()})
    expected = keras_scores(config, transform, model, request)
    np.testing.assert_allclose(served["score"].numpy(), expected["score"], rtol=1e-5, atol=1e-6)


def test_a_prediction_log_round_trips_scalars_strings_and_empty_tensors():
    inputs = {"seed": np.array(7, np.int64), "ids": np.array([b"a", b"", "é".encode()], object),
              "items": np.zeros((2, 0), object),
              "dense": np.arange(6, dtype=np.float32).reshape(3, 2)}
    signature, got = parse_prediction_log(prediction_log("serve_explore", inputs))
    assert signature == "serve_explore"
    assert_inputs_equal(got, inputs, "round trip")
    assert got["seed"].dtype == np.int64 and got["dense"].dtype == np.float32


def test_without_training_records_the_export_has_no_warmup_file(tmp_path, caplog):
    config, transform, model = build_serving_parts(amortized=False)
    assert not config.data.train
    with caplog.at_level(logging.WARNING, logger="lirank_tf.serving.warmup"):
        export_dir = export_serving_model(config, transform, model, tmp_path / "export")
    assert not (export_dir / WARMUP_FILE).exists()
    assert "no training record" in caplog.text
    assert read_warmup_requests(export_dir) == []
    # written afterwards from rows: requests of 1 and the 3 rows there are
    write_warmup_requests(export_dir, config, make_records(config, 3, seed=1))
    sizes = sorted((s, rows_of(i)) for s, i in read_warmup_requests(export_dir))
    assert sizes == [("serve_examples", 1), ("serve_examples", 3), ("serving_default", 1),
                     ("serving_default", 3)]


def test_unreadable_training_files_leave_the_export_without_warmup(tmp_path, caplog):
    config, transform, model = build_serving_parts(amortized=False)
    broken = tmp_path / "part-0.avro"
    broken.write_bytes(b"not an avro file")
    config = config.replace(data=config.data.replace(train=[str(broken)]))
    with caplog.at_level(logging.WARNING, logger="lirank_tf.serving.warmup"):
        export_dir = export_serving_model(config, transform, model, tmp_path / "export")
    assert (export_dir / "saved_model.pb").exists() and not (export_dir / WARMUP_FILE).exists()
    assert "cannot read training records" in caplog.text
