"""The transformation model against mmh3 and NumPy, for ragged (training) and padded (serving) inputs."""

import mmh3
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.transform import DenseStatistics, TransformationModel


def _config():
    return get_experiment("feed", {"features": {
        "ids": [{"name": "viewer_id", "table": "member"},
                {"name": "viewer_hashtag_ids", "table": "hashtag", "kind": "id_list", "max_length": 3}],
        "dense": [{"name": "counts", "size": 2, "transform": "log1p", "default": 1.0},
                  {"name": "position", "size": 1, "transform": "none"}],
        "history": {"max_length": 4},
    }})


STATS = DenseStatistics(mean={"counts": [1.0, 2.0], "position": [3.0]},
                        std={"counts": [2.0, 4.0], "position": [0.5]})


def _raw(ragged: bool):
    lists = [["h:1", "h:2", "h:3", "h:4"], [], ["ü✓"]]
    items = [["p:1", "p:2", "p:3", "p:4", "p:5", "p:6"], ["p:7"], []]
    actions = [[0, 1, 2, 3, 4, 5], [2], []]
    if ragged:
        as_list = lambda rows, dtype: tf.ragged.constant(rows, dtype=dtype, ragged_rank=1)
    else:
        def as_list(rows, dtype):
            width = max(len(r) for r in rows)
            pad = "" if dtype == tf.string else 0
            return tf.constant([r + [pad] * (width - len(r)) for r in rows], dtype)
    return {
        "viewer_id": tf.constant(["member:1", "member:2", ""]),
        "viewer_hashtag_ids": as_list(lists, tf.string),
        "history_item_ids": as_list(items, tf.string),
        "history_action_types": as_list(actions, tf.int64),
        "root_object_id": tf.constant(["p:9", "p:8", "p:7"]),
        "counts": tf.constant([[0.0, 3.0], [np.nan, 1.0], [10.0, 0.0]]),
        "position": tf.constant([3.0, 4.0, 2.0]),
    }


def _h(s):
    return mmh3.hash64(s)[0]


@pytest.mark.parametrize("ragged", [True, False])
def test_outputs_match_independent_reference(ragged):
    out = TransformationModel(_config().features, STATS)(_raw(ragged))
    np.testing.assert_array_equal(out["viewer_id"], [_h("member:1"), _h("member:2"), 0])
    np.testing.assert_array_equal(out["viewer_hashtag_ids"], [
        [_h("h:1"), _h("h:2"), _h("h:3")], [0, 0, 0], [_h("ü✓"), 0, 0]])
    # history: last 4 steps, right-aligned, padding (hash 0, action 0, mask 0) first
    np.testing.assert_array_equal(out["history_items"], [
        [_h(f"p:{i}") for i in (3, 4, 5, 6)], [0, 0, 0, _h("p:7")], [0, 0, 0, 0]])
    np.testing.assert_array_equal(out["history_actions"], [[2, 3, 4, 5], [0, 0, 0, 2], [0, 0, 0, 0]])
    np.testing.assert_array_equal(out["history_mask"], [[1, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(out["history_candidate"], [_h("p:9"), _h("p:8"), _h("p:7")])
    counts = np.array([[0.0, 3.0], [1.0, 1.0], [10.0, 0.0]])  # NaN -> default 1.0
    expected = np.concatenate([(np.log1p(counts) - [1.0, 2.0]) / [2.0, 4.0],
                               ((np.array([3.0, 4.0, 2.0]) - 3.0) / 0.5)[:, None]], axis=1)
    np.testing.assert_allclose(out["dense"], expected, rtol=1e-6)


def test_missing_feature_and_statistics_are_named():
    transform = TransformationModel(_config().features, STATS)
    raw = _raw(True)
    del raw["counts"]
    with pytest.raises(ValueError, match=r"missing feature\(s\) \['counts'\]"):
        transform(raw)
    with pytest.raises(ValueError, match=r"no normalisation statistics.*\['position'\]"):
        TransformationModel(_config().features, DenseStatistics(mean={"counts": [0, 0]}, std={"counts": [1, 1]}))


def test_runs_in_dataset_map_with_parallel_calls():
    transform = TransformationModel(_config().features, STATS)
    raw = _raw(True)
    dataset = tf.data.Dataset.from_tensors((raw, {})).repeat(3).map(
        transform.map_fn(), num_parallel_calls=tf.data.AUTOTUNE)
    for inputs, _ in dataset:
        np.testing.assert_array_equal(inputs["viewer_id"][:2], [_h("member:1"), _h("member:2")])


def test_training_map_with_the_cpp_hash_op_equals_the_stock_op_serving_path():
    transform = TransformationModel(_config().features, STATS)
    raw = _raw(True)
    specs = tf.nest.map_structure(tf.type_spec_from_value, raw)
    serving = transform(raw)                                     # stock ops (exported)
    training, _ = next(iter(tf.data.Dataset.from_tensors((raw, {})).map(transform.map_fn())))
    for name, value in serving.items():
        np.testing.assert_array_equal(training[name], value, err_msg=name)

    def op_types(fn):
        return {op.type for op in tf.function(fn).get_concrete_function(specs).graph.get_operations()}
    assert "LirankMurmur3Hash" in op_types(lambda r: transform.map_fn()(r, {})[0])
    assert "LirankMurmur3Hash" not in op_types(transform)
