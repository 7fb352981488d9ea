"""Amortized history scoring: one member's history, N candidates, one pass.

A model whose history block is an ``AmortizedHistoryEncoder`` (built from a config with
``model.options.transact.candidate_fusion: append``, see ``lirank_tf.models.history``, and
trained as usual) can score all the candidates of a member with the history encoded once: the ``serve_candidates`` signature takes the
member's history with one row and the N candidates' features with N rows, and feeds the
ranking model history inputs of one row next to candidate inputs of N rows, which the
encoder broadcasts (candidates cross-attend to the shared history states). The scores are
those of ``serving_default`` with the history repeated on every row.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lirank_tf.config import HistoryConfig
from lirank_tf.layers.amortized_history import AmortizedHistoryEncoder
from lirank_tf.layers.transact import TransActEncoder
from lirank_tf.serving.validation import rows


def has_amortized_history(model: keras.Model) -> bool:
    """True if a top-level layer of ``model`` is an ``AmortizedHistoryEncoder``."""
    return any(isinstance(layer, AmortizedHistoryEncoder) for layer in model.layers)


def with_amortized_history(model: keras.Model) -> keras.Model:
    """``model``'s architecture with its ``TransActEncoder`` replaced by an
    ``AmortizedHistoryEncoder`` of the same hyper-parameters, all weights fresh (train it).
    Building the model from its config with ``candidate_fusion: append`` gives the same.

    The two encoders take the same inputs; the amortized one appends the candidate as a
    separate item instead of concatenating it to every history step, which is what makes
    encoding the history once exact.

    Raises:
        ValueError: ``model`` has no ``TransActEncoder`` at its top level.
    """
    if not any(isinstance(layer, TransActEncoder) for layer in model.layers):
        raise ValueError(f"model {model.name!r} has no TransActEncoder history block "
                         "(model.history_encoder is off?)")

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, TransActEncoder):
            return AmortizedHistoryEncoder.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


def member_candidates_checks(raw: dict, history: HistoryConfig) -> list:
    """Assertions: the history fields hold one row (the member); every other feature holds
    one row per candidate (as ``history.candidate_field``) or one row shared by all."""
    history_fields = (history.item_field, history.action_field)
    checks = [tf.debugging.assert_equal(
        rows(raw[name]), 1,
        message=f"request: {name} must hold the member history in exactly one row "
                "(serve_candidates scores the candidates of one member)")
        for name in history_fields]
    count = rows(raw[history.candidate_field])
    for name in sorted(set(raw) - set(history_fields) - {history.candidate_field}):
        checks.append(tf.debugging.assert_equal(
            tf.logical_or(tf.equal(rows(raw[name]), count), tf.equal(rows(raw[name]), 1)), True,
            message=f"request: feature {name} must have one row per candidate (as "
                    f"{history.candidate_field}) or a single row shared by all candidates"))
    return checks


def broadcast_to_candidates(raw: dict, history: HistoryConfig) -> dict:
    """Single-row candidate features repeated to the number of candidates; history as is."""
    count = rows(raw[history.candidate_field])
    result = {}
    for name, value in raw.items():
        if name in (history.item_field, history.action_field):
            result[name] = value
        else:
            result[name] = tf.broadcast_to(value, tf.concat([[count], tf.shape(value)[1:]], 0))
    return result
