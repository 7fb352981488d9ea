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


def _many_ids_config():
    """String and integer ids and id lists (as the Jobs model's ~40), plus a history."""
    ids = [{"name": f"id_{i}", "table": "member"} for i in range(6)]
    ids += [{"name": "int_id", "table": "member", "dtype": "int64"},
            {"name": "int_list", "table": "hashtag", "kind": "id_list", "dtype": "int64",
             "max_length": 3},
            {"name": "list_a", "table": "hashtag", "kind": "id_list", "max_length": 2},
            {"name": "list_b", "table": "hashtag", "kind": "id_list", "max_length": 4}]
    return get_experiment("feed", {"features": {"ids": ids, "dense": [],
                                                "history": {"max_length": 3}}})


def _many_ids_raw():
    rows = 3
    raw = {f"id_{i}": tf.constant([f"v{i}:{r}" * (i * 7 + 1) for r in range(rows)])
           for i in range(6)}   # lengths up to ~200 bytes: several length buckets of the hash
    raw["int_id"] = tf.constant([5, -1, 123456789012], tf.int64)
    raw["int_list"] = tf.ragged.constant([[1, 2, 3, 4], [], [-1, 7]], tf.int64)
    raw["list_a"] = tf.constant([["a", "b"], ["c", ""], ["", ""]])
    raw["list_b"] = tf.ragged.constant([["x" * 40], [], ["y", "z", "w", "q", "r"]])
    raw["history_item_ids"] = tf.ragged.constant([["p:1", "p:2"], [], ["p:3"] * 5])
    raw["history_action_types"] = tf.ragged.constant([[0, 1], [], [2] * 5], tf.int64)
    raw["root_object_id"] = tf.constant(["p:9", "", "p:8"])
    return raw


@pytest.mark.parametrize("use_hash_op", [False, True])
def test_all_ids_of_a_batch_hashed_at_once_equal_mmh3_per_value(use_hash_op):
    transform = TransformationModel(_many_ids_config().features, DenseStatistics({}, {}))
    raw = _many_ids_raw()
    if use_hash_op:
        out, _ = transform.map_fn()(raw, {})
    else:
        out = transform(raw)
    for i in range(6):
        np.testing.assert_array_equal(out[f"id_{i}"],
                                      [_h(f"v{i}:{r}" * (i * 7 + 1)) for r in range(3)])
    np.testing.assert_array_equal(out["int_id"], [_h("5"), 0, _h("123456789012")])
    np.testing.assert_array_equal(out["int_list"], [[_h("1"), _h("2"), _h("3")], [0, 0, 0],
                                                    [0, _h("7"), 0]])
    np.testing.assert_array_equal(out["list_a"], [[_h("a"), _h("b")], [_h("c"), 0], [0, 0]])
    np.testing.assert_array_equal(out["list_b"], [[_h("x" * 40), 0, 0, 0], [0, 0, 0, 0],
                                                  [_h(v) for v in "yzwq"]])
    np.testing.assert_array_equal(out["history_items"], [[0, _h("p:1"), _h("p:2")], [0, 0, 0],
                                                         [_h("p:3")] * 3])
    np.testing.assert_array_equal(out["history_candidate"], [_h("p:9"), 0, _h("p:8")])
    assert out["list_b"].shape == (3, 4) and out["int_id"].shape == (3,)


def test_the_serving_graph_holds_one_hash_however_many_id_features():
    config = _many_ids_config()
    transform = TransformationModel(config.features, DenseStatistics({}, {}))
    specs = {}   # any batch size
    for name, value in _many_ids_raw().items():
        if isinstance(value, tf.RaggedTensor):
            specs[name] = tf.RaggedTensorSpec([None, None], value.dtype, ragged_rank=1,
                                              row_splits_dtype=value.row_splits.dtype)
        else:
            specs[name] = tf.TensorSpec([None, *value.shape[1:]], value.dtype)
    graph = tf.function(transform).get_concrete_function(specs).graph
    hash_calls = [op for op in graph.get_operations()
                  if op.type in ("PartitionedCall", "StatefulPartitionedCall")
                  and "_hash_flat" in op.get_attr("f").name]
    assert len(hash_calls) == 1
    # static shapes survive the split: the ranking model's inputs keep their widths
    outputs = graph.structured_outputs
    assert outputs["list_b"].shape.as_list() == [None, 4]
    assert outputs["history_items"].shape.as_list() == [None, 3]
    assert outputs["id_0"].shape.as_list() == [None]


