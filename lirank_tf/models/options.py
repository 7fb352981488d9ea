"""Per-block hyper-parameters of the ranking models, read from ``ModelConfig.options``.

``options`` maps a block name to keyword arguments of that block; missing keys take the
defaults below, unknown blocks or keys raise ``ConfigError`` naming them, and so does a value
outside the choices of a key that has them (``BLOCK_CHOICES``)::

    model:
      options:
        transact: {num_heads: 2, last_steps: 5, candidate_fusion: append}
        sparse_moe: {top_k: 2}

``transact.candidate_fusion`` picks how the member-history block meets the candidate
(``lirank_tf.models.history``): ``early`` (default) is TransAct's early fusion, the candidate
concatenated to every history step (LiRank §3.7); ``append`` is the amortized history
encoder, the candidate appended as a separate item that cross-attends to the history, which
is what lets the ``serve_candidates`` signature of the export encode a member's history once
for N candidates (``lirank_tf.serving.amortized``).

    >>> from lirank_tf.config import ModelConfig
    >>> block_options(ModelConfig(options={"sparse_moe": {"top_k": 1}}), "sparse_moe")["top_k"]
    1
"""

from __future__ import annotations

from typing import Any

from lirank_tf.config import ConfigError, ModelConfig

# block -> {key: default}; a default of None means "let the layer choose".
BLOCK_OPTIONS: dict[str, dict[str, Any]] = {
    # TransActEncoder (§3.7); action_embedding_dim is the width of the model's action table.
    # candidate_fusion: "early" (TransActEncoder) or "append" (AmortizedHistoryEncoder).
    "transact": {"num_heads": 2, "num_layers": 2, "ffn_dim": None, "key_dim": None,
                 "last_steps": 5, "dropout": 0.0, "action_embedding_dim": 8,
                 "candidate_fusion": "early"},
    # AttentionLowRankCross branch of ResidualDCN (§3.3).
    "residual_dcn": {"temperature": 1.0, "attention_skip": True},
    # DenseGate of every hidden layer (§3.5).
    "gating": {"gate_granularity": "bit"},
    "mmoe": {"expert_units": [64]},
    "ple": {"num_levels": 2, "num_shared_experts": 2, "num_task_experts": 1, "expert_units": [64]},
    # SparseMoE after the MLP (§3.5); output width = the MLP's last width.
    "sparse_moe": {"top_k": 2, "expert_units": [64], "noisy_gating": True,
                   "importance_weight": 0.01, "load_weight": 0.01},
    # ParallelMaskNet before the interaction block (Pinterest MaskNet + DCNv2).
    "masknet": {"output_dim": 256, "num_blocks": 3, "block_output_dim": 128,
                "projection_ratio": 2.0},
    # IsotonicCalibration of every head (§3.4).
    "isotonic": {"lower": -8.0, "upper": 8.0, "step": 0.5},
    # SetwiseAttention over the rows of a model.setwise_group before the task heads (LiGR).
    "setwise": {"num_heads": 2, "num_layers": 1, "ffn_multiplier": 2, "key_dim": None,
                "dropout": 0.0},
}

# block -> {key: the values it may take}, for keys that choose between model parts (keys
# passed on to a layer are checked by the layer).
BLOCK_CHOICES: dict[str, dict[str, tuple]] = {
    "transact": {"candidate_fusion": ("early", "append")},
}


def block_options(model: ModelConfig, block: str) -> dict[str, Any]:
    """The keyword arguments of ``block``: its defaults updated with ``model.options[block]``."""
    unknown_blocks = sorted(set(model.options) - set(BLOCK_OPTIONS))
    if unknown_blocks:
        raise ConfigError(f"model.options: unknown block(s) {unknown_blocks}; "
                          f"blocks: {sorted(BLOCK_OPTIONS)}")
    given = model.options.get(block) or {}
    if not isinstance(given, dict):
        raise ConfigError(f"model.options.{block}: expected a mapping, got {given!r}")
    unknown = sorted(set(given) - set(BLOCK_OPTIONS[block]))
    if unknown:
        raise ConfigError(f"model.options.{block}: unknown key(s) {unknown}; "
                          f"valid keys: {sorted(BLOCK_OPTIONS[block])}")
    options = {**BLOCK_OPTIONS[block], **given}
    for key, choices in BLOCK_CHOICES.get(block, {}).items():
        if options[key] not in choices:
            raise ConfigError(f"model.options.{block}.{key}: unknown value {options[key]!r}; "
                              f"choices: {list(choices)}")
    return {key: value for key, value in options.items() if value is not None}
