"""Warm-up requests: the export warms up at load, in TF Serving and in Python.

The first call of a loaded signature optimises its graph (Grappler) and allocates its
buffers, which took 3-5 s for the Feed model; a ranker must not make a member's first
request pay for that. ``write_warmup_requests`` puts TF Serving's warm-up file,
``assets.extra/tf_serving_warmup_requests``, into the SavedModel: a TFRecord file of
``tensorflow.serving.PredictionLog`` protos (a ``PredictLog`` whose ``PredictRequest`` names
the signature and carries its inputs), one per signature and batch size (default 1 and
100), built from real rows (e.g. the first records of the run's training files). Stock
TF Serving replays them while loading the model, before it serves.
``load_export`` does the same for Python: it loads the SavedModel and replays the file,
so the first user request runs on optimised graphs.

The protos are written and read by hand (the protobuf wire format of the four messages
involved, field numbers of ``tensorflow_serving/apis/{prediction_log,predict,model}.proto``)
so neither the export nor the loader needs ``tensorflow-serving-api``, whose wheel depends
on the ``tensorflow`` distribution; the tests parse the file with it when it is installed
(``pip install --no-deps tensorflow-serving-api==2.16.1``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.protobuf import saved_model_pb2

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.avro_file import read_records
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.data.records import (records_to_candidates_request, records_to_examples,
                                    records_to_request)

WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
WARMUP_BATCH_SIZES = (1, 100)
_LOG = logging.getLogger(__name__)

# Field numbers (tensorflow_serving/apis): PredictionLog.predict_log = 6,
# PredictLog.request = 1, PredictRequest.model_spec = 1, PredictRequest.inputs = 2 (a map:
# entries with key = 1, value = 2), ModelSpec.signature_name = 3.
_PREDICT_LOG, _REQUEST, _MODEL_SPEC, _INPUTS, _SIGNATURE_NAME = 6, 1, 1, 2, 3
_LENGTH_DELIMITED = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _fields(data: bytes) -> list[tuple[int, bytes]]:
    """``(field number, payload)`` of the length-delimited fields of a message (other wire
    types are skipped)."""
    fields, position = [], 0
    while position < len(data):
        tag, position = _read_varint(data, position)
        wire_type = tag & 7
        if wire_type == _LENGTH_DELIMITED:
            size, position = _read_varint(data, position)
            fields.append((tag >> 3, data[position:position + size]))
            position += size
        elif wire_type == 0:
            _, position = _read_varint(data, position)
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
        else:
            raise ValueError(f"warm-up record: unsupported protobuf wire type {wire_type}")
    return fields


def prediction_log(signature_name: str, inputs: dict[str, np.ndarray]) -> bytes:
    """A serialized ``PredictionLog`` holding a ``PredictRequest`` of ``inputs`` to
    ``signature_name``."""
    entries = b"".join(
        _field(_INPUTS, _field(1, name.encode()) +
               _field(2, tf.make_tensor_proto(value).SerializeToString()))
        for name, value in sorted(inputs.items()))
    request = _field(_MODEL_SPEC, _field(_SIGNATURE_NAME, signature_name.encode())) + entries
    return _field(_PREDICT_LOG, _field(_REQUEST, request))


def parse_prediction_log(record: bytes) -> tuple[str, dict[str, np.ndarray]]:
    """``(signature name, inputs)`` of a serialized ``PredictionLog`` written by
    `prediction_log`."""
    log = dict(_fields(record))
    if _PREDICT_LOG not in log:
        raise ValueError("warm-up record: not a PredictionLog with a predict_log")
    request = _fields(dict(_fields(log[_PREDICT_LOG]))[_REQUEST])
    signature, inputs = "serving_default", {}
    for number, payload in request:
        if number == _MODEL_SPEC:
            spec = dict(_fields(payload))
            signature = spec.get(_SIGNATURE_NAME, b"serving_default").decode() or signature
        elif number == _INPUTS:
            entry = dict(_fields(payload))
            inputs[entry[1].decode()] = tf.make_ndarray(tensor_pb2.TensorProto.FromString(entry[2]))
    return signature, inputs


def signature_inputs(export_dir: str | Path) -> dict[str, list[str]]:
    """``{signature name: input names}`` of a SavedModel, read from its ``saved_model.pb``."""
    saved = saved_model_pb2.SavedModel.FromString(
        (Path(export_dir) / "saved_model.pb").read_bytes())
    signatures = saved.meta_graphs[0].signature_def
    return {name: sorted(signatures[name].inputs) for name in sorted(signatures)
            if not name.startswith("__")}


def training_records(config: ExperimentConfig, limit: int = max(WARMUP_BATCH_SIZES)) -> list[dict]:
    """Up to ``limit`` records from the start of ``config``'s training files (none when the
    config names no training file or its files are gone)."""
    paths = sorted({path for pattern in config.data.train for path in tf.io.gfile.glob(pattern)})
    records: list[dict] = []
    for path in paths:
        records.extend(read_records(path, limit=limit - len(records)))
        if len(records) >= limit:
            break
    return records


def warmup_requests(config: ExperimentConfig, signatures: dict[str, list[str]],
                    records: Sequence[dict],
                    batch_sizes: Sequence[int] = WARMUP_BATCH_SIZES) -> list[tuple[str, dict]]:
    """``(signature, inputs)`` for every signature and batch size: the first ``size`` of
    ``records`` (fewer when there are fewer). ``serve_candidates`` gets the first record's
    history as the member's; a scalar input beside the raw features (``serve_explore``'s
    ``seed``) is 0."""
    fields = raw_fields(config)
    names = {field.name for field in fields}
    requests = []
    for size in sorted({min(size, len(records)) for size in batch_sizes} - {0}):
        rows = list(records[:size])
        for signature, inputs in signatures.items():
            if inputs == ["examples"]:
                request = {"examples": np.array(records_to_examples(rows, fields), dtype=object)}
            elif signature == "serve_candidates":
                request = records_to_candidates_request(rows[0], rows, fields,
                                                        config.features.history)
            elif names <= set(inputs):
                request = records_to_request(rows, fields)
                request.update({name: np.array(0, np.int64) for name in set(inputs) - names})
            else:
                _LOG.warning("warm-up: no request for signature %s (inputs %s)", signature,
                             inputs)
                continue
            requests.append((signature, request))
    return requests


def write_warmup_requests(export_dir: str | Path, config: ExperimentConfig,
                          records: Sequence[dict] | None = None,
                          batch_sizes: Sequence[int] = WARMUP_BATCH_SIZES) -> Path | None:
    """Writes ``EXPORT/assets.extra/tf_serving_warmup_requests`` for every signature of the
    SavedModel at ``export_dir`` and every batch size.

    Args:
        export_dir: a SavedModel written by `lirank_tf.serving.export_serving_model` (or the
            explore / root-object exports).
        config: its experiment config.
        records: raw rows (Avro-like dicts); None (default): the first records of
            ``config.data.train`` (`training_records`).
        batch_sizes: rows per request, default (1, 100).

    Returns:
        The file's path, or None (with a warning) when there is no record to build from
        (``config.data.train`` empty, gone or unreadable: the export is still written).
    """
    if records is None:
        try:
            records = training_records(config, max(batch_sizes))
        except Exception as error:  # noqa: BLE001 - the export must not fail for its warm-up
            _LOG.warning("warm-up: cannot read training records (%s: %s); %s has no %s",
                         type(error).__name__, error, export_dir, WARMUP_FILE)
            return None
    records = list(records)
    if not records:
        _LOG.warning("warm-up: no training record to build warm-up requests from (data.train "
                     "of the config is empty or gone); %s has no %s", export_dir, WARMUP_FILE)
        return None
    path = Path(export_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, inputs in warmup_requests(config, signature_inputs(export_dir), records,
                                                 batch_sizes):
            writer.write(prediction_log(signature, inputs))
    return path


def read_warmup_requests(export_dir: str | Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``(signature, inputs)`` of every record of the export's warm-up file ([] if none)."""
    path = Path(export_dir) / WARMUP_FILE
    if not path.exists():
        return []
    return [parse_prediction_log(record.numpy())
            for record in tf.data.TFRecordDataset(str(path))]


def load_export(export_dir: str | Path, warmup: bool = True):
    """Loads a serving SavedModel (``tf.saved_model.load``) and, with ``warmup`` (default),
    replays its warm-up requests through the signatures they name, so the first request
    served is not the one that optimises the graphs.

    Example:
        ``served = load_export("runs/first/export");
        served.signatures["serving_default"](**request)``
    """
    loaded = tf.saved_model.load(str(export_dir))
    if warmup:
        for signature, inputs in read_warmup_requests(export_dir):
            loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return loaded
