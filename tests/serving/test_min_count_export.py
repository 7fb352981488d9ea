"""An export whose features have min-count vocabularies (the history sharing its candidate
feature's): its hash table loads in TF2 and in a TF1 session as TF Serving loads it, every
signature (rows, tf.Examples, amortized candidates) serves the Keras model's scores with the
rare ids mapped, and the warm-up requests replay in the session."""

import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import (SMALL_FEED, WARMUP_SEED, keras_scores, make_records,
                                 small_config, spread_tables, unit_statistics)
from session_loading import SessionExport, assert_session_matches_tf2
from test_session_loading import requests_of

from lirank_tf.config import get_experiment
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.data.records import records_to_request
from lirank_tf.models import build_model
from lirank_tf.serving import export_serving_model
from lirank_tf.serving.session import check_serving_load
from lirank_tf.serving.warmup import read_warmup_requests
from lirank_tf.transform import TransformationModel, count_vocabulary
from lirank_tf.transform.vocabulary import counted_features

MIN_COUNTS = {"viewer_id": 6, "post_hashtag_ids": 9, "root_object_id": 5}


def _config():
    base = small_config("append")
    ids = [dict(f, min_count=MIN_COUNTS.get(f["name"], 0)) for f in SMALL_FEED["features"]["ids"]]
    ids.append({"name": "root_object_id", "table": "post", "min_count": MIN_COUNTS["root_object_id"]})
    overrides = base.to_dict()
    overrides["features"]["ids"] = ids
    return get_experiment("feed", overrides)


@pytest.fixture(scope="module")
def min_count_export(tmp_path_factory):
    config = _config()
    training = make_records(config, 200, seed=0)
    request = records_to_request(training, raw_fields(config))
    vocabulary = count_vocabulary(
        tf.data.Dataset.from_tensors(({k: tf.constant(v) for k, v in request.items()}, {})),
        counted_features(config.features))
    for name in MIN_COUNTS:   # some ids kept, some rare
        assert 0 < len(vocabulary.ids[name]) < len({v for r in training for v in
                                                    np.ravel(r[name]).tolist()})
    transform = TransformationModel(config.features, unit_statistics(config), vocabulary=vocabulary)
    model = build_model(config)
    spread_tables(model)
    export_dir = export_serving_model(config, transform, model,
                                      tmp_path_factory.mktemp("min_count") / "export",
                                      warmup_records=make_records(config, 100, seed=WARMUP_SEED))
    return config, transform, model, export_dir


def test_every_signature_serves_in_a_session_as_in_tf2(min_count_export):
    config, _, _, export_dir = min_count_export
    assert_session_matches_tf2(export_dir, requests_of(config, make_records(config, 40, seed=3)))


def test_the_session_serves_the_keras_scores_with_rare_ids_mapped(min_count_export):
    config, transform, model, export_dir = min_count_export
    request = records_to_request(make_records(config, 40, seed=3), raw_fields(config))
    expected = keras_scores(config, transform, model, request)
    hashed = TransformationModel(config.features.replace(ids=[
        f.replace(min_count=0) for f in config.features.ids]), transform.statistics)
    ignoring = keras_scores(config, hashed, model, request)
    assert not np.allclose(ignoring["score"], expected["score"])   # the mapping matters here
    session = SessionExport(export_dir)
    try:
        served = session.run("serving_default", request)
    finally:
        session.close()
    for name, value in expected.items():
        np.testing.assert_allclose(served[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_the_warmup_requests_replay_in_a_session(min_count_export):
    _, _, _, export_dir = min_count_export
    replayed, _ = check_serving_load(export_dir)
    assert replayed == len(read_warmup_requests(export_dir)) == 6
