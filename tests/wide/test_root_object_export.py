"""The global model served with the root-object table (LiRank §3.9): the table adjusts the RO
tasks' logits, and replacing it changes the served scores without re-exporting the model."""

import hashlib
import shutil
from itertools import islice

import fastavro
import numpy as np
import pytest
import tensorflow as tf
from explore_small_feed import simulated_days
from ro_reference import logit, sigmoid
from session_loading import assert_session_matches_tf2
from stock_ops_check import saved_model_op_types

from lirank_tf.config import get_experiment
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.models import build_model
from lirank_tf.data.records import records_to_examples, records_to_request
from lirank_tf.training.trainer import fit_transformation
from lirank_tf.wide import (RootObjectEffects, export_with_root_object_table,
                            update_root_object_table)

SMALL_MODEL = {"hidden_units": [16], "tower_units": [8], "history_encoder": False,
               "interaction": "none", "sparse_moe": False}


def tree_digest(path):
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.name.encode() + file.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("ro_export")
    manifest = simulated_days(root, impressions_per_day=300, num_members=120, posts_per_day=50,
                              seed=6)
    config = get_experiment("feed", {"data": {"train": manifest["train"], "reader": "fastavro"},
                                     "model": SMALL_MODEL})
    transform = fit_transformation(config, manifest["train"])
    model = build_model(config)
    with open(manifest["test"][0], "rb") as handle:
        records = list(islice(fastavro.reader(handle), 12))
    ids = [r["root_object_id"] for r in records]
    effects = RootObjectEffects(tasks=["like", "click"])
    effects.table = {ids[0]: np.array([1.5, -0.5]), ids[3]: np.array([-2.0, 0.75])}
    export_dir = export_with_root_object_table(config, transform, model, effects, root / "export")
    request = {k: tf.constant(v) for k, v in records_to_request(records, raw_fields(config)).items()}
    outputs = model(transform(request), training=False)
    global_p = {t.name: np.asarray(outputs[t.name], np.float64).reshape(-1) for t in config.tasks}
    return config, records, ids, effects, export_dir, request, global_p


def expected_outputs(config, ids, effects, global_p):
    expected = dict(global_p)
    for k, task in enumerate(effects.tasks):
        b = np.array([effects.table.get(i, np.zeros(2))[k] for i in ids])
        expected[task] = sigmoid(logit(global_p[task]) + b)
    expected["score"] = sum(t.score_weight * expected[t.name] for t in config.tasks)
    return expected


def test_served_probabilities_add_the_root_object_effect_to_the_global_logit(exported):
    config, records, ids, effects, export_dir, request, global_p = exported
    loaded = tf.saved_model.load(str(export_dir))
    served = loaded.signatures["serving_default"](**request)
    expected = expected_outputs(config, ids, effects, global_p)
    for name, values in expected.items():
        np.testing.assert_allclose(served[name].numpy(), values, rtol=1e-4, atol=1e-6, err_msg=name)
    assert served["like"].numpy()[0] > global_p["like"][0] and \
        served["like"].numpy()[3] < global_p["like"][3]
    np.testing.assert_allclose(served["like"].numpy()[5:], global_p["like"][5:], rtol=1e-4)
    from_examples = loaded.signatures["serve_examples"](
        examples=tf.constant(records_to_examples(records, raw_fields(config))))
    np.testing.assert_allclose(from_examples["like"].numpy(), expected["like"], rtol=1e-4, atol=1e-6)


def test_updating_the_table_changes_scores_without_touching_the_global_model(exported, tmp_path):
    config, records, ids, _, export_dir, request, global_p = exported
    copy = shutil.copytree(export_dir, tmp_path / "export")
    before = tree_digest(copy / "variables") + (copy / "saved_model.pb").read_bytes().hex()[:64]
    fresh = RootObjectEffects(tasks=["like", "click"])
    fresh.table = {ids[7]: np.array([3.0, 1.0]), "post:never-served": np.array([1.0, 1.0])}
    update_root_object_table(copy, fresh)
    after = tree_digest(copy / "variables") + (copy / "saved_model.pb").read_bytes().hex()[:64]
    assert before == after
    served = tf.saved_model.load(str(copy)).signatures["serving_default"](**request)
    expected = expected_outputs(config, ids, fresh, global_p)
    for name in ("like", "click", "comment", "score"):
        np.testing.assert_allclose(served[name].numpy(), expected[name], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="root-object tasks are"):
        update_root_object_table(copy, RootObjectEffects(tasks=["like"]))
    with pytest.raises(FileNotFoundError, match="no root-object table"):
        update_root_object_table(tmp_path, fresh)


def test_export_uses_stock_ops_and_rejects_unknown_tasks(exported, tmp_path):
    config, *_, export_dir, _, _ = exported
    ops = saved_model_op_types(export_dir)
    assert "LookupTableFindV2" in ops and not [op for op in ops if op.startswith("Lirank")]
    with pytest.raises(ValueError, match=r"root-object tasks \['repost'\]"):
        export_with_root_object_table(config, None, build_model(config),
                                      RootObjectEffects(tasks=["repost"]), tmp_path / "bad")


def test_the_root_object_export_serves_in_a_session_as_in_tf2(exported):
    """TF Serving's TF1 loading: the model's variables and the root-object table restored,
    outputs equal to tf.saved_model.load's (tests/serving/session_loading.py)."""
    *_, export_dir, request, _ = exported
    assert_session_matches_tf2(export_dir, {
        "serving_default": {name: value.numpy() for name, value in request.items()}})
