"""The Thompson-sampling serving signature (LiRank §3.8): seeded, stock ops, equal to NumPy draws."""

from itertools import islice

import fastavro
import numpy as np
import pytest
import tensorflow as tf
from explore_small_feed import batches, served_draws, small_feed
from session_loading import assert_session_matches_tf2
from stock_ops_check import saved_model_op_types

from lirank_tf.data.raw_features import raw_fields
from lirank_tf.explore import NeuralLinear, export_explore_model
from lirank_tf.data.records import records_to_request


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore_export")
    config, manifest, transform, model = small_feed(root)
    explorer = NeuralLinear(model, tasks=["click", "like"])
    explorer.update(batches(config, manifest["train"][:1], transform, batch_size=200))
    export_dir = export_explore_model(config, transform, explorer, root / "export",
                                      exploration_scale=1.5)
    with open(manifest["test"][0], "rb") as handle:
        records = list(islice(fastavro.reader(handle), 16))
    request = {k: tf.constant(v) for k, v in records_to_request(records, raw_fields(config)).items()}
    return config, transform, explorer, tf.saved_model.load(str(export_dir)), request, export_dir


def test_serving_default_still_serves_the_trained_model(exported):
    config, transform, explorer, loaded, request, _ = exported
    served = loaded.signatures["serving_default"](**request)
    expected = explorer.model(transform(request), training=False)
    for task in config.tasks:
        np.testing.assert_allclose(served[task.name].numpy(),
                                   np.asarray(expected[task.name]).reshape(-1), rtol=1e-5, atol=1e-6)


def test_serve_explore_draws_mean_plus_scaled_cholesky_times_stateless_normal(exported):
    config, transform, explorer, loaded, request, _ = exported
    served = loaded.signatures["serve_explore"](**request, seed=tf.constant(42, tf.int64))
    expected = explorer.probabilities(transform(request), served_draws(explorer, 42, 1.5))
    for task in config.tasks:
        np.testing.assert_allclose(served[task.name].numpy(), expected[task.name].numpy(),
                                   rtol=1e-4, atol=1e-6, err_msg=task.name)
    score = sum(t.score_weight * expected[t.name].numpy() for t in config.tasks)
    np.testing.assert_allclose(served["score"].numpy(), score, rtol=1e-4)


def test_the_same_seed_gives_the_same_ranking_and_other_seeds_explore(exported):
    _, _, _, loaded, request, _ = exported
    serve = loaded.signatures["serve_explore"]
    first = serve(**request, seed=tf.constant(7, tf.int64))["score"].numpy()
    again = serve(**request, seed=tf.constant(7, tf.int64))["score"].numpy()
    np.testing.assert_array_equal(first, again)
    others = [serve(**request, seed=tf.constant(s, tf.int64))["click"].numpy() for s in range(8, 14)]
    assert all(not np.allclose(first, o) for o in others)
    exploit = loaded.signatures["serving_default"](**request)["click"].numpy()
    spread = np.std(np.stack(others), axis=0)
    assert np.all(spread > 0) and np.mean(np.abs(np.mean(others, axis=0) - exploit)) < 0.5


def test_the_export_uses_stock_ops_only(exported):
    *_, export_dir = exported
    ops = saved_model_op_types(export_dir)
    assert "StatelessRandomNormalV2" in ops or "StatelessRandomNormal" in ops
    assert not [op for op in ops if op.startswith("Lirank")]


def test_a_negative_exploration_scale_is_rejected(exported, tmp_path):
    config, transform, explorer, *_ = exported
    with pytest.raises(ValueError, match="exploration_scale"):
        export_explore_model(config, transform, explorer, tmp_path / "bad", exploration_scale=-1.0)
    assert not (tmp_path / "bad").exists()


def test_the_explore_export_serves_in_a_session_as_in_tf2(exported):
    """TF Serving's TF1 loading: every variable (model and posteriors) restored, both
    signatures equal to tf.saved_model.load's (tests/serving/session_loading.py)."""
    *_, request, export_dir = exported
    arrays = {name: value.numpy() for name, value in request.items()}
    assert_session_matches_tf2(export_dir, {
        "serving_default": arrays,
        "serve_explore": {**arrays, "seed": np.array(42, np.int64)}})
