"""Rare ids -> RARE_ID before hashing, against mmh3 of the id or of the token with the kept ids
of collections.Counter: stock ops (export), the C++ hash op (training pipeline), ragged and
dense lists alike; "no id" stays 0; the history follows its candidate feature's vocabulary."""

from collections import Counter

import mmh3
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.transform import RARE_ID, DenseStatistics, IdVocabulary, TransformationModel


def _config():
    return get_experiment("feed", {"features": {
        "ids": [{"name": "viewer_id", "table": "member", "min_count": 3},
                {"name": "actor_id", "table": "member"},                  # hashed as it is
                {"name": "tags", "table": "hashtag", "kind": "id_list", "max_length": 3,
                 "min_count": 2},
                {"name": "codes", "table": "hashtag", "kind": "id_list", "max_length": 4,
                 "dtype": "int64", "min_count": 4},
                {"name": "root_object_id", "table": "post", "min_count": 2}],
        "dense": [], "history": {"max_length": 5}}})


def _draw(rng, rows, width):
    def lists(pool, pad):
        return [[pad if rng.random() < 0.15 else pool() for _ in range(rng.integers(0, width + 1))]
                for _ in range(rows)]
    tags = lists(lambda: f"t:{rng.integers(400)}", "")
    codes = lists(lambda: int(rng.integers(100)), -1)
    items = lists(lambda: f"p:{rng.integers(200)}", "")
    # a dense row cannot end in padding: cut the rows after their last real value
    tags, codes, items = ([r[:max([i + 1 for i, v in enumerate(r) if v not in ("", -1)] + [0])]
                           for r in rows_] for rows_ in (tags, codes, items))
    return {"viewer_id": [f"m:{rng.integers(150)}" if rng.random() > 0.1 else "" for _ in range(rows)],
            "actor_id": [f"a:{rng.integers(30)}" for _ in range(rows)],
            "tags": tags, "codes": codes, "history_item_ids": items,
            "history_action_types": [[int(rng.integers(4)) for _ in r] for r in items],
            "root_object_id": [f"p:{rng.integers(200)}" for _ in range(rows)]}


def _vocabulary(columns):
    """The kept ids by collections.Counter (each list occurrence counts; no id not counted)."""
    def kept(values, min_count):
        return sorted(str(v) for v, c in Counter(values).items()
                      if c >= min_count and v not in ("", -1))
    flat = lambda rows: [v for r in rows for v in r]   # noqa: E731
    ids = {"viewer_id": kept(columns["viewer_id"], 3), "tags": kept(flat(columns["tags"]), 2),
           "codes": kept(flat(columns["codes"]), 4),
           "root_object_id": kept(columns["root_object_id"], 2)}
    return IdVocabulary(ids=ids, min_count={"viewer_id": 3, "tags": 2, "codes": 4,
                                            "root_object_id": 2})


def _tensors(columns, ragged, width):
    def as_list(rows, dtype, pad):
        if ragged:
            return tf.RaggedTensor.from_row_lengths(tf.constant([v for r in rows for v in r], dtype),
                                                    [len(r) for r in rows])
        return tf.constant([r + [pad] * (width - len(r)) for r in rows], dtype,
                           shape=[len(rows), width])
    return {"viewer_id": tf.constant(columns["viewer_id"]),
            "actor_id": tf.constant(columns["actor_id"]),
            "root_object_id": tf.constant(columns["root_object_id"]),
            "tags": as_list(columns["tags"], tf.string, ""),
            "codes": as_list(columns["codes"], tf.int64, -1),
            "history_item_ids": as_list(columns["history_item_ids"], tf.string, ""),
            "history_action_types": as_list(columns["history_action_types"], tf.int64, 0)}


def _hash(value, kept):
    if value in (None, "", -1):
        return 0
    value = str(value)
    return mmh3.hash64(value if kept is None or value in kept else RARE_ID)[0]


