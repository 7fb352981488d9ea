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

    Computation: per layer, history and candidate tokens share one fused q/k/v ``MatMul``
    (the history keys and values feed both attentions), and each group's keys and values
    become block-diagonal matrices over the heads, so scores and mixing of all heads are one
    ``MatMul`` each with no transpose of candidate-sized tensors. Training batches use the
    grouping above directly (no gather); at inference one distinct member uses 2-D
    ``MatMul`` on its blocks, several gather each candidate's member blocks.
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

    def _matrices(self, layer: int):
        """Layer ``layer``'s attention weights as matrices for one ``MatMul`` each: the fused
        query/key/value kernel [D, 3*H*K] and bias (query part scaled by ``1/sqrt(K)``), the
        output kernel [H*K, D] and bias. The variables keep their [D, H, K] / [H, K, D]
        shapes, so checkpoints and saved models of earlier versions load unchanged."""
        weights = self.attention_weights[layer]
        heads, key_dim = weights["query_bias"].shape
        scale = 1.0 / math.sqrt(key_dim)
        kernel = tf.concat([weights["query_kernel"] * scale, weights["key_kernel"],
                            weights["value_kernel"]], axis=1)
        bias = tf.concat([weights["query_bias"] * scale, weights["key_bias"],
                          weights["value_bias"]], axis=0)
        return (tf.reshape(kernel, [self.token_dim, 3 * heads * key_dim]),
                tf.reshape(bias, [3 * heads * key_dim]),
                tf.reshape(weights["output_kernel"], [heads * key_dim, self.token_dim]),
                weights["output_bias"])

    def _head_blocks(self, key, value, mask):
        """History keys and values, rows [G * T, H*K], as block-diagonal matrices per group:
        keys [G, H*K, H*T] and values [G, H*T, H*K], block ``h`` holding head ``h``. One
        batched ``MatMul`` then scores every head of many queries at once and mixes the
        values straight into [.., H*K] rows: no transpose of query-sized tensors."""
        groups, steps = tf.shape(mask)[0], tf.shape(mask)[1]
        width = key.shape[-1]
        key = tf.reshape(key, tf.stack([groups, steps, width]))
        value = tf.reshape(value, tf.stack([groups, steps, width]))
        head_of_column = tf.range(width) // (width // self.num_heads)
        head_of_step = tf.repeat(tf.range(self.num_heads), steps)
        block = tf.cast(tf.equal(head_of_column[:, None], head_of_step[None, :]), key.dtype)
        key_blocks = tf.tile(tf.transpose(key, [0, 2, 1]), [1, 1, self.num_heads]) * block
        value_blocks = tf.tile(value, [1, self.num_heads, 1]) * tf.transpose(block)
        return key_blocks, value_blocks

    def _attend(self, query, key_blocks, value_blocks, mask, training, self_key=None,
                self_value=None):
        """Attention of query rows [G * L, H*K] (L per group, already scaled) over the valid
        steps of their group (``_head_blocks``; mask [G, T]) and, when ``self_key`` and
        ``self_value`` [G * L, H*K] are given, over themselves. Returns rows [G * L, H*K].
        Blocks of one group given without the group axis ([H*K, H*T], [H*T, H*K]) use
        2-D ``MatMul`` (about 3x faster on CPU than a batched one of batch 1)."""
        heads, width, steps = self.num_heads, query.shape[-1], tf.shape(mask)[1]
        if key_blocks.shape.rank == 2:
            scores = tf.matmul(query, key_blocks)                            # [L, H*T]
            valid = mask[:1, None, :]
            lead = tf.shape(query)[:1]
        else:
            groups = tf.shape(mask)[0]
            lead = tf.stack([groups, tf.shape(query)[0] // tf.maximum(groups, 1)])
            scores = tf.matmul(tf.reshape(query, tf.concat([lead, [width]], 0)), key_blocks)
            valid = mask[:, None, None, :]
        scores = tf.reshape(scores, tf.concat([lead, [heads, steps]], 0))
        scores = tf.where(valid, scores, scores.dtype.min)
        if self_key is not None:
            self_scores = tf.reduce_sum(tf.reshape(query, [-1, heads, width // heads])
                                        * tf.reshape(self_key, [-1, heads, width // heads]), -1)
            scores = tf.concat([scores, tf.reshape(self_scores, tf.concat([lead, [heads, 1]], 0))],
                               axis=-1)
        probabilities = self.attention_dropout(tf.nn.softmax(scores), training=training)
        history_probabilities = probabilities[..., :-1] if self_key is not None else probabilities
        mixed = tf.reshape(tf.matmul(
            tf.reshape(history_probabilities, tf.concat([lead, [heads * steps]], 0)),
            value_blocks), [-1, width])
        if self_key is not None:
            self_mixed = tf.reshape(probabilities[..., -1:], [-1, heads, 1]) * tf.reshape(
                self_value, [-1, heads, width // heads])
            mixed += tf.reshape(self_mixed, [-1, width])
        return mixed

    def _layer(self, tokens, history_rows, mask, member_of, layer, training):
        """One Transformer layer over ``tokens`` [U * T + B, D]: the history rows first (U
        members, T steps), then the B candidates. Candidate ``i`` reads history row
        ``member_of[i]``; ``member_of`` None means candidates grouped by history row. The
        history keys and values are computed once and read by both attentions."""
        qkv_kernel, qkv_bias, output_kernel, output_bias = self._matrices(layer)
        projected = tf.nn.bias_add(tf.matmul(tokens, qkv_kernel), qkv_bias)
        query, key, value = tf.split(projected[:history_rows], 3, axis=1)
        candidate_query, self_key, self_value = tf.split(projected[history_rows:], 3, axis=1)
        key_blocks, value_blocks = self._head_blocks(key, value, mask)

        def attention(key_blocks, value_blocks, candidate_blocks=None):
            """Mixed rows of history and candidates; ``candidate_blocks``: the candidates'
            (keys, values, mask) when they differ from the history's."""
            history_mixed = self._attend(query, key_blocks, value_blocks, mask, training)
            candidate_mixed = self._attend(
                candidate_query, *(candidate_blocks or (key_blocks, value_blocks, mask)),
                training, self_key, self_value)
            return tf.concat([history_mixed, candidate_mixed], axis=0)

        if member_of is None:
            mixed = attention(key_blocks, value_blocks)
        else:
            # one distinct member (a request's usual case): 2-D MatMuls on its blocks, read
            # by every candidate without a copy; several: each candidate gathers its own
            mixed = tf.cond(
                tf.equal(tf.shape(mask)[0], 1),
                lambda: attention(key_blocks[0], value_blocks[0]),
                lambda: attention(key_blocks, value_blocks, (
                    tf.gather(key_blocks, member_of), tf.gather(value_blocks, member_of),
                    tf.gather(mask, member_of))))
        attended = tf.nn.bias_add(tf.matmul(mixed, output_kernel), output_bias)
        tokens = self.attention_norms[layer](
            tokens + self.residual_dropout(attended, training=training))
        feed_forward = self.ffn_output_layers[layer](self.ffn_hidden_layers[layer](tokens))
        return self.ffn_norms[layer](
            tokens + self.residual_dropout(feed_forward, training=training))

    def _history_tokens(self, item_embeddings, actions, mask):
        """Tokens [M, T, D] ``concat(item_t, action_t)`` (action ids embedded, padding -> 0)."""
        if self.num_actions is not None:
            actions = self.action_embedding(tf.where(mask, tf.cast(actions, tf.int32), 0))
        return tf.concat([item_embeddings, tf.cast(actions, item_embeddings.dtype)], -1)

    def _distinct_histories(self, item_embeddings, actions, mask):
        """``(first row of each distinct history [U], index [M] of each row among them)``:
        rows with equal items, actions (ids at padding positions ignored) and mask are
        encoded once (exact: equal inputs, equal states)."""
        rows = tf.shape(mask)[0]
        key_dtype = tf.int64 if item_embeddings.dtype.size == 8 else tf.int32

        def row_bits(values):
            if values.dtype.is_floating:
                values = tf.bitcast(values, {2: tf.int16, 4: tf.int32,
                                             8: tf.int64}[values.dtype.size])
            return tf.reshape(tf.cast(values, key_dtype), [rows, -1])

        if self.num_actions is not None:
            actions = tf.where(mask, tf.cast(actions, key_dtype), 0)
        keys = tf.concat([row_bits(item_embeddings), row_bits(actions), row_bits(mask)], axis=1)
        distinct, index = tf.raw_ops.UniqueV2(x=keys, axis=[0], out_idx=tf.int32)
        first = tf.math.unsorted_segment_min(tf.range(rows), index, tf.shape(distinct)[0])
        return first, index

    def call(self, item_embeddings, actions, candidate_embedding, mask, training=None):
        mask = tf.cast(mask, tf.bool)
        members = tf.shape(mask)[0]
        rows = tf.shape(candidate_embedding)[0]
        per_member = rows // tf.maximum(members, 1)
        tf.debugging.assert_equal(
            members * per_member, rows,
            message="candidate_embedding rows must be a multiple of the history rows "
                    "(M == B: one candidate per history; M == 1: one member's candidates)")
        member_of = None  # training: candidate rows grouped by history row, none skipped
        if not training:
            # Inference: every distinct history of the batch is encoded once (a request of
            # one member's N candidates, sent row by row, encodes one history, not N).
            first, distinct = self._distinct_histories(item_embeddings, actions, mask)
            item_embeddings, actions, mask = (tf.gather(x, first)
                                              for x in (item_embeddings, actions, mask))
            member_of = tf.gather(distinct, tf.range(rows) // tf.maximum(per_member, 1))
        history = self._history_tokens(item_embeddings, actions, mask)
        marker = tf.broadcast_to(tf.cast(self.candidate_action, history.dtype),
                                 [rows, self.candidate_action.shape[0]])
        candidates = tf.concat([tf.cast(candidate_embedding, history.dtype), marker], -1)
        history_rows = tf.shape(history)[0] * tf.shape(history)[1]
        tokens = tf.concat([tf.reshape(history, [history_rows, self.token_dim]), candidates], 0)
        for layer in range(self.num_layers):
            tokens = self._layer(tokens, history_rows, mask, member_of, layer, training)
        history = tf.reshape(tokens[:history_rows], tf.shape(history))
        member_parts = [self._max_pool(history, mask)]
        if self.last_steps:
            member_parts.append(self._last_steps(history, mask))
        member_summary = tf.concat(member_parts, -1)
        if member_of is None:
            width = member_summary.shape[-1]
            member_summary = tf.reshape(tf.broadcast_to(
                member_summary[:, None, :], tf.stack([members, per_member, width])), [rows, width])
        else:
            member_summary = tf.gather(member_summary, member_of)
        return tf.concat([tokens[history_rows:], member_summary], -1)

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
