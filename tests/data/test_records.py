"""`lirank_tf.data.records`: records -> the serving request, tf.Examples and the one-member
candidates request, checked value by value against TensorFlow's own Example parser and
against the records themselves."""

from __future__ import annotations

import importlib
import sys
import warnings

import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.config import HistoryConfig
from lirank_tf.data.raw_features import RawField
from lirank_tf.data.records import (records_to_candidates_request, records_to_examples,
                                    records_to_request)

FIELDS = [RawField("member", "string"), RawField("item", "int"),
          RawField("tags", "string_list"), RawField("history", "int_list"),
          RawField("score", "float"), RawField("vector", "float_vector", 2)]
RECORDS = [
    {"member": "m1", "item": 7, "tags": ["a", "b", "c"], "history": [3], "score": 0.5,
     "vector": [1.0, -2.0]},
    {"member": None, "item": None, "tags": None, "history": [], "score": None, "vector": None},
    {"member": "m2", "item": 9, "tags": ["d"], "history": [4, 5], "score": -1.25,
     "vector": [0.25, 8.0]},
]


def test_request_pads_lists_and_marks_absent_values():
    request = records_to_request(RECORDS, FIELDS)
    assert request["member"].tolist() == ["m1", "", "m2"]
    assert request["item"].dtype == np.int64 and request["item"].tolist() == [7, -1, 9]
    assert request["tags"].tolist() == [["a", "b", "c"], ["", "", ""], ["d", "", ""]]
    assert request["history"].tolist() == [[3, -1], [-1, -1], [4, 5]]
    score = request["score"]
    assert score.dtype == np.float32 and score[0] == 0.5 and np.isnan(score[1]) and score[2] == -1.25
    vector = request["vector"]
    assert vector.shape == (3, 2) and np.isnan(vector[1]).all()
    np.testing.assert_array_equal(vector[[0, 2]], np.float32([[1.0, -2.0], [0.25, 8.0]]))


def test_request_of_no_list_values_has_width_zero():
    request = records_to_request([{"tags": []}, {"tags": None}], [RawField("tags", "string_list")])
    assert request["tags"].shape == (2, 0)


def test_examples_parse_back_to_the_records():
    parsed = tf.io.parse_example(records_to_examples(RECORDS, FIELDS), {
        "member": tf.io.VarLenFeature(tf.string), "item": tf.io.VarLenFeature(tf.int64),
        "tags": tf.io.VarLenFeature(tf.string), "history": tf.io.VarLenFeature(tf.int64),
        "score": tf.io.VarLenFeature(tf.float32), "vector": tf.io.VarLenFeature(tf.float32)})
    for name, feature in parsed.items():
        rows = tf.RaggedTensor.from_sparse(feature).to_list()
        for record, row in zip(RECORDS, rows):
            value = record[name]
            expected = [] if value is None else value if isinstance(value, list) else [value]
            if name in ("member", "tags"):
                row = [v.decode() for v in row]
            if name in ("score", "vector"):
                assert row == pytest.approx(expected), (name, record, row)
            else:
                assert row == expected, (name, record, row)


def test_candidates_request_takes_the_history_from_the_member_only():
    history = HistoryConfig(item_field="history", action_field="tags")
    request = records_to_candidates_request(RECORDS[0], RECORDS[1:], FIELDS, history)
    assert request["history"].tolist() == [[3]]
    assert request["tags"].tolist() == [["a", "b", "c"]]
    assert request["item"].tolist() == [-1, 9]
    assert request["member"].tolist() == ["", "m2"]


def test_the_old_serving_request_module_is_a_deprecated_alias():
    sys.modules.pop("lirank_tf.serving.request", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("lirank_tf.serving.request")
    assert any(issubclass(w.category, DeprecationWarning) and "lirank_tf.data.records" in
               str(w.message) for w in caught)
    from lirank_tf.transform.records import model_inputs, record_probabilities
    assert old.records_to_request is records_to_request
    assert old.records_to_examples is records_to_examples
    assert old.model_inputs is model_inputs and old.record_probabilities is record_probabilities
