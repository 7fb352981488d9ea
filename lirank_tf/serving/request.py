"""Deprecated home of the records -> inputs helpers (kept for one release).

They moved to `lirank_tf.data.records` (``records_to_request``, ``records_to_examples``,
``records_to_candidates_request``) and `lirank_tf.transform.records` (``model_inputs``,
``record_probabilities``); import them from there.
"""

from __future__ import annotations

import warnings

from lirank_tf.data.records import (records_to_candidates_request, records_to_examples,
                                    records_to_request)
from lirank_tf.transform.records import model_inputs, record_probabilities

warnings.warn("lirank_tf.serving.request is deprecated: import records_to_request, "
              "records_to_examples and records_to_candidates_request from lirank_tf.data.records"
              " and model_inputs, record_probabilities from lirank_tf.transform.records",
              DeprecationWarning, stacklevel=2)

__all__ = ["model_inputs", "record_probabilities", "records_to_candidates_request",
           "records_to_examples", "records_to_request"]