def _list_config():
    return get_experiment("feed", {"features": {
        "ids": [{"name": "viewer_id", "table": "member"},
                {"name": "tags", "table": "hashtag", "kind": "id_list", "max_length": 3},
                {"name": "codes", "table": "hashtag", "kind": "id_list", "max_length": 4,
                 "dtype": "int64"}],
        "dense": [], "history": {"max_length": 5}}})


def _reference_row(row, length, right_aligned):
    """NumPy-side reference: a row's values up to its last real one (trailing padding is not
    data; padding in the middle is kept), the first (or, right-aligned, last) ``length``."""
    end = max([i + 1 for i, v in enumerate(row) if v not in ("", -1)] + [0])
    row = list(row[:end])
    return ([None] * (length - len(row[-length:])) + row[-length:] if right_aligned
            else row[:length] + [None] * (length - len(row[:length])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_lists_take_the_values_of_the_ragged_path_and_the_reference(seed):
    """Serving requests send lists dense and padded; the transformation reads them without a
    ragged round trip. Rows with padding in the middle ("" / -1: no id; a history step
    without an item is masked, its action kept), empty rows, rows longer and shorter than
    max_length, and a request whose lists are all empty ([batch, 0])."""
    rng = np.random.default_rng(seed)
    config = _list_config()
    transform = TransformationModel(config.features, DenseStatistics(mean={}, std={}))
    for width in (0, 2, 9):
        rows = 6
        def draw(pool, pad):
            lengths = rng.integers(0, width + 1, rows)
            lists = [[pad if rng.random() < 0.2 else pool(rng) for _ in range(n)] for n in lengths]
            # a dense row cannot end in padding: the ragged rows end in a real value too
            return [r[:max([i + 1 for i, v in enumerate(r) if v != pad] + [0])] for r in lists]
        tags = draw(lambda r: f"t:{r.integers(50)}", "")
        codes = draw(lambda r: int(r.integers(1000)), -1)
        items = draw(lambda r: f"p:{r.integers(80)}", "")
        actions = [[int(rng.integers(0, 4)) for _ in row] for row in items]
        def dense(lists, pad, dtype):
            return tf.constant([r + [pad] * (width - len(r)) for r in lists], dtype,
                               shape=[rows, width])
        def ragged(lists, dtype):
            return tf.RaggedTensor.from_row_lengths(
                tf.constant([v for r in lists for v in r], dtype),
                [len(r) for r in lists])
        common = {"viewer_id": tf.constant([f"m:{i}" for i in range(rows)]),
                  "root_object_id": tf.constant(["p:1"] * rows)}
        outputs = {
            "dense": transform({**common, "tags": dense(tags, "", tf.string),
                                "codes": dense(codes, -1, tf.int64),
                                "history_item_ids": dense(items, "", tf.string),
                                "history_action_types": dense(actions, 0, tf.int64)}),
            "ragged": transform({**common, "tags": ragged(tags, tf.string),
                                 "codes": ragged(codes, tf.int64),
                                 "history_item_ids": ragged(items, tf.string),
                                 "history_action_types": ragged(actions, tf.int64)})}
        hash_of = lambda v: 0 if v in (None, "", -1) else _h(str(v))  # noqa: E731
        expected_items = [_reference_row(r, 5, True) for r in items]
        action_rows = [_aligned_actions(r, a, 5) for r, a in zip(items, actions)]
        for kind, out in outputs.items():
            np.testing.assert_array_equal(
                out["tags"], [[hash_of(v) for v in _reference_row(r, 3, False)] for r in tags],
                err_msg=f"{kind} width {width}")
            np.testing.assert_array_equal(
                out["codes"], [[hash_of(v) for v in _reference_row(r, 4, False)] for r in codes],
                err_msg=f"{kind} width {width}")
            np.testing.assert_array_equal(
                out["history_items"], [[hash_of(v) for v in r] for r in expected_items],
                err_msg=f"{kind} width {width}")
            np.testing.assert_array_equal(
                out["history_mask"], [[float(v not in (None, "")) for v in r]
                                      for r in expected_items], err_msg=f"{kind} width {width}")
            np.testing.assert_array_equal(
                out["history_actions"], [[0 if a is None else a for a in r] for r in action_rows],
                err_msg=f"{kind} width {width}")


def _aligned_actions(items, actions, length):
    """The actions of the steps ``_reference_row(items, length, True)`` keeps, aligned alike."""
    end = max([i + 1 for i, v in enumerate(items) if v != ""] + [0])
    kept = list(actions[:end])[-length:]
    return [None] * (length - len(kept)) + kept
