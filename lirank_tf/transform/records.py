"""Model inputs and probabilities of Avro-like records: the raw request of
`lirank_tf.data.records` through the transformation model (LiRank §4.3)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from lirank_tf.data.raw_features import RawField
from lirank_tf.data.records import records_to_request


def model_inputs(records: Sequence[dict], fields: Sequence[RawField], transform) -> dict:
    """The ranking model's inputs for ``records``: their serving request (`records_to_request`)
    through the transformation model ``transform``."""
    request = records_to_request(records, fields)
    return transform({k: tf.constant(v) for k, v in request.items()})


def record_probabilities(model, transform, fields: Sequence[RawField], records: Sequence[dict],
                         tasks: Sequence[str], batch_size: int = 2048) -> dict[str, np.ndarray]:
    """``{task: probability [n]}`` (float64) of ``model`` on ``records``, ``batch_size`` at a
    time, in record order."""
    outputs: dict[str, list] = {t: [] for t in tasks}
    for start in range(0, len(records), batch_size):
        predicted = model(model_inputs(records[start:start + batch_size], fields, transform),
                          training=False)
        for task in tasks:
            outputs[task].append(np.asarray(predicted[task], np.float64).reshape(-1))
    return {t: np.concatenate(v) if v else np.zeros(0) for t, v in outputs.items()}
