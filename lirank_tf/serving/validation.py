"""In-graph checks of a serving request: a bad request fails with a message naming the feature.

A loaded signature checks the presence and the dtype of its inputs (TensorFlow raises a
``TypeError`` naming a missing or unknown input, and an ``InvalidArgumentError`` "input #i
(zero-based) was expected to be a float tensor but is a int64 tensor" for a wrong dtype, where
``i`` is the input's index in the alphabetical list of input names) but not their shapes:
TF Serving and ``loaded.signatures[...]`` feed any shape to the graph. The checks here run
before anything else in every signature, so a wrong shape or an inconsistent request gets
an ``InvalidArgumentError`` (TF Serving: ``INVALID_ARGUMENT``) naming the feature, instead of
an error from deep inside the transformation or a silently wrong score. The serving process
keeps running either way.

Documented defaults, not errors: an empty history (zero steps, or only ``""`` items) gives
the history block's empty-history output (zeros for the pooled parts); a NaN, +inf or -inf
numeric value takes the feature's configured default, and a finite one beyond the feature's
training range is clipped to it (the transformation model does both,
``lirank_tf.transform.normalization``); an empty id (``""``) embeds to zeros.
"""

from __future__ import annotations

import tensorflow as tf

from lirank_tf.config import HistoryConfig


def check_shapes(raw: dict, specs: dict[str, tf.TensorSpec]) -> dict:
    """Every input with its declared shape (``tf.ensure_shape``, a runtime check); the error
    reads "Shape of tensor NAME [..] is not compatible with expected shape [..]"."""
    return {name: tf.ensure_shape(raw[name], spec.shape) for name, spec in specs.items()}


def rows(tensor) -> tf.Tensor:
    """The number of rows (leading dimension) of a dense or ragged tensor, int32."""
    if isinstance(tensor, tf.RaggedTensor):
        return tf.cast(tensor.nrows(), tf.int32)
    return tf.shape(tensor)[0]


def same_rows_checks(raw: dict, reference: str, names: list[str]) -> list:
    """Assertions that every feature in ``names`` has as many rows as ``reference``."""
    return [tf.debugging.assert_equal(
        rows(raw[name]), rows(raw[reference]),
        message=f"request: feature {name} must have one row per candidate, as {reference} "
                f"has (x = rows of {name}, y = rows of {reference})")
        for name in names if name != reference]


def history_checks(raw: dict, history: HistoryConfig) -> list:
    """Assertions: one action type per history item, each in ``[0, num_action_types)`` where
    there is an item (action types at padding positions are ignored)."""
    items, actions = raw[history.item_field], raw[history.action_field]
    item_name, action_name = history.item_field, history.action_field
    if isinstance(items, tf.RaggedTensor):  # parsed tf.Examples: both ragged
        aligned = tf.debugging.assert_equal(
            actions.row_lengths(), items.row_lengths(),
            message=f"request: {action_name} must hold one action type per item of "
                    f"{item_name}")
    else:
        aligned = tf.debugging.assert_equal(
            tf.shape(actions), tf.shape(items),
            message=f"request: {action_name} must have the shape of {item_name} (one "
                    "action type per history item, padded alike)")
    with tf.control_dependencies(_ops([aligned])):
        if isinstance(items, tf.RaggedTensor):
            present, values = tf.ones_like(actions.flat_values, tf.bool), actions.flat_values
        else:
            present, values = tf.not_equal(items, ""), actions
        in_range = tf.logical_and(values >= 0, values < history.num_action_types)
        valid = tf.debugging.assert_equal(
            tf.reduce_all(tf.logical_or(in_range, tf.logical_not(present))), True,
            message=f"request: {action_name} must be in [0, {history.num_action_types}) "
                    f"wherever {item_name} has an item")
    return [aligned, valid]


def after_checks(raw: dict, checks: list) -> dict:
    """``raw`` with every tensor made to depend on ``checks``: nothing computed from it runs
    before the checks have passed."""
    with tf.control_dependencies(_ops(checks)):
        return {name: tf.nest.map_structure(tf.identity, value, expand_composites=True)
                for name, value in raw.items()}


def _ops(checks: list) -> list:
    return [check for check in checks if check is not None]
