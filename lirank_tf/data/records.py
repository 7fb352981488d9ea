"""Avro-like records (dicts, as fastavro and `lirank_tf.data.avro_file` read them) as raw
inputs: the dense, padded request of the ``serving_default`` signature, the serialized
``tf.Example``s of ``serve_examples`` and the one-member request of ``serve_candidates``.

The one home of "records -> raw inputs" outside the training pipeline (which reads Avro
files into tensors with the C++ op or fastavro, `lirank_tf.data.avro_pipeline`): the
evaluation and explore replays, the export warm-up, the demo and the tests build their
inputs here. `lirank_tf.transform.records` turns them into model inputs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from lirank_tf.config import HistoryConfig
from lirank_tf.data.raw_features import RawField


def records_to_request(records: Sequence[dict], fields: Sequence[RawField]) -> dict[str, np.ndarray]:
    """The ``serving_default`` inputs for ``records`` (lists padded with ``""`` / -1; an absent
    or None value is ``""``, an empty list, or NaN, which the export replaces by the
    feature's default, as it does +-inf)."""
    request = {}
    for field in fields:
        values = [record.get(field.name) for record in records]
        if field.kind == "string":
            request[field.name] = np.array(["" if v is None else v for v in values], dtype=object)
        elif field.kind == "int":
            request[field.name] = np.array([-1 if v is None else v for v in values], dtype=np.int64)
        elif field.kind in ("string_list", "int_list"):
            width = max([len(v or []) for v in values] + [0])
            pad = "" if field.kind == "string_list" else -1
            rows = [list(v or []) + [pad] * (width - len(v or [])) for v in values]
            dtype = object if field.kind == "string_list" else np.int64
            request[field.name] = np.array(rows, dtype=dtype).reshape(len(records), width)
        elif field.kind == "float_vector":
            rows = [[np.nan] * field.size if v is None else v for v in values]
            request[field.name] = np.array(rows, dtype=np.float32).reshape(len(records), field.size)
        else:
            request[field.name] = np.array([np.nan if v is None else v for v in values], dtype=np.float32)
    return request


def records_to_examples(records: Sequence[dict], fields: Sequence[RawField]) -> list[bytes]:
    """Serialized ``tf.Example``s of ``records`` for the ``serve_examples`` signature."""
    examples = []
    for record in records:
        feature = {}
        for field in fields:
            value = record.get(field.name)
            if value is None:
                continue
            if field.kind == "string":
                feature[field.name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
            elif field.kind == "int":
                feature[field.name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
            elif field.kind == "string_list":
                feature[field.name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in value]))
            elif field.kind == "int_list":
                feature[field.name] = tf.train.Feature(int64_list=tf.train.Int64List(value=list(value)))
            else:
                floats = list(value) if isinstance(value, (list, tuple)) else [float(value)]
                feature[field.name] = tf.train.Feature(float_list=tf.train.FloatList(value=floats))
        examples.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return examples


def records_to_candidates_request(member: dict, candidates: Sequence[dict], fields: Sequence[RawField],
                                  history: HistoryConfig) -> dict[str, np.ndarray]:
    """The ``serve_candidates`` inputs: ``member``'s history in one row, every other feature
    from ``candidates`` (one row each)."""
    history_names = {history.item_field, history.action_field}
    request = records_to_request(candidates, [f for f in fields if f.name not in history_names])
    request.update(records_to_request([member], [f for f in fields if f.name in history_names]))
    return request
