"""The min-count vocabulary of a run: counted over all training files (collections.Counter
reference), saved beside the statistics, reused, never recounted, by evaluate, export and
incremental training; the export of a trained run serves the Keras model's scores in TF2 and
in a TF1 session (as TF Serving loads it) and its warm-up requests replay there."""

import json
from collections import Counter

import fastavro
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf import workflow
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.data.records import records_to_request
from lirank_tf.incremental import train_incremental
from lirank_tf.training import vocabulary as vocabulary_module
from lirank_tf.training.run import load_run
from lirank_tf.training.trainer import train
from lirank_tf.transform import RARE_ID

from session_loading import SessionExport, assert_session_matches_tf2
from tiny_run import tiny_config, write_rows

MIN_COUNTS = {"user": 12, "item": 7}


def _config(root):
    config = tiny_config(root)
    ids = [f.replace(min_count=MIN_COUNTS[f.name]) for f in config.features.ids]
    # a second training file: counts span files
    write_rows(root / "train" / "b.avro", 150, 5)
    return config.replace(features=config.features.replace(ids=ids))


def _records(pattern_dir):
    records = []
    for path in sorted(pattern_dir.glob("*.avro")):
        with open(path, "rb") as handle:
            records.extend(fastavro.reader(handle))
    return records


def _expected_vocabulary(records):
    counts = {name: Counter(str(r[name]) for r in records) for name in MIN_COUNTS}
    return {name: sorted(v for v, c in counts[name].items() if c >= MIN_COUNTS[name])
            for name in MIN_COUNTS}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("vocabulary_run")
    config = _config(root)
    result = train(config, root / "run")
    return root, config, result


def test_the_run_saves_the_vocabulary_of_all_its_training_files(trained):
    root, _, result = trained
    saved = json.loads((root / "run" / "id_vocabulary.json").read_text())
    records = _records(root / "train")
    expected = _expected_vocabulary(records)
    assert saved["records"] == len(records) == 550
    assert {name: entry["ids"] for name, entry in saved["features"].items()} == expected
    assert {name: entry["min_count"] for name, entry in saved["features"].items()} == MIN_COUNTS
    for name in MIN_COUNTS:   # a real vocabulary: some ids rare, some kept
        assert 0 < len(expected[name]) < len({str(r[name]) for r in records})
    assert result.transform.vocabulary.ids == expected
    _, transform, _ = load_run(root / "run")
    assert transform.vocabulary.ids == expected


def test_evaluate_and_export_reuse_the_saved_vocabulary(trained, monkeypatch, tmp_path):
    root, config, result = trained
    # the saved vocabulary is what they use: edit it, and the transform follows the file
    path = root / "run" / "id_vocabulary.json"
    original = path.read_text()
    monkeypatch.setattr(vocabulary_module, "count_vocabulary",
                        lambda *a, **k: pytest.fail("recounted"))
    try:
        edited = json.loads(original)
        edited["features"]["user"]["ids"] = edited["features"]["user"]["ids"][:1]
        path.write_text(json.dumps(edited))
        _, transform, _ = load_run(root / "run")
        assert transform.vocabulary.ids["user"] == edited["features"]["user"]["ids"]
    finally:
        path.write_text(original)
    metrics = workflow.evaluate_run(root / "run", verbose=False)
    assert 0.0 < metrics["clicked"]["auc"] < 1.0
    export_dir = workflow.export_run(root / "run", tmp_path / "export")   # replays warm-up in a session

    records = _records(root / "valid")[:40]
    request = records_to_request(records, raw_fields(config))
    _, transform, model = load_run(root / "run")
    expected = np.asarray(model(transform({k: tf.constant(v) for k, v in request.items()}),
                                training=False)["clicked"]).reshape(-1)
    kept = set(transform.vocabulary.ids["user"])
    assert any(str(r["user"]) not in kept for r in records)     # rare users are scored
    loaded = tf.saved_model.load(str(export_dir))
    served = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in request.items()})
    np.testing.assert_allclose(np.asarray(served["clicked"]).reshape(-1), expected,
                               rtol=1e-5, atol=1e-6)
    assert_session_matches_tf2(export_dir, {"serving_default": request})
    session = SessionExport(export_dir)
    try:
        in_session = session.run("serving_default", request)["clicked"].reshape(-1)
    finally:
        session.close()
    np.testing.assert_allclose(in_session, expected, rtol=1e-5, atol=1e-6)


def test_the_rare_row_is_what_a_rare_user_gets(trained):
    """A rare user and a never-seen user get the same score; with the vocabulary ignored
    (hashing the ids as they are) they would not."""
    root, config, _ = trained
    _, transform, model = load_run(root / "run")
    kept = set(transform.vocabulary.ids["user"])
    counts = Counter(str(r["user"]) for r in _records(root / "train"))
    rare_user = next(u for u in counts if u not in kept)
    base = _records(root / "valid")[0]
    rows = [dict(base, user=rare_user), dict(base, user="never-seen"), dict(base, user=RARE_ID)]
    request = records_to_request(rows, raw_fields(config))
    scores = np.asarray(model(transform({k: tf.constant(v) for k, v in request.items()}),
                              training=False)["clicked"]).reshape(-1)
    assert scores[0] == scores[1] == scores[2]


def test_incremental_training_keeps_the_previous_runs_vocabulary(trained, monkeypatch):
    root, config, _ = trained
    day = root / "day1"
    write_rows(day / "a.avro", 300, 9)   # other counts: recounting would change the vocabulary
    counted = vocabulary_module.count_training_vocabulary(
        config.replace(data=config.data.replace(train=[str(day / "*.avro")])),
        [str(day / "a.avro")])
    previous = json.loads((root / "run" / "id_vocabulary.json").read_text())
    assert counted.ids != {n: e["ids"] for n, e in previous["features"].items()}
    monkeypatch.setattr(vocabulary_module, "count_vocabulary",
                        lambda *a, **k: pytest.fail("recounted"))
    incremental = config.replace(data=config.data.replace(train=[str(day / "*.avro")]))
    train_incremental(incremental, root / "incremental", root / "run", cold_weight=0.0,
                      forgetting_factor=0.0, save_fisher=False)
    assert json.loads((root / "incremental" / "id_vocabulary.json").read_text()) == previous
    _, transform, _ = load_run(root / "incremental")
    assert transform.vocabulary.ids == {n: e["ids"] for n, e in previous["features"].items()}
