"""The min-count vocabulary: counts over raw batches against collections.Counter, the saved
form, the check against the config, and which feature's vocabulary maps each output."""

from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.transform import IdVocabulary, count_vocabulary
from lirank_tf.transform.vocabulary import counted_features, vocabulary_sources


def _features(history_candidate="root_object_id", candidate_table="post"):
    config = get_experiment("feed", {"features": {
        "ids": [{"name": "viewer_id", "table": "member", "min_count": 3},
                {"name": "codes", "table": "hashtag", "kind": "id_list", "dtype": "int64",
                 "min_count": 2},
                {"name": "root_object_id", "table": candidate_table, "min_count": 2},
                {"name": "plain", "table": "member"}],
        "dense": [], "history": {"max_length": 4, "candidate_field": history_candidate}}})
    return config.features


def _batches(seed, rows=500, batch=64):
    """Random raw batches (string ids with "", int64 lists with -1) and the flat values."""
    rng = np.random.default_rng(seed)
    viewers = [f"m:{int(rng.zipf(1.6)) % 200}" if rng.random() > 0.1 else "" for _ in range(rows)]
    codes = [[int(rng.zipf(1.8)) % 90 if rng.random() > 0.1 else -1
              for _ in range(rng.integers(0, 5))] for _ in range(rows)]
    objects = [f"p:{int(rng.zipf(1.5)) % 300}" for _ in range(rows)]
    dataset = tf.data.Dataset.from_tensor_slices((
        {"viewer_id": tf.constant(viewers),
         "codes": tf.ragged.constant(codes, tf.int64, ragged_rank=1, inner_shape=()),
         "root_object_id": tf.constant(objects)}, {})).batch(batch)
    return dataset, viewers, [c for row in codes for c in row], objects


def _reference(values, min_count, no_id):
    return sorted(str(v) for v, c in Counter(values).items() if c >= min_count and v != no_id)


@pytest.mark.parametrize("seed", [0, 1])
def test_counts_match_collections_counter(seed):
    features = _features()
    dataset, viewers, codes, objects = _batches(seed)
    vocabulary = count_vocabulary(dataset, counted_features(features))
    assert vocabulary.records == 500
    assert vocabulary.min_count == {"viewer_id": 3, "codes": 2, "root_object_id": 2}
    assert vocabulary.ids["viewer_id"] == _reference(viewers, 3, "")
    assert vocabulary.ids["codes"] == _reference(codes, 2, -1)     # each occurrence counts
    assert vocabulary.ids["root_object_id"] == _reference(objects, 2, None)
    # a real test: some ids are left out, some kept
    assert 0 < len(vocabulary.ids["viewer_id"]) < len(set(viewers)) - 1
    assert IdVocabulary.from_dict(vocabulary.to_dict()) == vocabulary


def test_the_vocabulary_must_hold_the_configs_min_count_features():
    features = _features()
    good = IdVocabulary(ids={"viewer_id": [], "codes": [], "root_object_id": []},
                        min_count={"viewer_id": 3, "codes": 2, "root_object_id": 2})
    good.check(features)
    for wrong in ({"viewer_id": 3, "codes": 2}, {"viewer_id": 4, "codes": 2, "root_object_id": 2},
                  {"viewer_id": 3, "codes": 2, "root_object_id": 2, "plain": 1}):
        vocabulary = IdVocabulary(ids={name: [] for name in wrong}, min_count=wrong)
        with pytest.raises(ValueError, match="id vocabulary: counted for"):
            vocabulary.check(features)


def test_the_history_takes_the_candidate_features_vocabulary_on_the_item_table():
    assert vocabulary_sources(_features()) == {
        "viewer_id": "viewer_id", "codes": "codes", "root_object_id": "root_object_id",
        "history_items": "root_object_id", "history_candidate": "root_object_id"}
    # the candidate feature on another table than history.item_table: the history stays hashed
    assert "history_items" not in vocabulary_sources(_features(candidate_table="member"))
    # no id feature of the candidate field: hashed
    assert "history_items" not in vocabulary_sources(_features(history_candidate="other_id"))


def test_doctests():
    import doctest

    from lirank_tf.transform import vocabulary
    assert doctest.testmod(vocabulary).attempted > 0 and doctest.testmod(vocabulary).failed == 0
