"""The member-history block (LiRank §3.7): TransAct, the amortized encoder, or a mean.

Inputs (from the transformation model): ``history_items`` / ``history_actions`` ``[batch, T]``
right-aligned, ``history_mask`` (1.0 at real steps) and ``history_candidate`` (the item being
scored). Items and the candidate are embedded with the history item table, so the candidate
lives in the space of the history items.

* ``model.history_encoder`` with ``options.transact.candidate_fusion: early`` (the block's
  default): ``TransActEncoder`` on concat(item, action, candidate) tokens (early fusion),
  2-layer Transformer, max-pool + last 5 steps.
* ``model.history_encoder`` with ``candidate_fusion: append`` (the Feed experiment's
  default): ``AmortizedHistoryEncoder``, the same hyper-parameters; the candidate is
  appended to the history as a separate item that cross-attends to it, so the history
  states do not depend on the candidate. Trained like the early-fusion model (one
  candidate per row); at inference every distinct history of a batch is encoded once (a
  ``serving_default`` request of one member's N candidates encodes one history), and the
  export also has the ``serve_candidates`` signature, which takes the history in one row
  (``lirank_tf.serving.amortized``).
* otherwise: the mean of (item + action) embeddings over real steps, concatenated with the
  candidate embedding.

Both encoders are named ``transact`` in the model.
"""

from __future__ import annotations

import keras

from lirank_tf.config import HistoryConfig, ModelConfig
from lirank_tf.layers.amortized_history import AmortizedHistoryEncoder
from lirank_tf.layers.transact import TransActEncoder
from lirank_tf.models.options import block_options
from lirank_tf.models.pooling import MaskedPooling

HISTORY_ENCODERS = {"early": TransActEncoder, "append": AmortizedHistoryEncoder}


def history_vector(inputs: dict, history: HistoryConfig, tables: dict,
                   model: ModelConfig) -> keras.KerasTensor:
    """The history summary ``[batch, width]`` of the model's history block."""
    item_table = tables[history.item_table]
    items, _ = item_table(inputs["history_items"])
    candidate, _ = item_table(inputs["history_candidate"])
    mask = inputs["history_mask"]
    if model.history_encoder:
        options = block_options(model, "transact")
        action_dim = options.pop("action_embedding_dim")
        encoder = HISTORY_ENCODERS[options.pop("candidate_fusion")]
        actions = keras.layers.Embedding(history.num_action_types, action_dim,
                                         name="history_action_embedding")(inputs["history_actions"])
        return encoder(**options, name="transact")(items, actions, candidate, mask)
    actions = keras.layers.Embedding(history.num_action_types, item_table.embedding_dim,
                                     name="history_action_embedding")(inputs["history_actions"])
    steps = keras.layers.Add(name="history_steps")([items, actions])
    pooled = MaskedPooling("mean", name="history_mean")(steps, mask)
    return keras.layers.Concatenate(name="history_summary")([pooled, candidate])
