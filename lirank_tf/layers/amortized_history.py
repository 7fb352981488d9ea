"""Amortized member-history encoder: candidates appended to the history as separate items."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from lirank_tf.layers.validation import check_positive_int, check_rate


@keras.saving.register_keras_serializable(package="lirank_tf")
class AmortizedHistoryEncoder(keras.layers.Layer):
    """Member history encoded once; each candidate cross-attends to it as an appended item.

    History steps are tokens ``h_t = concat(item_t, action_t)``; every candidate ``i`` is
    appended to the sequence as an item of its own, ``c_i = concat(candidate_i, a)`` with a
    learned "candidate" action vector ``a``. One Transformer (post-norm, shared weights)
    runs over the sequence ``[h_1 .. h_T, c_1 .. c_N]`` with a block attention mask:
    history tokens attend to the valid history steps only, candidate ``i`` to the valid
    history steps and to itself (never to another candidate)::

        per layer:  H   <- LN(H + MHA(H, keys = H[valid]));      H   <- LN(H + FFN(H))
                    c_i <- LN(c_i + MHA(c_i, keys = [H[valid], c_i]))
                    c_i <- LN(c_i + FFN(c_i))        (H: the states entering the layer)
        out_i = concat(c_i, max_{t valid} H_t, H_last, H_last-1, ..., H_last-k+1)

    No history token sees a candidate, so the history states are the same for every
    candidate: they are computed once per member and each candidate costs one query row
    (M-FALCON-style amortized inference). Output width: ``(last_steps + 2) * D`` with
    ``D = d_item + d_action``; an empty history gives zeros in the pooled and last-step
    parts (the candidate then attends to itself only). The time axis runs from oldest to
    newest; valid steps may be left- or right-aligned (no positional encoding).

    Batches: history inputs have ``M`` rows and candidates ``B = M * n`` rows grouped by
    member (candidate rows ``m*n .. m*n + n - 1`` belong to history row ``m``). ``M == B``
    is the usual one-candidate-per-row path; ``M == 1`` scores all ``B`` candidates of one
    member with the history encoded once. Both give the same outputs for the same pairs.
    At inference (``training`` falsy) equal history rows are encoded once: a batch of one
    member's N candidates sent row by row (``M == B``, as TF Serving's Predict clients
    send them) costs one history encoding, a batch mixing K members K.
    Call signature and constructor arguments are those of ``TransActEncoder``, so the
    model's history block can use either.

    Inputs (``call(item_embeddings, actions, candidate_embedding, mask)``):
        item_embeddings: float [M, T, d_item].
        actions: int ids [M, T] in [0, num_actions) when ``num_actions`` is set (ids at
            padding positions are ignored), otherwise float embeddings [M, T, d_action].
        candidate_embedding: float [B, d_item] (the candidate lives in the item space).
        mask: bool [M, T], True at real history steps.

    Args:
        num_heads: int, attention heads, default 2.
        num_layers: int, Transformer layers, default 2.
        ffn_dim: int or None (default): feed-forward width; None means ``D // 2``.
        key_dim: int or None (default): per-head width; None means ``max(1, D // num_heads)``.
        last_steps: int >= 0, most recent history states flattened into the output,
            default 5.
        num_actions: int or None (default): action vocabulary size; when set the layer owns
            an action embedding table and ``actions`` are ids.
        action_embedding_dim: int, width of that action table, default 8.
        dropout: float in [0, 1), on attention weights and residual branches, default 0.
        layer_norm_epsilon: float > 0, default 1e-6.

    Example:
        >>> encoder = AmortizedHistoryEncoder(num_heads=2, last_steps=3, num_actions=4,
        ...                                   action_embedding_dim=4)
        >>> items = tf.random.normal([1, 25, 8]); actions = tf.zeros([1, 25], tf.int32)
        >>> mask = tf.sequence_mask([20], 25); candidates = tf.random.normal([100, 8])
        >>> tuple(encoder(items, actions, candidates, mask).shape)  # 100 x (3 + 2) * (8 + 4)
        (100, 60)

    References: LiRank §3.7 (history modelling); arXiv:2412.06924 (WWW'25: the candidate
    appended as a separate item with cross-attention, amortized history inference);
    arXiv:2502.03417 (LiGR: single-pass processing of user history); M-FALCON (Zhai et
    al. 2024, "Actions speak louder than words").
    """

    def __init__(self, num_heads: int = 2, num_layers: int = 2, ffn_dim: int | None = None,
                 key_dim: int | None = None, last_steps: int = 5,
                 num_actions: int | None = None, action_embedding_dim: int = 8,
                 dropout: float = 0.0, layer_norm_epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.ffn_dim = None if ffn_dim is None else check_positive_int("ffn_dim", ffn_dim)
        self.key_dim = None if key_dim is None else check_positive_int("key_dim", key_dim)
        if isinstance(last_steps, bool) or not isinstance(last_steps, int) or last_steps < 0:
            raise ValueError(f"last_steps must be an int >= 0, got {last_steps!r}")
        self.last_steps = last_steps
        self.num_actions = (None if num_actions is None
                            else check_positive_int("num_actions", num_actions))
        self.action_embedding_dim = check_positive_int("action_embedding_dim",
                                                       action_embedding_dim)
        self.dropout = check_rate("dropout", dropout)
        if isinstance(layer_norm_epsilon, bool) or not isinstance(
                layer_norm_epsilon, (int, float)) or not layer_norm_epsilon > 0:
            raise ValueError(f"layer_norm_epsilon must be a number > 0, got "
                             f"{layer_norm_epsilon!r}")
        self.layer_norm_epsilon = float(layer_norm_epsilon)

    def build(self, item_embeddings_shape, actions_shape, candidate_embedding_shape,
              mask_shape=None) -> None:
        item_dim, candidate_dim = item_embeddings_shape[-1], candidate_embedding_shape[-1]
        if item_dim is None or candidate_dim is None:
            raise ValueError("item_embeddings and candidate_embedding must have a known last "
                             f"dimension, got {tuple(item_embeddings_shape)} and "
                             f"{tuple(candidate_embedding_shape)}")
        if item_dim != candidate_dim:
            raise ValueError("candidate_embedding must have the width of the item embeddings "
                             f"(it is appended as an item), got {candidate_dim} != {item_dim}")
        if self.num_actions is None:
            if len(actions_shape) != 3 or actions_shape[-1] is None:
                raise ValueError("actions must be float embeddings [batch, T, d_action] when "
                                 f"num_actions is None, got shape {tuple(actions_shape)}")
            action_dim = int(actions_shape[-1])
        else:
            action_dim = self.action_embedding_dim
            self.action_embedding = keras.layers.Embedding(
                self.num_actions, action_dim, name="action_embedding")
            self.action_embedding.build(actions_shape)
        self.token_dim = width = int(item_dim) + action_dim
        heads, key_dim = self.num_heads, self.key_dim or max(1, width // self.num_heads)
        self.candidate_action = self.add_weight(
            name="candidate_action", shape=(action_dim,),
            initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.attention_weights = []
        self.ffn_hidden_layers, self.ffn_output_layers = [], []
        self.attention_norms, self.ffn_norms = [], []
        for i in range(self.num_layers):
            weights = {}
            for part in ("query", "key", "value"):
                weights[f"{part}_kernel"] = self.add_weight(
                    name=f"attention_{i}_{part}_kernel", shape=(width, heads, key_dim),
                    initializer="glorot_uniform")
                weights[f"{part}_bias"] = self.add_weight(
                    name=f"attention_{i}_{part}_bias", shape=(heads, key_dim),
                    initializer="zeros")
            weights["output_kernel"] = self.add_weight(
                name=f"attention_{i}_output_kernel", shape=(heads, key_dim, width),
                initializer="glorot_uniform")
            weights["output_bias"] = self.add_weight(
                name=f"attention_{i}_output_bias", shape=(width,), initializer="zeros")
            self.attention_weights.append(weights)
            hidden = keras.layers.Dense(self.ffn_dim or max(1, width // 2), activation="relu",
                                        name=f"ffn_hidden_{i}")
            hidden.build((None, width))
            output = keras.layers.Dense(width, name=f"ffn_output_{i}")
            output.build((None, hidden.units))
            self.ffn_hidden_layers.append(hidden)
            self.ffn_output_layers.append(output)
            for norms, kind in ((self.attention_norms, "attention"), (self.ffn_norms, "ffn")):
                norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon,
                                                       name=f"{kind}_norm_{i}")
                norm.build((None, width))
                norms.append(norm)
        self.attention_dropout = keras.layers.Dropout(self.dropout)
        self.residual_dropout = keras.layers.Dropout(self.dropout)

    def _project(self, tokens: tf.Tensor, layer: int, part: str) -> tf.Tensor:
        weights = self.attention_weights[layer]
        return tf.einsum("...d,dhk->...hk", tokens, weights[f"{part}_kernel"]) \
            + weights[f"{part}_bias"]

    def _output(self, mixed: tf.Tensor, layer: int) -> tf.Tensor:
        weights = self.attention_weights[layer]
        return tf.einsum("...hk,hkd->...d", mixed, weights["output_kernel"]) \
            + weights["output_bias"]

    def _block(self, tokens, attended, layer, training):
        """Residual + norm around attention, then around the feed-forward network."""
        tokens = self.attention_norms[layer](
            tokens + self.residual_dropout(attended, training=training))
        feed_forward = self.ffn_output_layers[layer](self.ffn_hidden_layers[layer](tokens))
        return self.ffn_norms[layer](
            tokens + self.residual_dropout(feed_forward, training=training))

    def _history_layer(self, history, mask, layer, training):
        """Self-attention of the history tokens [M, T, D] over their valid steps."""
        query, key, value = (self._project(history, layer, part)
                             for part in ("query", "key", "value"))
        scale = 1.0 / math.sqrt(query.shape[-1])
        scores = tf.einsum("mqhk,mthk->mhqt", query, key) * scale
        scores = tf.where(mask[:, None, None, :], scores, scores.dtype.min)
        probabilities = self.attention_dropout(tf.nn.softmax(scores), training=training)
        mixed = tf.einsum("mhqt,mthk->mqhk", probabilities, value)
        return self._block(history, self._output(mixed, layer), layer, training)

    def _candidate_layer(self, candidates, history, mask, member_of, layer, training):
        """Cross-attention of candidates [B, D] to their member's valid history (the states
        [U, T, D] entering the layer, row ``member_of[i]`` for candidate ``i``) and to
        themselves; ``mask`` [B, T] is the mask of each candidate's member."""
        query, self_key, self_value = (self._project(candidates, layer, part)
                                       for part in ("query", "key", "value"))
        key, value = self._project(history, layer, "key"), self._project(history, layer, "value")
        key, value = tf.gather(key, member_of), tf.gather(value, member_of)
        scale = 1.0 / math.sqrt(query.shape[-1])
        history_scores = tf.einsum("bhk,bthk->bht", query, key) * scale
        history_scores = tf.where(mask[:, None, :], history_scores, history_scores.dtype.min)
        self_scores = tf.reduce_sum(query * self_key, axis=-1, keepdims=True) * scale
        probabilities = tf.nn.softmax(tf.concat([history_scores, self_scores], axis=-1))
        probabilities = self.attention_dropout(probabilities, training=training)
        mixed = tf.einsum("bht,bthk->bhk", probabilities[..., :-1], value) \
            + probabilities[..., -1:] * self_value
        return self._block(candidates, self._output(mixed, layer), layer, training)

    @staticmethod
    def _distinct_histories(history: tf.Tensor, mask: tf.Tensor):
        """``(distinct rows of history, their masks, index [M] of each row among them)``:
        rows with the same tokens and mask are encoded once (exact: equal inputs, equal
        states)."""
        rows = tf.shape(history)[0]
        bits = tf.bitcast(history, {2: tf.int16, 4: tf.int32, 8: tf.int64}[history.dtype.size])
        key_dtype = tf.int64 if history.dtype.size == 8 else tf.int32
        keys = tf.concat([tf.reshape(tf.cast(bits, key_dtype), [rows, -1]),
                          tf.cast(mask, key_dtype)], axis=1)
        distinct, index = tf.raw_ops.UniqueV2(x=keys, axis=[0], out_idx=tf.int32)
        first = tf.math.unsorted_segment_min(tf.range(rows), index, tf.shape(distinct)[0])
        return tf.gather(history, first), tf.gather(mask, first), index

    def call(self, item_embeddings, actions, candidate_embedding, mask, training=None):
        mask = tf.cast(mask, tf.bool)
        if self.num_actions is not None:
            actions = self.action_embedding(tf.where(mask, tf.cast(actions, tf.int32), 0))
        history = tf.concat([item_embeddings, tf.cast(actions, item_embeddings.dtype)], -1)
        members = tf.shape(history)[0]
        rows = tf.shape(candidate_embedding)[0]
        per_member = rows // tf.maximum(members, 1)
        tf.debugging.assert_equal(
            members * per_member, rows,
            message="candidate_embedding rows must be a multiple of the history rows "
                    "(M == B: one candidate per history; M == 1: one member's candidates)")
        marker = tf.broadcast_to(tf.cast(self.candidate_action, history.dtype),
                                 [rows, self.candidate_action.shape[0]])
        candidates = tf.concat([tf.cast(candidate_embedding, history.dtype), marker], -1)
        # candidate i belongs to history row i // per_member
        member_of = tf.range(rows) // tf.maximum(per_member, 1)
        if not training:
            # Inference: every distinct history of the batch is encoded once (a request of
            # one member's N candidates, sent row by row, encodes one history, not N).
            history, mask, distinct = self._distinct_histories(history, mask)
            member_of = tf.gather(distinct, member_of)
        candidate_mask = tf.gather(mask, member_of)
        for layer in range(self.num_layers):
            # both from the history states entering this layer
            candidates = self._candidate_layer(candidates, history, candidate_mask, member_of,
                                               layer, training)
            history = self._history_layer(history, mask, layer, training)
        member_parts = [self._max_pool(history, mask)]
        if self.last_steps:
            member_parts.append(self._last_steps(history, mask))
        member_summary = tf.gather(tf.concat(member_parts, -1), member_of)
        return tf.concat([candidates, member_summary], -1)

    @staticmethod
    def _max_pool(tokens: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        pooled = tf.reduce_max(tf.where(mask[..., None], tokens, tokens.dtype.min), axis=1)
        return tf.where(tf.reduce_any(mask, axis=1, keepdims=True), pooled,
                        tf.zeros_like(pooled))

    def _last_steps(self, tokens: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """The ``last_steps`` most recent valid states, newest first, zeros where missing."""
        members = tf.shape(tokens)[0]
        tokens = tf.concat([tf.zeros([members, self.last_steps, self.token_dim], tokens.dtype),
                            tokens], axis=1)
        mask = tf.concat([tf.zeros([members, self.last_steps], tf.bool), mask], axis=1)
        recency = tf.where(mask, tf.range(tf.shape(mask)[1])[None, :], -1)
        latest, positions = tf.math.top_k(recency, k=self.last_steps, sorted=True)
        selected = tf.gather(tokens, positions, axis=1, batch_dims=1)
        selected = tf.where((latest >= 0)[..., None], selected, tf.zeros_like(selected))
        return tf.reshape(selected, [members, self.last_steps * self.token_dim])

    def compute_output_shape(self, item_embeddings_shape, actions_shape,
                             candidate_embedding_shape, mask_shape=None) -> tuple:
        action_dim = (self.action_embedding_dim if self.num_actions is not None
                      else actions_shape[-1])
        width = (self.last_steps + 2) * (item_embeddings_shape[-1] + action_dim)
        return (candidate_embedding_shape[0], width)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads, "num_layers": self.num_layers,
            "ffn_dim": self.ffn_dim, "key_dim": self.key_dim, "last_steps": self.last_steps,
            "num_actions": self.num_actions, "action_embedding_dim": self.action_embedding_dim,
            "dropout": self.dropout, "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config
