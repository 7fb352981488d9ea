"""Set-wise attention over the candidates of one request (LiGR-style joint scoring)."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from lirank_tf.layers.validation import check_positive_int, check_rate

_NEG = -1e9


@keras.saving.register_keras_serializable(package="lirank_tf")
class SetwiseAttention(keras.layers.Layer):
    """Candidates of one request attend to each other (and to their member's history).

    Each row of the batch is one candidate with a group id (the request, session or member
    it is ranked with). Per layer, with pre-norm ("learned normalization": LayerNorm with
    learned scale and offset) and residual connections::

        z_i   = LN_1(x_i)
        keys  = {z_j : group_j == group_i}  U  {P h_it : t a valid history step of i}
        x_i  <- x_i + W_o MHA(q = W_q z_i, k = W_k keys, v = W_v keys)
        x_i  <- x_i + FFN(LN_2(x_i)),    FFN(u) = W_2 relu(W_1 u + b_1) + b_2

    A candidate always sees itself, so a group of one is well defined; candidates of other
    groups never interact (the output of a group is the same whatever else is in the
    batch), and the output is equivariant to the order of the rows. The score of an item
    thereby depends on the set it is ranked in, as in LiGR's simultaneous set-wise
    scoring, which lets a model learn diversity (a second near-duplicate of a liked item
    is worth less). Cost: O(B^2) scores for a batch of B rows, computed without
    materialising a [B, B, d] tensor.

    Training uses the same group ids as serving (e.g. the session id in the Feed data):
    rows of a group that share a batch attend to each other; for full sets keep the rows
    of a group together when batching (no record-level shuffle across groups).

    Inputs (``call(items, groups, history=None, history_mask=None)``):
        items: float [B, d] candidate representations.
        groups: int or string ids [B] (or [B, 1]).
        history: optional float [B, T, d_h] per-candidate history tokens (projected to d).
        history_mask: optional bool [B, T], True at valid steps (default: all valid).

    Args:
        num_heads: int, default 2. Attention heads.
        key_dim: int or None (default ``max(1, d // num_heads)``). Width of a head.
        ffn_multiplier: int, default 2. FFN hidden width = ``ffn_multiplier * d``.
        num_layers: int, default 1. Stacked set-wise blocks (weights not shared).
        dropout: float in [0, 1), default 0. On attention weights and residual branches.
        layer_norm_epsilon: float > 0, default 1e-6.

    Example:
        >>> import numpy as np
        >>> layer = SetwiseAttention(num_heads=2)
        >>> items = np.random.default_rng(0).normal(size=(5, 8)).astype("float32")
        >>> groups = np.array([7, 7, 7, 9, 9])          # two requests: 3 and 2 candidates
        >>> tuple(layer(items, groups).shape)
        (5, 8)

    References: LiGR (arXiv:2502.03417): transformer ranking with learned normalization and
    simultaneous set-wise attention to user history and ranked items; LiRank §3.7 (history).
    """

    def __init__(self, num_heads: int = 2, key_dim: int | None = None, ffn_multiplier: int = 2,
                 num_layers: int = 1, dropout: float = 0.0, layer_norm_epsilon: float = 1e-6,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.key_dim = None if key_dim is None else check_positive_int("key_dim", key_dim)
        self.ffn_multiplier = check_positive_int("ffn_multiplier", ffn_multiplier)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.dropout = check_rate("dropout", dropout)
        if isinstance(layer_norm_epsilon, bool) or not isinstance(layer_norm_epsilon, (int, float)) \
                or not layer_norm_epsilon > 0:
            raise ValueError(f"layer_norm_epsilon must be a number > 0, got {layer_norm_epsilon!r}")
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.supports_masking = False

    def build(self, items_shape, groups_shape=None, history_shape=None, history_mask_shape=None):
        width = items_shape[-1]
        if width is None:
            raise ValueError("SetwiseAttention needs a known last dimension of items")
        self.width = int(width)
        heads, key_dim = self.num_heads, self.key_dim or max(1, self.width // self.num_heads)
        self._key_dim = key_dim
        self.blocks = []
        for index in range(self.num_layers):
            def weight(name, shape, init="glorot_uniform"):
                return self.add_weight(name=f"layer{index}_{name}", shape=shape, initializer=init)
            block = {
                "query": weight("query", (self.width, heads, key_dim)),
                "key": weight("key", (self.width, heads, key_dim)),
                "value": weight("value", (self.width, heads, key_dim)),
                "output": weight("output", (heads, key_dim, self.width)),
                "ffn_in": weight("ffn_in", (self.width, self.ffn_multiplier * self.width)),
                "ffn_in_bias": weight("ffn_in_bias", (self.ffn_multiplier * self.width,), "zeros"),
                "ffn_out": weight("ffn_out", (self.ffn_multiplier * self.width, self.width)),
                "ffn_out_bias": weight("ffn_out_bias", (self.width,), "zeros"),
            }
            for norm in ("norm1", "norm2"):
                block[f"{norm}_scale"] = weight(f"{norm}_scale", (self.width,), "ones")
                block[f"{norm}_offset"] = weight(f"{norm}_offset", (self.width,), "zeros")
            self.blocks.append(block)
        self.history_projection = None
        if history_shape is not None:
            self.history_projection = self.add_weight(
                name="history_projection", shape=(int(history_shape[-1]), self.width),
                initializer="glorot_uniform")
        self.attention_dropout = keras.layers.Dropout(self.dropout)
        self.residual_dropout = keras.layers.Dropout(self.dropout)
        self.built = True

    def _norm(self, x, block, name):
        mean = ops.mean(x, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
        normed = (x - mean) * ops.rsqrt(variance + self.layer_norm_epsilon)
        return normed * block[f"{name}_scale"] + block[f"{name}_offset"]

    def _attend(self, z, same_group, history, history_mask, block, training):
        scale = 1.0 / math.sqrt(self._key_dim)
        query = ops.einsum("bd,dhk->bhk", z, block["query"]) * scale
        item_keys = ops.einsum("bd,dhk->bhk", z, block["key"])
        item_values = ops.einsum("bd,dhk->bhk", z, block["value"])
        scores = ops.einsum("bhk,chk->bhc", query, item_keys)                # [B, H, B]
        scores = ops.where(same_group[:, None, :], scores, _NEG)
        if history is not None:
            history_keys = ops.einsum("btd,dhk->bthk", history, block["key"])
            history_values = ops.einsum("btd,dhk->bthk", history, block["value"])
            history_scores = ops.einsum("bhk,bthk->bht", query, history_keys)  # [B, H, T]
            history_scores = ops.where(history_mask[:, None, :], history_scores, _NEG)
            scores = ops.concatenate([scores, history_scores], axis=-1)
        weights = self.attention_dropout(ops.softmax(scores, axis=-1), training=training)
        batch = ops.shape(z)[0]
        mixed = ops.einsum("bhc,chk->bhk", weights[..., :batch], item_values)
        if history is not None:
            mixed = mixed + ops.einsum("bht,bthk->bhk", weights[..., batch:], history_values)
        return ops.einsum("bhk,hkd->bd", mixed, block["output"])

    def call(self, items, groups, history=None, history_mask=None, training=None):
        x = ops.convert_to_tensor(items)
        groups = ops.reshape(groups, (-1,))
        same_group = ops.equal(groups[:, None], groups[None, :])
        projected = None
        if history is not None:
            if self.history_projection is None:
                raise ValueError("SetwiseAttention was built without history; call it with "
                                 "history on its first call to use history")
            projected = ops.einsum("btd,de->bte", ops.convert_to_tensor(history),
                                   self.history_projection)
            if history_mask is None:
                history_mask = ops.ones(ops.shape(projected)[:2], dtype="bool")
            history_mask = ops.cast(history_mask, "bool")
        for block in self.blocks:
            attended = self._attend(self._norm(x, block, "norm1"), same_group, projected,
                                    history_mask, block, training)
            x = x + self.residual_dropout(attended, training=training)
            hidden = ops.relu(ops.matmul(self._norm(x, block, "norm2"), block["ffn_in"])
                              + block["ffn_in_bias"])
            ffn = ops.matmul(hidden, block["ffn_out"]) + block["ffn_out_bias"]
            x = x + self.residual_dropout(ffn, training=training)
        return x

    def compute_output_shape(self, items_shape, *args):
        return tuple(items_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(num_heads=self.num_heads, key_dim=self.key_dim,
                      ffn_multiplier=self.ffn_multiplier, num_layers=self.num_layers,
                      dropout=self.dropout, layer_norm_epsilon=self.layer_norm_epsilon)
        return config
