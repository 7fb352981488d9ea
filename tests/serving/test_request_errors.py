"""Bad serving requests get a clear error naming the feature, or a documented default; the
loaded model keeps serving afterwards. Also: ``saved_model_cli show --all`` lists the
signatures."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import keras_scores, make_records

from lirank_tf.data.raw_features import raw_fields
from lirank_tf.data.records import (records_to_candidates_request, records_to_examples,
                                    records_to_request)

SIGNATURE_ERRORS = (TypeError, tf.errors.InvalidArgumentError)


@pytest.fixture(scope="module")
def serving(amortized_export):
    config, transform, model, export_dir = amortized_export
    loaded = tf.saved_model.load(str(export_dir))
    records = make_records(config, 6, seed=8)
    request = {k: tf.constant(v)
               for k, v in records_to_request(records, raw_fields(config)).items()}
    return config, transform, model, loaded, records, request


def call(loaded, request, **changes):
    return loaded.signatures["serving_default"](**{**request, **changes})


def assert_still_serving(loaded, request):
    scores = call(loaded, request)["score"].numpy()
    assert scores.shape == (6,) and np.all(np.isfinite(scores))


def test_saved_model_cli_lists_the_signatures_and_their_inputs(amortized_export):
    config, _, _, export_dir = amortized_export
    cli = shutil.which("saved_model_cli") or str(Path(sys.executable).parent / "saved_model_cli")
    done = subprocess.run([cli, "show", "--all", "--dir", str(export_dir)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    for signature in ("serving_default", "serve_examples", "serve_candidates"):
        assert f"signature_def['{signature}']" in done.stdout
    default = done.stdout.split("signature_def['serving_default']")[1].split("signature_def[")[0]
    for field in raw_fields(config):
        assert f"inputs['{field.name}']" in default
    for task in config.tasks:
        assert f"outputs['{task.name}']" in default
    assert "outputs['score']" in default


def test_missing_feature_is_named(serving):
    _, _, _, loaded, _, request = serving
    partial = {k: v for k, v in request.items() if k != "actor_id"}
    with pytest.raises(TypeError, match="missing a required argument: 'actor_id'"):
        loaded.signatures["serving_default"](**partial)
    assert_still_serving(loaded, request)


def test_unknown_feature_is_named(serving):
    _, _, _, loaded, _, request = serving
    with pytest.raises(TypeError, match="'member_age'"):
        call(loaded, request, member_age=tf.constant([1.0] * 6))


def test_wrong_dtype_gives_the_input_position_and_both_dtypes(serving):
    """TensorFlow names the input by its position among the signature's inputs in
    alphabetical order (documented in the export), and gives expected and received dtypes."""
    _, _, _, loaded, _, request = serving
    position = sorted(request).index("actor_follower_count")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"input #{position}\(zero-based\) was expected to be a float "
                             r"tensor but is a int64 tensor"):
        call(loaded, request, actor_follower_count=tf.constant([1] * 6, tf.int64))
    assert_still_serving(loaded, request)


@pytest.mark.parametrize("name, value, shown", [
    ("viewer_id", [["a"]] * 6, r"viewer_id \[6,1\] is not compatible with expected shape \[\?\]"),
    ("post_hashtag_ids", ["a"] * 6, r"post_hashtag_ids \[6\] is not compatible with expected "
                                    r"shape \[\?,\?\]"),
    ("dense_features", np.zeros((6, 3), np.float32),
     r"dense_features \[6,3\] is not compatible with expected shape \[\?,4\]"),
    ("history_item_ids", ["p:1"] * 6,
     r"history_item_ids \[6\] is not compatible with expected shape \[\?,\?\]"),
    ("actor_follower_count", np.zeros((6, 1), np.float32),
     r"actor_follower_count \[6,1\] is not compatible with expected shape \[\?\]"),
])
def test_wrong_rank_or_size_names_the_feature(serving, name, value, shown):
    _, _, _, loaded, _, request = serving
    with pytest.raises(tf.errors.InvalidArgumentError, match=shown):
        call(loaded, request, **{name: tf.constant(value)})
    assert_still_serving(loaded, request)


def test_rows_that_disagree_name_the_feature(serving):
    _, _, _, loaded, _, request = serving
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="feature platform must have one row per candidate"):
        call(loaded, request, platform=tf.constant(["ios"] * 4))
    assert_still_serving(loaded, request)


def test_history_actions_must_align_with_the_items(serving):
    _, _, _, loaded, _, request = serving
    items = request["history_item_ids"]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="history_action_types must have the shape of history_item_ids"):
        call(loaded, request, history_action_types=tf.zeros([6, items.shape[1] + 1], tf.int64))
    out_of_range = tf.where(items != "", tf.constant(6, tf.int64), 0)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"history_action_types must be in \[0, 6\)"):
        call(loaded, request, history_action_types=out_of_range)
    # action types at padding positions are ignored
    padding_junk = tf.where(items != "", request["history_action_types"], 99)
    np.testing.assert_array_equal(call(loaded, request, history_action_types=padding_junk)["score"],
                                  call(loaded, request)["score"])


def test_empty_history_scores_like_the_model_with_no_history_steps(serving):
    config, transform, model, loaded, records, request = serving
    empty = {"history_item_ids": tf.zeros([6, 0], tf.string),
             "history_action_types": tf.zeros([6, 0], tf.int64)}
    padded_only = {"history_item_ids": tf.fill([6, 3], ""),
                   "history_action_types": tf.zeros([6, 3], tf.int64)}
    scores = call(loaded, request, **empty)["score"].numpy()
    np.testing.assert_array_equal(call(loaded, request, **padded_only)["score"].numpy(), scores)
    expected = keras_scores(config, transform, model, {**request, **empty})["score"]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(scores, call(loaded, request)["score"].numpy())


def test_nan_numeric_values_take_the_feature_default(serving):
    config, _, _, loaded, _, request = serving
    default = {f.name: f.default for f in config.features.dense}
    nan = call(loaded, request, actor_follower_count=tf.fill([6], np.nan),
               dense_features=tf.fill([6, 4], np.nan))
    filled = call(loaded, request,
                  actor_follower_count=tf.fill([6], default["actor_follower_count"]),
                  dense_features=tf.fill([6, 4], default["dense_features"]))
    assert default["actor_follower_count"] == 10.0
    for name in nan:
        np.testing.assert_array_equal(nan[name].numpy(), filled[name].numpy())


def test_empty_request_gives_empty_outputs(serving):
    config, _, _, loaded, _, request = serving
    out = call(loaded, {k: v[:0] for k, v in request.items()})
    assert {k: tuple(v.shape) for k, v in out.items()} == \
        {**{t.name: (0,) for t in config.tasks}, "score": (0,)}


def test_examples_signature_errors_and_defaults(serving):
    config, _, _, loaded, records, request = serving
    serve_examples = loaded.signatures["serve_examples"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse example input"):
        serve_examples(examples=tf.constant([b"not a tf.Example"]))
    wrong_type = tf.train.Example(features=tf.train.Features(feature={
        "viewer_id": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0]))}))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Key: viewer_id"):
        serve_examples(examples=tf.constant([wrong_type.SerializeToString()]))
    misaligned = dict(records[0], history_item_ids=["p:1", "p:2"], history_action_types=[1])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="history_action_types must hold one action type per item"):
        serve_examples(examples=tf.constant(records_to_examples([misaligned], raw_fields(config))))
    # absent features take "", [] or the configured default, as missing request values do
    sparse = {"viewer_id": records[0]["viewer_id"], "root_object_id": records[0]["root_object_id"]}
    from_example = serve_examples(examples=tf.constant(records_to_examples([sparse],
                                                                            raw_fields(config))))
    dense_request = records_to_request([sparse], raw_fields(config))
    np.testing.assert_allclose(from_example["score"].numpy(),
                               call(loaded, {k: tf.constant(v) for k, v in dense_request.items()})
                               ["score"].numpy(), rtol=1e-6)
    assert_still_serving(loaded, request)


def test_candidates_signature_errors(serving):
    config, _, _, loaded, records, _ = serving
    serve_candidates = loaded.signatures["serve_candidates"]
    request = {k: tf.constant(v) for k, v in records_to_candidates_request(
        records[0], records, raw_fields(config), config.features.history).items()}
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="history_item_ids must hold the member history in exactly one row"):
        two_rows = {name: tf.repeat(request[name], 2, axis=0)
                    for name in ("history_item_ids", "history_action_types")}
        serve_candidates(**{**request, **two_rows})
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="feature actor_id must have one row per candidate"):
        serve_candidates(**{**request, "actor_id": request["actor_id"][:2]})
    assert serve_candidates(**request)["score"].shape == (6,)


def candidates_request(config, records) -> dict:
    """The ``serve_candidates`` request of member ``records[0]`` and candidates ``records``."""
    return {k: tf.constant(v) for k, v in records_to_candidates_request(
        records[0], records, raw_fields(config), config.features.history).items()}


def test_candidates_signature_missing_feature_wrong_dtype_and_rank(serving):
    """The Errors of the issue on the amortized signature: each is named, and the loaded
    model keeps serving."""
    config, _, _, loaded, records, _ = serving
    serve_candidates = loaded.signatures["serve_candidates"]
    request = candidates_request(config, records)
    with pytest.raises(TypeError, match="missing a required argument: 'root_object_id'"):
        serve_candidates(**{k: v for k, v in request.items() if k != "root_object_id"})
    position = sorted(request).index("actor_follower_count")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"input #{position}\(zero-based\) was expected to be a float "
                             r"tensor but is a int64 tensor"):
        serve_candidates(**{**request, "actor_follower_count": tf.constant([1] * 6, tf.int64)})
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"history_item_ids \[3\] is not compatible with expected shape "
                             r"\[\?,\?\]"):
        serve_candidates(**{**request, "history_item_ids": tf.constant(["p:1"] * 3)})
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"history_action_types must be in \[0, 6\)"):
        serve_candidates(**{**request, "history_action_types": tf.where(
            request["history_item_ids"] != "", tf.constant(-1, tf.int64), 0)})
    scores = serve_candidates(**request)["score"].numpy()
    assert scores.shape == (6,) and np.all(np.isfinite(scores))


@pytest.mark.parametrize("width", [0, 3])
def test_candidates_signature_empty_history_scores_like_the_per_candidate_path(serving, width):
    """A member without history (no steps, or only padding) is a documented default: the
    history block's empty-history output, as ``serving_default`` gives every candidate."""
    config, transform, model, loaded, records, _ = serving
    request = candidates_request(config, records)
    empty = {"history_item_ids": tf.fill([1, width], ""),
             "history_action_types": tf.zeros([1, width], tf.int64)}
    scores = loaded.signatures["serve_candidates"](**{**request, **empty})["score"].numpy()
    per_candidate = {k: v.numpy() for k, v in request.items()}
    per_candidate.update(history_item_ids=np.full([6, width], b""),
                         history_action_types=np.zeros([6, width], np.int64))
    expected = keras_scores(config, transform, model, per_candidate)["score"]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(scores))
