"""TransAct member-history encoder: early fusion + 2-layer Transformer + max-pool/last-k."""

from __future__ import annotations

import keras
import tensorflow as tf

from lirank_tf.layers.validation import check_positive_int, check_rate


@keras.saving.register_keras_serializable(package="lirank_tf")
class TransActEncoder(keras.layers.Layer):
    """Encodes a member's action history against the candidate item (TransAct).

    Each history step ``t`` becomes a token by early fusion with the candidate ``c``, and
    the tokens go through ``num_layers`` post-norm Transformer encoder layers with a
    padding mask::

        x_t = concat(item_t, action_t, c)                           # width D
        x   = LayerNorm(x + MultiHeadAttention(x, x, mask))         # per layer
        x   = LayerNorm(x + W2 relu(W1 x + b1) + b2)                # W1: D -> ffn_dim
        out = concat(max_{t valid} x_t, x_{last}, x_{last-1}, ..., x_{last-k+1})

    ``ffn_dim`` defaults to ``D // 2`` (the paper's half-width feed-forward network). The
    output has width ``(last_steps + 1) * D``.

    Time order and alignment: the time axis runs from oldest (index 0) to newest. The
    valid steps (``mask`` True) may be left-aligned (padding at the end, what the input
    pipeline produces) or right-aligned (padding at the start): the layer has no
    positional encoding and finds the last steps from the mask, so both give the same
    output. Output slot 1 of the flattened steps is the most recent valid step, slot 2
    the one before, and so on; slots without a step (histories shorter than
    ``last_steps``) are zeros, and an empty history gives an all-zero output (no NaN).
    Any history length works (the paper uses 25 to 100, Table 9).

    Inputs (``call(item_embeddings, actions, candidate_embedding, mask)``):
        item_embeddings: float [batch, T, d_item].
        actions: int ids [batch, T] in [0, num_actions) when ``num_actions`` is set
            (ids at padding positions are ignored), otherwise float embeddings
            [batch, T, d_action].
        candidate_embedding: float [batch, d_candidate].
        mask: bool [batch, T], True at real history steps.

    Args:
        num_heads: int, attention heads, default 2.
        num_layers: int, Transformer encoder layers, default 2.
        ffn_dim: int or None (default): hidden width of the feed-forward network;
            None means ``D // 2``.
        key_dim: int or None (default): per-head width; None means
            ``max(1, D // num_heads)``.
        last_steps: int, number of most recent steps flattened into the output, default 5.
        num_actions: int or None (default): size of the action vocabulary; when set the
            layer owns an action embedding table and ``actions`` are ids.
        action_embedding_dim: int, width of the action embedding, default 8 (used only
            with ``num_actions``).
        dropout: float in [0, 1), dropout on attention weights and residual branches,
            default 0.
        layer_norm_epsilon: float, default 1e-6.

    Example:
        >>> encoder = TransActEncoder(num_heads=2, last_steps=5, num_actions=4,
        ...                           action_embedding_dim=4)
        >>> items = tf.random.normal([3, 25, 8]); candidate = tf.random.normal([3, 4])
        >>> actions = tf.zeros([3, 25], tf.int32); mask = tf.sequence_mask([25, 3, 0], 25)
        >>> tuple(encoder(items, actions, candidate, mask).shape)  # D = 8 + 4 + 4
        (3, 96)

    References: LiRank §3.7 and Table 9; Xia et al. 2023, TransAct (KDD'23).
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
        self.last_steps = check_positive_int("last_steps", last_steps)
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
        widths = {"item_embeddings": item_embeddings_shape[-1],
                  "candidate_embedding": candidate_embedding_shape[-1]}
        if self.num_actions is None:
            if len(actions_shape) != 3:
                raise ValueError("actions must be float embeddings [batch, T, d_action] when "
                                 f"num_actions is None, got shape {tuple(actions_shape)}")
            widths["actions"] = actions_shape[-1]
        else:
            widths["actions"] = self.action_embedding_dim
            self.action_embedding = keras.layers.Embedding(
                self.num_actions, self.action_embedding_dim, name="action_embedding")
            self.action_embedding.build(actions_shape)
        for name, width in widths.items():
            if width is None:
                raise ValueError(f"{name} must have a known last dimension")
        width = sum(int(w) for w in widths.values())
        self.token_dim = width
        ffn_dim = self.ffn_dim or max(1, width // 2)
        key_dim = self.key_dim or max(1, width // self.num_heads)
        token_shape = (None, None, width)
        self.attention_layers, self.attention_norms = [], []
        self.ffn_hidden_layers, self.ffn_output_layers, self.ffn_norms = [], [], []
        for i in range(self.num_layers):
            attention = keras.layers.MultiHeadAttention(
                self.num_heads, key_dim, dropout=self.dropout, name=f"attention_{i}")
            attention.build(token_shape, token_shape)
            hidden = keras.layers.Dense(ffn_dim, activation="relu", name=f"ffn_hidden_{i}")
            hidden.build(token_shape)
            output = keras.layers.Dense(width, name=f"ffn_output_{i}")
            output.build((None, None, ffn_dim))
            norms = []
            for kind in ("attention", "ffn"):
                norm = keras.layers.LayerNormalization(
                    epsilon=self.layer_norm_epsilon, name=f"{kind}_norm_{i}")
                norm.build(token_shape)
                norms.append(norm)
            self.attention_layers.append(attention)
            self.ffn_hidden_layers.append(hidden)
            self.ffn_output_layers.append(output)
            self.attention_norms.append(norms[0])
            self.ffn_norms.append(norms[1])
        self.residual_dropout = keras.layers.Dropout(self.dropout)

    def call(self, item_embeddings, actions, candidate_embedding, mask, training=None):
        mask = tf.cast(mask, tf.bool)
        if self.num_actions is not None:
            actions = self.action_embedding(tf.where(mask, tf.cast(actions, tf.int32), 0))
        steps = tf.shape(item_embeddings)[1]
        candidate = tf.repeat(candidate_embedding[:, None, :], steps, axis=1)
        tokens = tf.concat([item_embeddings, tf.cast(actions, item_embeddings.dtype),
                            tf.cast(candidate, item_embeddings.dtype)], axis=-1)
        attention_mask = tf.logical_and(mask[:, None, :], tf.ones_like(mask)[:, :, None])
        for i in range(self.num_layers):
            attended = self.attention_layers[i](
                tokens, tokens, attention_mask=attention_mask, training=training)
            tokens = self.attention_norms[i](
                tokens + self.residual_dropout(attended, training=training))
            feed_forward = self.ffn_output_layers[i](self.ffn_hidden_layers[i](tokens))
            tokens = self.ffn_norms[i](
                tokens + self.residual_dropout(feed_forward, training=training))
        return tf.concat([self._max_pool(tokens, mask), self._last_steps(tokens, mask)], -1)

    @staticmethod
    def _max_pool(tokens: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        lowest = tf.constant(tokens.dtype.min, tokens.dtype)
        pooled = tf.reduce_max(tf.where(mask[..., None], tokens, lowest), axis=1)
        return tf.where(tf.reduce_any(mask, axis=1, keepdims=True), pooled,
                        tf.zeros_like(pooled))

    def _last_steps(self, tokens: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        # Prepend last_steps empty steps so top_k always has enough candidates.
        batch = tf.shape(tokens)[0]
        tokens = tf.concat([tf.zeros([batch, self.last_steps, self.token_dim], tokens.dtype),
                            tokens], axis=1)
        mask = tf.concat([tf.zeros([batch, self.last_steps], tf.bool), mask], axis=1)
        positions = tf.range(tf.shape(mask)[1])[None, :]
        recency = tf.where(mask, positions, -1)
        latest, latest_positions = tf.math.top_k(recency, k=self.last_steps, sorted=True)
        selected = tf.gather(tokens, latest_positions, axis=1, batch_dims=1)
        selected = tf.where((latest >= 0)[..., None], selected, tf.zeros_like(selected))
        return tf.reshape(selected, [batch, self.last_steps * self.token_dim])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads, "num_layers": self.num_layers,
            "ffn_dim": self.ffn_dim, "key_dim": self.key_dim, "last_steps": self.last_steps,
            "num_actions": self.num_actions, "action_embedding_dim": self.action_embedding_dim,
            "dropout": self.dropout, "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config
