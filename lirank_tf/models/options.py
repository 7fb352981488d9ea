"""Per-block hyper-parameters of the ranking models, read from ``ModelConfig.options``.

``options`` maps a block name to keyword arguments of that block; missing keys take the
defaults below, unknown blocks or keys raise ``ConfigError`` naming them::

    model:
      options:
        transact: {num_heads: 2, last_steps: 5}
        sparse_moe: {top_k: 2}

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
    "transact": {"num_heads": 2, "num_layers": 2, "ffn_dim": None, "key_dim": None,
                 "last_steps": 5, "dropout": 0.0, "action_embedding_dim": 8},
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
    return {key: value for key, value in options.items() if value is not None}