def _row(row, length, right_aligned):
    row = list(row)
    return ([None] * (length - len(row[-length:])) + row[-length:] if right_aligned
            else row[:length] + [None] * (length - len(row[:length])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rare_ids_hash_as_the_token_in_every_path(seed):
    rng = np.random.default_rng(seed)
    config = _config()
    vocabulary = _vocabulary(_draw(rng, 300, 6))          # "training" counts
    transform = TransformationModel(config.features, DenseStatistics({}, {}),
                                    vocabulary=vocabulary)
    kept = {name: set(ids) for name, ids in vocabulary.ids.items()}
    assert all(0 < len(kept[name]) for name in kept)       # some ids kept, some rare
    columns = _draw(rng, 40, 6)                            # later data: unseen ids too
    expected = {
        "viewer_id": [_hash(v, kept["viewer_id"]) for v in columns["viewer_id"]],
        "actor_id": [_hash(v, None) for v in columns["actor_id"]],
        "tags": [[_hash(v, kept["tags"]) for v in _row(r, 3, False)] for r in columns["tags"]],
        "codes": [[_hash(v, kept["codes"]) for v in _row(r, 4, False)] for r in columns["codes"]],
        # the history and its candidate take root_object_id's vocabulary (same table, post)
        "history_items": [[_hash(v, kept["root_object_id"]) for v in _row(r, 5, True)]
                          for r in columns["history_item_ids"]],
        "history_candidate": [_hash(v, kept["root_object_id"]) for v in columns["root_object_id"]],
        "root_object_id": [_hash(v, kept["root_object_id"]) for v in columns["root_object_id"]],
        "history_mask": [[float(v not in (None, "")) for v in _row(r, 5, True)]
                         for r in columns["history_item_ids"]],
    }
    rare = _hash(RARE_ID, None)
    for name in ("viewer_id", "tags", "codes", "history_items", "history_candidate"):
        hashes = np.ravel(expected[name])
        assert rare in hashes and len(set(hashes) - {rare, 0}) > 0, name   # both kinds
    outputs = {"stock ragged": transform(_tensors(columns, True, 6)),
               "stock dense": transform(_tensors(columns, False, 6)),
               "hash op ragged": transform.map_fn()(_tensors(columns, True, 6), {})[0],
               "hash op dense": transform.map_fn()(_tensors(columns, False, 6), {})[0]}
    for path, out in outputs.items():
        for name, values in expected.items():
            np.testing.assert_array_equal(out[name], values, err_msg=f"{path}: {name}")


def test_a_vocabulary_of_no_ids_maps_every_id_to_the_token():
    config = _config()
    vocabulary = IdVocabulary(ids={name: [] for name in ("viewer_id", "tags", "codes",
                                                         "root_object_id")},
                              min_count={"viewer_id": 3, "tags": 2, "codes": 4,
                                         "root_object_id": 2})
    transform = TransformationModel(config.features, DenseStatistics({}, {}),
                                    vocabulary=vocabulary)
    columns = _draw(np.random.default_rng(5), 8, 3)
    out = transform(_tensors(columns, True, 3))
    rare = _hash(RARE_ID, None)
    np.testing.assert_array_equal(out["viewer_id"],
                                  [0 if v == "" else rare for v in columns["viewer_id"]])
    np.testing.assert_array_equal(out["root_object_id"], [rare] * 8)


def test_a_min_count_feature_without_a_vocabulary_is_named():
    with pytest.raises(ValueError, match=r"\['codes', 'root_object_id', 'tags', 'viewer_id'\] "
                                         "have min_count > 0 but no vocabulary"):
        TransformationModel(_config().features, DenseStatistics({}, {}))


def test_the_transformation_with_its_table_survives_a_saved_model_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    config = _config()
    transform = TransformationModel(config.features, DenseStatistics({}, {}),
                                    vocabulary=_vocabulary(_draw(rng, 300, 6)))
    columns = _draw(rng, 20, 4)
    raw = _tensors(columns, False, 4)
    specs = {name: tf.TensorSpec([None, *value.shape[1:]], value.dtype) for name, value in raw.items()}
    transform.serve = tf.function(transform.__call__, input_signature=[specs])
    tf.saved_model.save(transform, str(tmp_path / "transform"))
    loaded = tf.saved_model.load(str(tmp_path / "transform"))
    expected = transform(raw)
    served = loaded.serve(raw)
    for name, value in expected.items():
        np.testing.assert_array_equal(served[name], value, err_msg=name)
